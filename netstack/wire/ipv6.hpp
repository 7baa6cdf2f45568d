// IPv6 header (RFC 8200 section 3) and the ICMPv6 / NDP constants the
// translator uses (RFC 4443, RFC 4861, RFC 8106). parse() checks the version
// and the payload length against the buffer; extension headers are not
// walked (the caller drops what it does not translate); emit() writes a
// 40-byte header.
#pragma once

#include "netstack/wire/bytes.hpp"
#include "netstack/wire/drop.hpp"

#include "common/expected.hpp"
#include <span>

namespace ferry::wire {

struct Ip6Hdr {
  static constexpr size_t kLen = 40;
  static constexpr uint8_t kHopByHop = 0;
  static constexpr uint8_t kTcp = 6;
  static constexpr uint8_t kUdp = 17;
  static constexpr uint8_t kFragment = 44;
  static constexpr uint8_t kIcmp6 = 58;

  uint16_t payload_len = 0;
  uint8_t next = 0;
  uint8_t hop_limit = 64;
  Ip6 src, dst;

  static ferry::Expected<Ip6Hdr, Drop> parse(std::span<const uint8_t> b) {
    if (b.size() < kLen) return ferry::unexpected(Drop::short_frame);
    const uint8_t* p = b.data();
    if ((p[0] >> 4) != 6) return ferry::unexpected(Drop::bad_ip_version);
    Ip6Hdr h;
    h.payload_len = load16(p + 4);
    // Ethernet may pad short frames: the buffer can be longer, never shorter.
    if (size_t(h.payload_len) + kLen > b.size()) return ferry::unexpected(Drop::bad_ip_length);
    h.next = p[6];
    h.hop_limit = p[7];
    h.src = Ip6::load(p + 8);
    h.dst = Ip6::load(p + 24);
    return h;
  }

  void emit(uint8_t* p) const {
    store32(p, 0x60000000u);
    store16(p + 4, payload_len);
    p[6] = next;
    p[7] = hop_limit;
    src.store(p + 8);
    dst.store(p + 24);
  }
};

struct Icmp6 {
  static constexpr size_t kHdrLen = 4;
  // Types
  static constexpr uint8_t kDestUnreachable = 1;
  static constexpr uint8_t kEchoRequest = 128;
  static constexpr uint8_t kEchoReply = 129;
  static constexpr uint8_t kRouterSolicit = 133;
  static constexpr uint8_t kRouterAdvert = 134;
  static constexpr uint8_t kNeighborSolicit = 135;
  static constexpr uint8_t kNeighborAdvert = 136;
  // Destination unreachable codes
  static constexpr uint8_t kNoRoute = 0;
  static constexpr uint8_t kAdminProhibited = 1;
  static constexpr uint8_t kAddrUnreachable = 3;
  static constexpr uint8_t kPortUnreachable = 4;
  // NDP options (RFC 4861 4.6, RFC 8106 5.1)
  static constexpr uint8_t kOptSourceLl = 1;
  static constexpr uint8_t kOptTargetLl = 2;
  static constexpr uint8_t kOptPrefix = 3;
  static constexpr uint8_t kOptMtu = 5;
  static constexpr uint8_t kOptRdnss = 25;
  // Neighbor advertisement flags (first byte of the reserved word)
  static constexpr uint8_t kNaRouter = 0x80, kNaSolicited = 0x40, kNaOverride = 0x20;
};

// Sum of the IPv6 pseudo-header (RFC 8200 section 8.1) before folding.
inline uint64_t pseudo_header_sum6(const Ip6& src, const Ip6& dst, uint8_t next, uint32_t len) {
  uint64_t s = 0;
  for (int i = 0; i < 16; i += 2) s += load16(src.b + i) + load16(dst.b + i);
  return s + (len >> 16) + (len & 0xffff) + next;
}

}  // namespace ferry::wire
