// The DHCPv4 server on the tap, as libslirp's (slirp4netns answers DHCP:
// a container that runs a DHCP client instead of --configure gets network+15,
// the gateway as router and server, the DNS address as resolver).
//
// Leases: dhcp_start, dhcp_start+1, ... (NetConfig::dhcp_leases of them),
// one per client hardware address (chaddr), kept until the client releases
// it; ferry does not expire them (nor does libslirp), the lease time sent
// (24 h) only tells clients when to renew.
//
// Messages (RFC 2131 section 4.3):
//   DISCOVER -> OFFER of the client's lease (the requested address if it is
//               free, else the first free one; none left: ignored, logged).
//   REQUEST  -> naming another server (option 54): the client chose it,
//               ignored. Else the address (option 50, else ciaddr when
//               renewing) is ACKed if it is, or can become, this client's
//               lease, otherwise NAKed. Neither given: the client's lease.
//   RELEASE  -> the lease is freed; no reply.
//   INFORM   -> ACK with the options only (RFC 2131 section 3.4).
//   DECLINE, plain BOOTP (no option 53), relayed (giaddr set), server
//   message types: ignored (counted as dhcp_ignored).
// Malformed messages are dropped as Drop::bad_dhcp (wire/dhcp4.hpp).
//
// Replies (RFC 2131 section 4.1, giaddr 0): NAK to 255.255.255.255 and
// Ethernet broadcast; to ciaddr when the client has one; to broadcast when
// the client sets the broadcast flag; else to yiaddr at chaddr. They carry
// a full UDP checksum: DHCP clients read raw frames, and some (ISC dhclient)
// do not understand checksum offload.
#pragma once

#include "netstack/core/context.hpp"
#include "netstack/wire/dhcp4.hpp"
#include "netstack/wire/ipv4.hpp"

#include <array>
#include <span>

namespace ferry::core {

class Dhcp4Server {
 public:
  static constexpr uint32_t kLeaseSeconds = 24 * 3600;
  static constexpr size_t kMaxLeases = 16;

  explicit Dhcp4Server(Context& ctx) : ctx_(ctx) {}

  // Whether a UDP datagram from the container is for this server: from port
  // 68 to port 67, to the broadcast address or to the gateway.
  static bool is_for_server(const NetConfig& cfg, wire::Ip4 dst, uint16_t sport, uint16_t dport) {
    return sport == wire::Dhcp4::kClientPort && dport == wire::Dhcp4::kServerPort &&
           (dst.is_broadcast() || dst == cfg.gateway);
  }
  // `msg` is the UDP payload.
  void on_message(std::span<const uint8_t> msg);

  // The address held by this hardware address, if any.
  bool test_lease_of(const wire::Mac& mac, wire::Ip4& out) const;

 private:
  struct Lease {
    bool used = false;
    wire::Mac mac;
  };
  size_t pool_size() const;
  bool usable(size_t slot) const;
  wire::Ip4 addr(size_t slot) const { return wire::Ip4(ctx_.cfg.dhcp_start.v + uint32_t(slot)); }
  int slot_of(wire::Ip4 a) const;   // -1 when a is not a usable pool address
  int find(const wire::Mac& mac) const;
  int allocate(const wire::Mac& mac, std::optional<wire::Ip4> wanted);
  bool can_have(const wire::Mac& mac, wire::Ip4 a) const;
  void bind(const wire::Mac& mac, size_t slot);

  void reply(const wire::Dhcp4& req, uint8_t type, wire::Ip4 yiaddr);

  Context& ctx_;
  std::array<Lease, kMaxLeases> leases_{};
  bool warned_full_ = false;
};

}  // namespace ferry::core
