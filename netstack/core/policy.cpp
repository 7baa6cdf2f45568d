#include "netstack/core/policy.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace ferry::core {

namespace {

bool parse_num(std::string_view s, unsigned long lo, unsigned long hi, unsigned long& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out >= lo && out <= hi;
}

// Keeps the first `prefix` bits of a.
wire::Ip6 mask(const wire::Ip6& a, int prefix) {
  wire::Ip6 m = a;
  for (int i = 0; i < 16; ++i) {
    const int bits = prefix - i * 8;
    if (bits >= 8) continue;
    m.b[i] &= bits <= 0 ? 0 : uint8_t(0xff << (8 - bits));
  }
  return m;
}

}  // namespace

bool PolicyRule::matches(const wire::Ip6& dst, uint16_t port) const {
  return port >= port_lo && port <= port_hi && mask(dst, prefix) == net;
}

ferry::Expected<PolicyRule, std::string> parse_policy_rule(bool allow, std::string_view spec) {
  const std::string name = std::string(allow ? "--allow " : "--deny ") + std::string(spec);
  auto fail = [&](const std::string& why) { return ferry::unexpected(name + ": " + why); };
  std::string_view addr, prefix, ports;
  bool have_prefix = false, have_ports = false;
  std::string_view rest;
  if (!spec.empty() && spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after the IPv6 address");
    addr = spec.substr(1, close - 1);
    rest = spec.substr(close + 1);
  } else if (const auto slash = spec.find('/'); slash != std::string_view::npos) {
    addr = spec.substr(0, slash);
    rest = spec.substr(slash);
  } else if (spec.find(':') != std::string_view::npos && spec.find(':') == spec.rfind(':') &&
             spec.find('.') != std::string_view::npos && spec.find('.') < spec.find(':')) {
    // a.b.c.d:PORTS (one colon after a dotted address)
    addr = spec.substr(0, spec.find(':'));
    rest = spec.substr(spec.find(':'));
  } else {
    addr = spec;
  }
  if (!rest.empty() && rest.front() == '/') {
    have_prefix = true;
    rest.remove_prefix(1);
    const auto colon = rest.find(':');
    prefix = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return fail("expected ADDR[/PREFIX][:PORTS]");
    have_ports = true;
    ports = rest.substr(1);
  }

  PolicyRule r;
  r.allow = allow;
  r.text = std::string(spec);
  const std::string a(addr);
  bool v4 = false;
  uint8_t buf[16];
  if (inet_pton(AF_INET, a.c_str(), buf) == 1) {
    v4 = true;
    r.net = wire::Ip6::mapped(wire::Ip4::load(buf));
  } else if (inet_pton(AF_INET6, a.c_str(), buf) == 1) {
    r.net = wire::Ip6::load(buf);
  } else {
    return fail("'" + a + "' is not an IPv4 or IPv6 address");
  }
  const unsigned long max_prefix = v4 ? 32 : 128;
  unsigned long n = max_prefix;
  if (have_prefix && !parse_num(prefix, 0, max_prefix, n))
    return fail("prefix length must be 0-" + std::to_string(max_prefix));
  r.prefix = int(v4 ? 96 + n : n);
  if (!(mask(r.net, r.prefix) == r.net))
    return fail("host bits are set below the prefix; give the network address (like A/N, not B/N)");
  if (have_ports) {
    unsigned long lo, hi;
    const auto dash = ports.find('-');
    if (dash == std::string_view::npos) {
      if (!parse_num(ports, 1, 65535, lo)) return fail("port must be 1-65535");
      hi = lo;
    } else {
      if (!parse_num(ports.substr(0, dash), 1, 65535, lo) || !parse_num(ports.substr(dash + 1), 1, 65535, hi))
        return fail("ports must be PORT or A-B, each 1-65535");
      if (lo > hi) return fail("port range A-B needs A <= B");
    }
    r.port_lo = uint16_t(lo);
    r.port_hi = uint16_t(hi);
  }
  return r;
}

ferry::Expected<void, std::string> Policy::add(bool allow, std::string_view spec) {
  auto r = parse_policy_rule(allow, spec);
  if (!r) return ferry::unexpected(r.error());
  add(std::move(*r));
  return {};
}

bool Policy::allows(const wire::Ip6& dst, uint16_t port) const {
  for (const auto& r : rules_)
    if (r.matches(dst, port)) return r.allow;
  return !has_allow_;
}

}  // namespace ferry::core
