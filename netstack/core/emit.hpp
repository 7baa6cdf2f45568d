// Builds frames towards the container in one reusable buffer, in place:
// callers write the transport header and payload at l4(), then call
// send_ipv4(), which fills the IPv4 header, the Ethernet header, the
// virtio-net header (with checksum and segmentation offload when the tap has
// it) and hands the frame to the tap. Fixed offsets:
//   [0,10) virtio-net header | [10,24) Ethernet | [24,44) IPv4 | [44,...) L4
// Without a virtio-net header the frame simply starts at offset 10.
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
  static constexpr size_t kVnetOff = 0, kEthOff = 10, kIpOff = 24, kL4Off = 44;
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
  // Sends the IPv4 datagram whose L4 part (l4_len bytes) is at l4().
  void send_ipv4(wire::Ip4 src, wire::Ip4 dst, uint8_t proto, size_t l4_len, const Opts& o) {
    send_ipv4_from(buf_.data(), src, dst, proto, l4_len, o);
  }
  // The same for a frame built in a caller's buffer with the same layout
  // (`base` as offset 0; at least kL4Off + l4_len bytes), so that batches of
  // received datagrams need no copy.
  void send_ipv4_from(uint8_t* base, wire::Ip4 src, wire::Ip4 dst, uint8_t proto, size_t l4_len, const Opts& o);
  // Sends an arbitrary Ethernet payload (ARP) of len bytes placed at eth_payload().
  uint8_t* eth_payload() { return buf_.data() + kIpOff; }
  void send_eth(uint16_t ethertype, size_t len);

  void set_guest_mac(const wire::Mac& m) { guest_mac_ = m; have_guest_mac_ = true; }
  bool have_guest_mac() const { return have_guest_mac_; }
  const wire::Mac& guest_mac() const { return guest_mac_; }

 private:
  void finish(uint8_t* base, uint16_t ethertype, size_t eth_payload_len, const wire::VnetHdr& vh,
              const wire::Mac* eth_dst = nullptr);
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
