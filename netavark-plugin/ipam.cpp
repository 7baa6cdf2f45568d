// IP address arithmetic and allocation; see ipam.hpp.
#include "ipam.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ferry::bridge {

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, b.data(), buf, sizeof buf);
  return buf;
}

std::string IpNet::str() const { return addr.str() + "/" + std::to_string(prefix); }

std::optional<IpAddr> parse_ip(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string z(s);  // inet_pton needs a terminated string
  IpAddr a;
  if (inet_pton(AF_INET, z.c_str(), a.b.data()) == 1) return a;
  a.v6 = true;
  // IPv6 zone ids ("fe80::1%eth0") are not addresses for a network.
  if (inet_pton(AF_INET6, z.c_str(), a.b.data()) == 1) return a;
  return std::nullopt;
}

std::optional<IpNet> parse_ipnet(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto a = parse_ip(s.substr(0, slash));
  if (!a) return std::nullopt;
  auto p = s.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size()) return std::nullopt;
  if (prefix < 0 || prefix > a->bits()) return std::nullopt;
  return IpNet{*a, prefix};
}

static IpAddr masked(const IpAddr& a, int prefix, bool set_host) {
  IpAddr r = a;
  int n = a.bits() / 8;
  for (int i = 0; i < n; ++i) {
    int keep = prefix - i * 8;  // bits of this byte that belong to the prefix
    uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
    r.b[i] = set_host ? static_cast<uint8_t>(a.b[i] | ~mask) : static_cast<uint8_t>(a.b[i] & mask);
  }
  return r;
}

IpAddr network_of(const IpAddr& a, int prefix) { return masked(a, prefix, false); }
IpAddr last_of(const IpAddr& a, int prefix) { return masked(a, prefix, true); }

bool contains(const IpNet& net, const IpAddr& a) {
  return a.v6 == net.addr.v6 && network_of(a, net.prefix) == network_of(net.addr, net.prefix);
}

std::optional<IpAddr> next(const IpAddr& a) {
  IpAddr r = a;
  for (int i = a.bits() / 8 - 1; i >= 0; --i) {
    if (++r.b[i] != 0) return r;
  }
  return std::nullopt;
}

static std::optional<IpAddr> prev(const IpAddr& a) {
  IpAddr r = a;
  for (int i = a.bits() / 8 - 1; i >= 0; --i) {
    if (r.b[i]-- != 0) return r;
  }
  return std::nullopt;
}

std::string subnet_problem(const IpNet& s) {
  if (network_of(s.addr, s.prefix) != s.addr)
    return "host bits are set (did you mean " + IpNet{network_of(s.addr, s.prefix), s.prefix}.str() + "?)";
  if (s.prefix > s.addr.bits() - 2)
    return "prefix /" + std::to_string(s.prefix) + " leaves no room for a gateway and a container";
  return {};
}

IpAddr first_host(const IpNet& s) { return *next(network_of(s.addr, s.prefix)); }

IpAddr last_host(const IpNet& s) {
  IpAddr last = last_of(s.addr, s.prefix);
  // IPv4: the last address is the broadcast address (RFC 919). IPv6 has no
  // broadcast; the all-ones host is an ordinary address.
  return s.addr.v6 ? last : *prev(last);
}

std::string host_problem(const IpNet& s, const IpAddr& a) {
  if (!contains(s, a)) return a.str() + " is not in subnet " + s.str();
  if (a == network_of(s.addr, s.prefix)) return a.str() + " is the network address of " + s.str();
  if (!s.addr.v6 && a == last_of(s.addr, s.prefix)) return a.str() + " is the broadcast address of " + s.str();
  return {};
}

std::optional<IpAddr> allocate(const IpAddr& start, const IpAddr& end, const std::optional<IpAddr>& gateway,
                               const std::set<IpAddr>& used) {
  if (start.v6 != end.v6 || end < start) return std::nullopt;
  std::optional<IpAddr> a = start;
  // Bounded by the number of used addresses + 2: each step skips a used one.
  while (a && *a <= end) {
    if (!used.contains(*a) && (!gateway || *a != *gateway)) return a;
    a = next(*a);
  }
  return std::nullopt;
}

std::optional<std::array<uint8_t, 6>> parse_mac(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  std::array<uint8_t, 6> m{};
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && s[i * 3 - 1] != ':') return std::nullopt;
    auto part = s.substr(i * 3, 2);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + 2, v, 16);
    if (ec != std::errc() || end != part.data() + 2) return std::nullopt;
    m[i] = static_cast<uint8_t>(v);
  }
  if (m[0] & 1) return std::nullopt;  // multicast bit
  if (m == std::array<uint8_t, 6>{}) return std::nullopt;
  return m;
}

std::string mac_str(const std::array<uint8_t, 6>& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

}  // namespace ferry::bridge
