// UDP header (RFC 768): ports, length (header + data), checksum (0 = none
// over IPv4).
#pragma once

#include "netstack/wire/bytes.hpp"
#include "netstack/wire/drop.hpp"

#include "common/expected.hpp"
#include <span>

namespace ferry::wire {

struct UdpHdr {
  static constexpr size_t kLen = 8;
  uint16_t sport = 0, dport = 0, length = 0, checksum = 0;

  // `b` is the IP payload; the UDP length must fit in it.
  static ferry::Expected<UdpHdr, Drop> parse(std::span<const uint8_t> b) {
    if (b.size() < kLen) return ferry::unexpected(Drop::bad_udp_header);
    UdpHdr h{load16(b.data()), load16(b.data() + 2), load16(b.data() + 4), load16(b.data() + 6)};
    if (h.length < kLen || h.length > b.size()) return ferry::unexpected(Drop::bad_udp_header);
    return h;
  }
  void emit(uint8_t* p) const {
    store16(p, sport);
    store16(p + 2, dport);
    store16(p + 4, length);
    store16(p + 6, checksum);
  }
};

}  // namespace ferry::wire
