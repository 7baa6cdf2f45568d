// ICMPv4 (RFC 792): type, code, checksum, then 4 bytes whose meaning depends
// on the type (identifier and sequence for echo).
#pragma once

#include "netstack/wire/bytes.hpp"
#include "netstack/wire/drop.hpp"

#include "common/expected.hpp"
#include <span>

namespace ferry::wire {

struct IcmpHdr {
  static constexpr size_t kLen = 8;
  static constexpr uint8_t kEchoReply = 0, kDestUnreachable = 3, kEchoRequest = 8, kTimeExceeded = 11;
  // Destination-unreachable codes (RFC 792, RFC 1812 5.2.7.1).
  static constexpr uint8_t kNetUnreachable = 0, kHostUnreachable = 1, kPortUnreachable = 3,
                           kAdminProhibited = 13;

  uint8_t type = 0, code = 0;
  uint16_t checksum = 0;
  uint16_t id = 0, seq = 0;  // echo only

  static ferry::Expected<IcmpHdr, Drop> parse(std::span<const uint8_t> b) {
    if (b.size() < kLen) return ferry::unexpected(Drop::bad_icmp);
    const uint8_t* p = b.data();
    return IcmpHdr{p[0], p[1], load16(p + 2), load16(p + 4), load16(p + 6)};
  }
  void emit(uint8_t* p) const {
    p[0] = type;
    p[1] = code;
    store16(p + 2, checksum);
    store16(p + 4, id);
    store16(p + 6, seq);
  }
};

}  // namespace ferry::wire
