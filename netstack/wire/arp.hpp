// ARP for IPv4 over Ethernet (RFC 826): a fixed 28-byte body. parse() accepts
// only hardware type 1 / protocol 0x0800 / lengths 6 and 4; anything else is
// not ARP that concerns us.
#pragma once

#include "netstack/wire/bytes.hpp"

#include <optional>
#include <span>

namespace ferry::wire {

struct Arp {
  static constexpr size_t kLen = 28;
  static constexpr uint16_t kRequest = 1;
  static constexpr uint16_t kReply = 2;

  uint16_t op = 0;
  Mac sha;
  Ip4 spa;
  Mac tha;
  Ip4 tpa;

  static std::optional<Arp> parse(std::span<const uint8_t> b) {
    if (b.size() < kLen) return std::nullopt;
    const uint8_t* p = b.data();
    if (load16(p) != 1 || load16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4) return std::nullopt;
    Arp a;
    a.op = load16(p + 6);
    a.sha = Mac::load(p + 8);
    a.spa = Ip4::load(p + 14);
    a.tha = Mac::load(p + 18);
    a.tpa = Ip4::load(p + 24);
    return a;
  }
  void emit(uint8_t* p) const {
    store16(p, 1);
    store16(p + 2, 0x0800);
    p[4] = 6;
    p[5] = 4;
    store16(p + 6, op);
    sha.store(p + 8);
    spa.store(p + 14);
    tha.store(p + 18);
    tpa.store(p + 24);
  }
};

}  // namespace ferry::wire
