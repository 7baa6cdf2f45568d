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

// An IPv6 address in network byte order (as on the wire), comparable.
struct Ip6 {
  uint8_t b[16] = {};
  static Ip6 load(const uint8_t* p) {
    Ip6 a;
    std::memcpy(a.b, p, 16);
    return a;
  }
  void store(uint8_t* p) const { std::memcpy(p, b, 16); }
  // ::ffff:a.b.c.d, the form IPv4 addresses take where one key holds both.
  static Ip6 mapped(Ip4 v4) {
    Ip6 a;
    a.b[10] = a.b[11] = 0xff;
    v4.store(a.b + 12);
    return a;
  }
  bool is_v4_mapped() const {
    static constexpr uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, pre, 12) == 0;
  }
  Ip4 v4() const { return Ip4::load(b + 12); }
  bool is_unspecified() const {
    for (uint8_t x : b)
      if (x) return false;
    return true;
  }
  bool is_loopback() const {
    for (int i = 0; i < 15; ++i)
      if (b[i]) return false;
    return b[15] == 1;
  }
  bool is_multicast() const { return b[0] == 0xff; }
  bool is_link_local() const { return b[0] == 0xfe && (b[1] & 0xc0) == 0x80; }
  friend bool operator==(const Ip6& x, const Ip6& y) { return std::memcmp(x.b, y.b, 16) == 0; }
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
