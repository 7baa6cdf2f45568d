// The egress policy: which host destinations the container may open flows to
// (--allow / --deny CIDR[:PORTS], docs/security.md). Pure logic, no system
// calls; checked once per new flow (a TCP SYN, the first datagram of a UDP
// flow, the first echo request of an ICMP flow), never per packet.
//
// Semantics:
//  - Rules are evaluated in the order given; the first rule that matches the
//    destination decides.
//  - No rule matches: allowed, unless at least one --allow rule was given,
//    in which case the default is deny (an allow-list).
//  - One rule type covers IPv4 and IPv6: addresses are held as IPv6, IPv4 as
//    ::ffff:a.b.c.d (wire::Ip6::mapped), an IPv4 prefix /N as /96+N. So an
//    IPv4 rule never matches an IPv6 destination and vice versa, except
//    through an explicit ::ffff:0:0/96 rule.
//  - PORTS is one port (1-65535) or a range A-B; a rule without PORTS matches
//    every port and every protocol. ICMP echo has no port: it is judged with
//    port 0, which only rules without PORTS match.
//  - The destination judged is the real one, after mapping
//    (Context::map_destination): the gateway address is judged as 127.0.0.1,
//    pasta's --map-guest-addr address as 127.0.0.1 too (loopback_alias). The
//    DNS forwarder's upstream (the host's resolv.conf server) is exempt: the
//    container addresses ferry's DNS address, not the upstream; use
//    --disable-dns to cut DNS.
//
// Syntax of a rule:  ADDR[/PREFIX][:PORTS]
//   10.0.0.0/8   169.254.169.254   192.168.1.0/24:22   0.0.0.0/0:1-1023
//   2001:db8::/32   [2001:db8::1]:443   [fd00::]/8:80-90   ::1
// An IPv6 address with a port needs brackets unless it has a /PREFIX
// (2001:db8::/32:443 is read as prefix 32, port 443). Host bits set below
// the prefix are an error (10.0.0.1/8), as for --cidr.
#pragma once

#include "netstack/wire/bytes.hpp"

#include "common/expected.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::core {

struct PolicyRule {
  bool allow = false;
  wire::Ip6 net;       // network address, host bits zero
  int prefix = 0;      // 0-128, over the IPv6 (or IPv4-mapped) form
  uint16_t port_lo = 0, port_hi = 65535;  // 0-65535: no PORTS given (also matches ICMP)
  std::string text;    // as given, for messages and --help-style listings

  bool matches(const wire::Ip6& dst, uint16_t port) const;
};

// Parses one rule; the error text names the rule and what is wrong with it.
ferry::Expected<PolicyRule, std::string> parse_policy_rule(bool allow, std::string_view spec);

class Policy {
 public:
  void add(PolicyRule r) {
    has_allow_ |= r.allow;
    rules_.push_back(std::move(r));
  }
  // The command-line form: add(parse_policy_rule(...)) or the parse error.
  ferry::Expected<void, std::string> add(bool allow, std::string_view spec);
  bool empty() const { return rules_.empty(); }
  const std::vector<PolicyRule>& rules() const { return rules_; }

  // pasta's --map-guest-addr: that address reaches the host's 127.0.0.1
  // (below the translator, cli/run.cpp), so it is judged as 127.0.0.1.
  void set_loopback_alias(wire::Ip4 a) { loopback_alias_ = a; }

  bool allows(const wire::Ip6& dst, uint16_t port) const;
  bool allows(wire::Ip4 dst, uint16_t port) const {
    if (loopback_alias_ && dst == *loopback_alias_) dst = wire::Ip4(127, 0, 0, 1);
    return allows(wire::Ip6::mapped(dst), port);
  }

 private:
  std::vector<PolicyRule> rules_;
  bool has_allow_ = false;
  std::optional<wire::Ip4> loopback_alias_;
};

}  // namespace ferry::core
