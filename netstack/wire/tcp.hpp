// TCP header (RFC 9293 section 3.1) and the options ferry uses: MSS
// (kind 2), window scale (kind 3, RFC 7323 section 2), SACK-permitted (kind
// 4) and timestamps (kind 8) are recognised; ferry itself sends only MSS and
// window scale. Sequence numbers compare modulo 2^32 (RFC 9293 3.4) with the
// seq_* helpers.
#pragma once

#include "netstack/wire/bytes.hpp"
#include "netstack/wire/drop.hpp"

#include "common/expected.hpp"
#include <span>

namespace ferry::wire {

inline bool seq_lt(uint32_t a, uint32_t b) { return int32_t(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) { return int32_t(a - b) <= 0; }
inline bool seq_gt(uint32_t a, uint32_t b) { return int32_t(a - b) > 0; }
inline bool seq_ge(uint32_t a, uint32_t b) { return int32_t(a - b) >= 0; }

struct TcpHdr {
  static constexpr size_t kMinLen = 20;
  static constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20;
  static constexpr uint8_t kOptEnd = 0, kOptNop = 1, kOptMss = 2, kOptWscale = 3, kOptSackOk = 4,
                           kOptTimestamp = 8;

  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t header_len = kMinLen;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint16_t checksum = 0;
  // Options seen (SYN segments); -1 / 0 when absent.
  int mss = -1;
  int wscale = -1;
  bool sack_ok = false;

  bool has(uint8_t f) const { return (flags & f) != 0; }

  static ferry::Expected<TcpHdr, Drop> parse(std::span<const uint8_t> b) {
    if (b.size() < kMinLen) return ferry::unexpected(Drop::bad_tcp_header);
    const uint8_t* p = b.data();
    TcpHdr h;
    h.sport = load16(p);
    h.dport = load16(p + 2);
    h.seq = load32(p + 4);
    h.ack = load32(p + 8);
    h.header_len = uint8_t((p[12] >> 4) * 4);
    if (h.header_len < kMinLen || h.header_len > b.size()) return ferry::unexpected(Drop::bad_tcp_header);
    h.flags = p[13];
    h.window = load16(p + 14);
    h.checksum = load16(p + 16);
    // Options: RFC 9293 3.2. A malformed option list ends parsing of options
    // but does not drop the segment (the header length was sane).
    size_t i = kMinLen;
    while (i < h.header_len) {
      uint8_t kind = p[i];
      if (kind == kOptEnd) break;
      if (kind == kOptNop) { ++i; continue; }
      if (i + 1 >= h.header_len) break;
      uint8_t len = p[i + 1];
      if (len < 2 || i + len > h.header_len) break;
      if (kind == kOptMss && len == 4) h.mss = load16(p + i + 2);
      else if (kind == kOptWscale && len == 3) h.wscale = p[i + 2];
      else if (kind == kOptSackOk && len == 2) h.sack_ok = true;
      i += len;
    }
    return h;
  }

  // Writes the header and, for SYN segments, MSS and window-scale options
  // (set `mss`/`wscale` >= 0). Returns the header length written. The
  // checksum field is left as `checksum`; the caller fills it.
  size_t emit(uint8_t* p) const {
    size_t len = kMinLen;
    uint8_t* o = p + kMinLen;
    if (mss >= 0) {
      o[0] = kOptMss; o[1] = 4; store16(o + 2, uint16_t(mss));
      o += 4; len += 4;
    }
    if (wscale >= 0) {
      o[0] = kOptNop; o[1] = kOptWscale; o[2] = 3; o[3] = uint8_t(wscale);
      o += 4; len += 4;
    }
    store16(p, sport);
    store16(p + 2, dport);
    store32(p + 4, seq);
    store32(p + 8, ack);
    p[12] = uint8_t((len / 4) << 4);
    p[13] = flags;
    store16(p + 14, window);
    store16(p + 16, checksum);
    store16(p + 18, 0);
    return len;
  }
};

}  // namespace ferry::wire
