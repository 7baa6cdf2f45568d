// A DHCPv6 server on the tap (RFC 8415), for containers whose DHCPv6 client
// asks rather than relying on SLAAC alone. The router advertisement sets the
// "managed" and "other configuration" flags, so such clients ask.
//
// Leases: guest6 (fd00::100, the address the API shows for the guest), then
// ::101, ... one per client DUID (16 at most), kept while ferry runs (the
// lifetimes sent, 24 h valid / 4 h preferred, only tell clients when to
// renew).
//
// Messages (client -> server, to ff02::1:2 or our addresses, port 547):
//   SOLICIT   -> ADVERTISE with the client's IA_NA address (or REPLY when the
//                client asked for Rapid Commit)
//   REQUEST, RENEW, REBIND -> REPLY with the address
//   CONFIRM   -> REPLY with status Success if its addresses are on our link
//   RELEASE   -> REPLY (status Success), lease freed
//   INFORMATION-REQUEST -> REPLY with the DNS server only
//   DECLINE, relay messages, server messages -> ignored (dhcp_ignored)
// Every reply carries the client's Client ID, our Server ID (DUID-LL of the
// gateway's MAC) and the DNS server option (fd00::3, unless DNS is off). A
// message naming another server, or without the options its type needs, is
// ignored; a malformed one (truncated header or option) is dropped as
// Drop::bad_dhcp. Replies leave from fe80::2 port 547 to the client's
// address and port, with a full UDP checksum.
#pragma once

#include "netstack/core/context.hpp"

#include <array>
#include <span>
#include <vector>

namespace ferry::core {

class Dhcp6Server {
 public:
  static constexpr uint16_t kClientPort = 546, kServerPort = 547;
  static constexpr uint32_t kValid = 86400, kPreferred = 14400;
  static constexpr size_t kMaxLeases = 16;

  explicit Dhcp6Server(Context& ctx) : ctx_(ctx) {}

  static bool is_for_server(const NetConfig& cfg, const wire::Ip6& dst, uint16_t sport, uint16_t dport) {
    wire::Ip6 agents = NetConfig::ip6_of(0xff02, 0x0002);
    agents.b[13] = 1;  // ff02::1:2, All_DHCP_Relay_Agents_and_Servers
    return sport == kClientPort && dport == kServerPort && (dst == agents || cfg.is_ours6(dst));
  }
  // `msg` is the UDP payload; `ip` its IP header (the reply goes to ip.src).
  void on_message(const L3& ip, uint16_t sport, std::span<const uint8_t> msg);

 private:
  struct Lease {
    bool used = false;
    std::vector<uint8_t> duid;
  };
  wire::Ip6 address_of(size_t i) const;
  int lease_for(std::span<const uint8_t> duid, bool create);

  Context& ctx_;
  std::array<Lease, kMaxLeases> leases_{};
};

}  // namespace ferry::core
