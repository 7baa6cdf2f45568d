// IPv4 header (RFC 791 section 3.1). parse() checks version, header length,
// total length against the buffer, and the header checksum; the caller gets
// the header length and the payload span. Options are skipped (we never act
// on them); emit() writes a 20-byte header without options.
#pragma once

#include "netstack/wire/bytes.hpp"
#include "netstack/wire/checksum.hpp"
#include "netstack/wire/drop.hpp"

#include "common/expected.hpp"
#include <span>

namespace ferry::wire {

struct Ip4Hdr {
  static constexpr size_t kMinLen = 20;
  static constexpr uint8_t kIcmp = 1;
  static constexpr uint8_t kTcp = 6;
  static constexpr uint8_t kUdp = 17;
  static constexpr uint16_t kDf = 0x4000;
  static constexpr uint16_t kMf = 0x2000;
  static constexpr uint16_t kOffsetMask = 0x1fff;

  uint8_t header_len = kMinLen;
  uint8_t tos = 0;
  uint16_t total_len = 0;
  uint16_t id = 0;
  uint16_t frag = 0;  // flags and fragment offset (in 8-byte units)
  uint8_t ttl = 64;
  uint8_t proto = 0;
  Ip4 src, dst;

  bool is_fragment() const { return (frag & (kMf | kOffsetMask)) != 0; }
  uint32_t frag_offset_bytes() const { return uint32_t(frag & kOffsetMask) * 8; }
  bool more_fragments() const { return frag & kMf; }

  // `verify_checksum` is false only for tests that build headers by hand.
  static ferry::Expected<Ip4Hdr, Drop> parse(std::span<const uint8_t> b, bool verify_checksum = true) {
    if (b.size() < kMinLen) return ferry::unexpected(Drop::short_frame);
    const uint8_t* p = b.data();
    if ((p[0] >> 4) != 4) return ferry::unexpected(Drop::bad_ip_version);
    Ip4Hdr h;
    h.header_len = uint8_t((p[0] & 0xf) * 4);
    if (h.header_len < kMinLen || h.header_len > b.size()) return ferry::unexpected(Drop::bad_ip_header);
    h.tos = p[1];
    h.total_len = load16(p + 2);
    // Ethernet may pad short frames, so the buffer can be longer than
    // total_len, never shorter (RFC 791: total length includes the header).
    if (h.total_len < h.header_len || h.total_len > b.size()) return ferry::unexpected(Drop::bad_ip_length);
    if (verify_checksum && checksum(p, h.header_len) != 0) return ferry::unexpected(Drop::bad_ip_checksum);
    h.id = load16(p + 4);
    h.frag = load16(p + 6);
    h.ttl = p[8];
    h.proto = p[9];
    h.src = Ip4::load(p + 12);
    h.dst = Ip4::load(p + 16);
    return h;
  }

  // Writes a 20-byte header with a correct checksum.
  void emit(uint8_t* p) const {
    p[0] = 0x45;
    p[1] = tos;
    store16(p + 2, total_len);
    store16(p + 4, id);
    store16(p + 6, frag);
    p[8] = ttl;
    p[9] = proto;
    store16(p + 10, 0);
    src.store(p + 12);
    dst.store(p + 16);
    store16(p + 10, checksum(p, kMinLen));
  }
};

}  // namespace ferry::wire
