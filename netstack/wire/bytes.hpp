// Big-endian loads and stores at byte offsets: the only way the wire layer
// touches packet memory. Callers check bounds first (each view's parse()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ferry::wire {

inline uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
inline void store16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void store32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// An IPv4 address in host byte order, printable, comparable.
struct Ip4 {
  uint32_t v = 0;
  constexpr Ip4() = default;
  constexpr explicit Ip4(uint32_t host_order) : v(host_order) {}
  constexpr Ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
      : v(uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d) {}
  static Ip4 load(const uint8_t* p) { return Ip4(load32(p)); }
  void store(uint8_t* p) const { store32(p, v); }
  bool is_loopback() const { return (v >> 24) == 127; }
  bool is_multicast() const { return (v >> 28) == 0xe; }
  bool is_broadcast() const { return v == 0xffffffffu; }
  bool is_unspecified() const { return v == 0; }
  friend constexpr bool operator==(Ip4 a, Ip4 b) { return a.v == b.v; }
};

struct Mac {
  uint8_t b[6] = {};
  static Mac load(const uint8_t* p) {
    Mac m;
    std::memcpy(m.b, p, 6);
    return m;
  }
  void store(uint8_t* p) const { std::memcpy(p, b, 6); }
  bool is_broadcast() const { return (b[0] & b[1] & b[2] & b[3] & b[4] & b[5]) == 0xff; }
  bool is_multicast() const { return b[0] & 1; }
  bool is_zero() const { return (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0; }
  friend bool operator==(const Mac& x, const Mac& y) { return std::memcmp(x.b, y.b, 6) == 0; }
};

}  // namespace ferry::wire
