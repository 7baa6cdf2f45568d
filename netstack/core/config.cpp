#include "netstack/core/config.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace ferry::core {

std::optional<wire::Ip4> parse_ip4(std::string_view s) {
  std::string str(s);
  in_addr a{};
  if (inet_pton(AF_INET, str.c_str(), &a) != 1) return std::nullopt;
  return wire::Ip4(ntohl(a.s_addr));
}

std::optional<wire::Ip6> parse_ip6(std::string_view s) {
  std::string str(s);
  wire::Ip6 a;
  if (inet_pton(AF_INET6, str.c_str(), a.b) != 1) return std::nullopt;
  return a;
}

std::string to_string(const wire::Ip6& a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a.b, buf, sizeof buf);
  return buf;
}

std::optional<wire::Mac> parse_mac(std::string_view s) {
  wire::Mac m;
  if (s.size() != 17) return std::nullopt;
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && s[size_t(i) * 3 - 1] != ':') return std::nullopt;
    auto part = s.substr(size_t(i) * 3, 2);
    unsigned v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + 2, v, 16);
    if (ec != std::errc() || p != part.data() + 2) return std::nullopt;
    m.b[i] = uint8_t(v);
  }
  return m;
}

std::string to_string(wire::Ip4 a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a.v >> 24, (a.v >> 16) & 255, (a.v >> 8) & 255, a.v & 255);
  return buf;
}

std::string to_string(const wire::Mac& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m.b[0], m.b[1], m.b[2], m.b[3], m.b[4], m.b[5]);
  return buf;
}

ferry::Expected<void, std::string> apply_cidr(NetConfig& cfg, std::string_view cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos) return ferry::unexpected("invalid CIDR: " + std::string(cidr));
  auto addr = parse_ip4(cidr.substr(0, slash));
  int prefix = -1;
  auto pstr = cidr.substr(slash + 1);
  auto [p, ec] = std::from_chars(pstr.data(), pstr.data() + pstr.size(), prefix);
  if (!addr || ec != std::errc() || p != pstr.data() + pstr.size())
    return ferry::unexpected("invalid CIDR: " + std::string(cidr));
  // Prefixes of 26 and longer leave no room for the guest at network+100.
  if (prefix < 1 || prefix > 25) return ferry::unexpected("prefix length needs to be 1-25");
  const uint32_t mask = ~uint32_t(0) << (32 - prefix);
  if ((addr->v & ~mask) != 0) {
    wire::Ip4 net(addr->v & mask);
    return ferry::unexpected("CIDR needs to be a network address like " + to_string(net) + "/" +
                           std::to_string(prefix) + ", not like " + std::string(cidr));
  }
  cfg.network = *addr;
  cfg.prefix = prefix;
  cfg.gateway = wire::Ip4(addr->v + 2);
  cfg.dns = wire::Ip4(addr->v + 3);
  cfg.dhcp_start = wire::Ip4(addr->v + 15);
  cfg.guest = wire::Ip4(addr->v + 100);
  cfg.gateway.store(cfg.gateway_mac.b + 2);
  return {};
}

}  // namespace ferry::core
