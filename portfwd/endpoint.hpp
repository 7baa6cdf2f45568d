// A socket address of either family, as the forwarders bind, accept and
// connect them: a sockaddr_storage with its length, built from the control
// plane's Boost.Asio addresses or from the translator's addresses.
#pragma once

#include "netstack/core/host.hpp"
#include "netstack/wire/bytes.hpp"

#include <boost/asio/ip/address.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace ferry::portfwd {

struct Endpoint {
  sockaddr_storage ss{};
  socklen_t len = 0;

  static Endpoint v4(wire::Ip4 a, uint16_t port) {
    Endpoint e;
    auto* sin = reinterpret_cast<sockaddr_in*>(&e.ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(a.v);
    e.len = sizeof(sockaddr_in);
    return e;
  }
  static Endpoint v6(const uint8_t (&a)[16], uint16_t port) {
    Endpoint e;
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&e.ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, a, 16);
    e.len = sizeof(sockaddr_in6);
    return e;
  }
  static Endpoint from(const boost::asio::ip::address& a, uint16_t port) {
    if (a.is_v4()) return v4(wire::Ip4(a.to_v4().to_uint()), port);
    const auto bytes = a.to_v6().to_bytes();
    uint8_t b[16];
    std::memcpy(b, bytes.data(), 16);
    return v6(b, port);
  }

  int family() const { return ss.ss_family; }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&ss); }
  uint16_t port() const {
    return ntohs(family() == AF_INET ? reinterpret_cast<const sockaddr_in*>(&ss)->sin_port
                                     : reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  }
  // The IPv4 address of an AF_INET endpoint or of an IPv4-mapped IPv6 one
  // (a dual-stack listener's IPv4 client).
  bool as_v4(wire::Ip4& out) const {
    if (family() == AF_INET) {
      out = wire::Ip4(ntohl(reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr));
      return true;
    }
    const auto* a = &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
    if (family() != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(a)) return false;
    out = wire::Ip4::load(a->s6_addr + 12);
    return true;
  }
  // As the translator's address type: IPv4 (and IPv4-mapped IPv6) as
  // ::ffff:a.b.c.d, IPv6 as it is. False for other families.
  bool to_sockaddr(core::SockAddr& out) const {
    wire::Ip4 v4;
    if (as_v4(v4)) {
      out = core::SockAddr::v4(v4, port());
      return true;
    }
    if (family() != AF_INET6) return false;
    out.addr = wire::Ip6::load(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr.s6_addr);
    out.port = port();
    return true;
  }
  bool is_loopback() const {
    wire::Ip4 v4;
    if (as_v4(v4)) return v4.is_loopback();
    return family() == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr);
  }
  // Same address (the port aside).
  bool same_addr(const Endpoint& o) const {
    if (family() != o.family()) return false;
    if (family() == AF_INET)
      return reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr ==
             reinterpret_cast<const sockaddr_in*>(&o.ss)->sin_addr.s_addr;
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&o.ss)->sin6_addr, 16) == 0;
  }
  // "0.0.0.0:8080", "[::1]:8080".
  std::string str() const {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (family() == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
      return std::string(buf) + ":" + std::to_string(port());
    }
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
    // Appended piece by piece: "[" + std::string(...) trips g++ 12's
    // -Wrestrict false positive at -O3 (GCC bug 105329).
    std::string s = "[";
    s += buf;
    s += "]:";
    s += std::to_string(port());
    return s;
  }
};

}  // namespace ferry::portfwd
