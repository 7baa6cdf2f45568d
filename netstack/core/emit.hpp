// Builds frames towards the container in one reusable buffer, in place:
// callers write the transport header and payload at l4(), then call
// send_ip() (or send_ipv4()), which fills the IP header, the Ethernet header,
// the virtio-net header (with checksum and segmentation offload when the tap
// has it) and hands the frame to the tap. The L4 offset is the same for both
// families, so a transport header and payload can be written before the
// family is known; the frame starts where its headers need it to:
//   IPv6: [0,10) virtio-net | [10,24) Ethernet | [24,64) IPv6 | [64,...) L4
//   IPv4: [20,30) virtio-net | [30,44) Ethernet | [44,64) IPv4 | [64,...) L4
// Without a virtio-net header the frame starts 10 bytes later.
#pragma once

#include "netstack/core/config.hpp"
#include "netstack/core/counters.hpp"
#include "netstack/core/host.hpp"
#include "netstack/wire/vnet.hpp"

#include <cstdint>
#include <vector>

namespace ferry::core {

class Emitter {
 public:
  static constexpr size_t kL4Off = 64, kIp4Off = 44, kIp6Off = 24;
  // Largest IPv4 datagram: 65535 bytes including its 20-byte header.
  static constexpr size_t kMaxL4 = 65535 - 20;

  Emitter(const NetConfig& cfg, TapOut& tap, Counters& counters, bool vnet);

  uint8_t* l4() { return buf_.data() + kL4Off; }
  bool vnet() const { return vnet_; }

  struct Opts {
    // Offset of the checksum field inside the L4 header (16 for TCP, 6 for
    // UDP, 2 for ICMP), or -1 when the L4 checksum is already final.
    int csum_field = -1;
    // With a virtio-net header: segment into gso_size-byte payloads (TCP),
    // `l4_hdr_len` bytes of L4 header repeated in each.
    uint16_t gso_size = 0;
    uint16_t l4_hdr_len = 0;
    // The Ethernet destination, when not the container's learnt MAC (DHCP
    // replies go to the client's chaddr or to broadcast).
    const wire::Mac* eth_dst = nullptr;
  };
  // Sends the IP datagram (IPv4 when the addresses are IPv4-mapped) whose L4
  // part (l4_len bytes) is at l4().
  void send_ip(const wire::Ip6& src, const wire::Ip6& dst, uint8_t proto, size_t l4_len, const Opts& o) {
    send_ip_from(buf_.data(), src, dst, proto, l4_len, o);
  }
  void send_ip_from(uint8_t* base, const wire::Ip6& src, const wire::Ip6& dst, uint8_t proto, size_t l4_len,
                    const Opts& o) {
    if (src.is_v4_mapped()) send_ipv4_from(base, src.v4(), dst.v4(), proto, l4_len, o);
    else send_ipv6_from(base, src, dst, proto, l4_len, o);
  }
  void send_ipv6_from(uint8_t* base, const wire::Ip6& src, const wire::Ip6& dst, uint8_t proto, size_t l4_len,
                      const Opts& o);
  // Sends the IPv4 datagram whose L4 part (l4_len bytes) is at l4().
  void send_ipv4(wire::Ip4 src, wire::Ip4 dst, uint8_t proto, size_t l4_len, const Opts& o) {
    send_ipv4_from(buf_.data(), src, dst, proto, l4_len, o);
  }
  // The same for a frame built in a caller's buffer with the same layout
  // (`base` as offset 0; at least kL4Off + l4_len bytes), so that batches of
  // received datagrams need no copy.
  void send_ipv4_from(uint8_t* base, wire::Ip4 src, wire::Ip4 dst, uint8_t proto, size_t l4_len, const Opts& o);
  // Sends an arbitrary Ethernet payload (ARP) of len bytes placed at eth_payload().
  uint8_t* eth_payload() { return buf_.data() + kIp4Off; }
  void send_eth(uint16_t ethertype, size_t len);

  void set_guest_mac(const wire::Mac& m) { guest_mac_ = m; have_guest_mac_ = true; }
  bool have_guest_mac() const { return have_guest_mac_; }
  const wire::Mac& guest_mac() const { return guest_mac_; }

 private:
  // Ethernet (to the guest, or to `eth_dst` when set) and virtio-net
  // headers in front of the eth_off.. payload, then to the tap.
  void finish(uint8_t* base, size_t eth_off, uint16_t ethertype, size_t eth_payload_len, const wire::VnetHdr& vh,
              const wire::Mac* eth_dst = nullptr);
  void fill_csum(uint8_t* l4p, uint64_t pseudo, size_t l4_len, uint8_t proto, size_t eth_off, const Opts& o,
                 wire::VnetHdr& vh);
  void request_guest_mac();

  const NetConfig& cfg_;
  TapOut& tap_;
  Counters& counters_;
  bool vnet_;
  std::vector<uint8_t> buf_;
  std::vector<uint8_t> arp_buf_;
  wire::Mac guest_mac_{};
  bool have_guest_mac_ = false;
  uint16_t ip_id_ = 0;
};

}  // namespace ferry::core
