// Ethernet II header (IEEE 802.3 with EtherType): 6-byte destination and
// source MACs, 2-byte EtherType. No VLAN tags: the tap carries none.
#pragma once

#include "netstack/wire/bytes.hpp"

#include <optional>
#include <span>

namespace ferry::wire {

struct Eth {
  static constexpr size_t kLen = 14;
  static constexpr uint16_t kIpv4 = 0x0800;
  static constexpr uint16_t kArp = 0x0806;
  static constexpr uint16_t kIpv6 = 0x86dd;

  Mac dst, src;
  uint16_t type = 0;

  static std::optional<Eth> parse(std::span<const uint8_t> b) {
    if (b.size() < kLen) return std::nullopt;
    return Eth{Mac::load(b.data()), Mac::load(b.data() + 6), load16(b.data() + 12)};
  }
  void emit(uint8_t* p) const {
    dst.store(p);
    src.store(p + 6);
    store16(p + 12, type);
  }
};

}  // namespace ferry::wire
