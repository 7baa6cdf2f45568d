// The address plan of one ferry instance (slirp4netns's, contracts.md 1):
// in the CIDR (default 10.0.2.0/24) the guest is network+100, the gateway
// network+2 (the host, 127.0.0.1 behind it unless host loopback is disabled),
// the DNS forwarder network+3, and DHCP hands out network+15.
#pragma once

#include "netstack/core/policy.hpp"
#include "netstack/wire/bytes.hpp"

#include "common/expected.hpp"
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::core {

struct NetConfig {
  wire::Ip4 network{10, 0, 2, 0};
  int prefix = 24;
  wire::Ip4 gateway{10, 0, 2, 2};
  wire::Ip4 dns{10, 0, 2, 3};
  wire::Ip4 guest{10, 0, 2, 100};
  wire::Ip4 dhcp_start{10, 0, 2, 15};
  // The DHCP server (core/dhcp4.hpp) hands out dhcp_start, dhcp_start+1, ...
  // one address per client MAC, at most this many (libslirp: 16).
  unsigned dhcp_leases = 16;
  // slirp's gateway MAC: 52:55 then the gateway's IPv4 address.
  wire::Mac gateway_mac{{0x52, 0x55, 10, 0, 2, 2}};
  std::optional<wire::Mac> guest_mac;  // --macaddress
  unsigned mtu = 1500;
  bool disable_host_loopback = false;
  bool disable_dns = false;
  // Where DNS queries to `dns` go: nameservers read from this file.
  std::string resolv_conf = "/etc/resolv.conf";
  // --outbound-addr / --outbound-addr6: the source address host sockets of
  // container flows bind to (not those to the host's loopback). Applied by
  // the Host implementation (io/host_sockets.cpp), not by the core.
  std::optional<wire::Ip4> outbound_addr;
  std::optional<wire::Ip6> outbound_addr6;

  // --allow/--deny: where the container may open flows (policy.hpp).
  Policy egress;

  // IPv6 (--enable-ipv6), slirp4netns's plan: prefix fd00::/64, gateway ::2,
  // DNS ::3; the container configures itself by SLAAC from our router
  // advertisements (sent from the gateway's link-local address fe80::2),
  // so its address is its own choice inside the prefix; guest6 (::100) is
  // what the API shows for IPv6 forwards.
  bool ipv6 = false;
  wire::Ip6 prefix6 = ip6_of(0xfd00, 0);
  wire::Ip6 gateway6 = ip6_of(0xfd00, 2);
  wire::Ip6 dns6 = ip6_of(0xfd00, 3);
  wire::Ip6 guest6 = ip6_of(0xfd00, 0x100);
  wire::Ip6 gateway_ll = ip6_of(0xfe80, 2);

  // first16::last16, e.g. ip6_of(0xfd00, 2) is fd00::2.
  static wire::Ip6 ip6_of(uint16_t first, uint16_t last) {
    wire::Ip6 a;
    wire::store16(a.b, first);
    wire::store16(a.b + 14, last);
    return a;
  }
  bool in_prefix6(const wire::Ip6& a) const { return std::memcmp(a.b, prefix6.b, 8) == 0; }
  // The addresses ferry itself answers for on IPv6.
  bool is_ours6(const wire::Ip6& a) const { return a == gateway6 || a == dns6 || a == gateway_ll; }

  bool in_subnet(wire::Ip4 a) const { return prefix == 0 || (a.v >> (32 - prefix)) == (network.v >> (32 - prefix)); }
  wire::Ip4 netmask() const { return wire::Ip4(prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix)); }
};

// Parses --cidr the way slirp4netns does, with its exact error texts:
// "invalid CIDR", "prefix length needs to be 1-25", "CIDR needs to be a
// network address like A/N, not like B/N". Fills the derived addresses.
ferry::Expected<void, std::string> apply_cidr(NetConfig& cfg, std::string_view cidr);

std::optional<wire::Ip4> parse_ip4(std::string_view s);
std::optional<wire::Ip6> parse_ip6(std::string_view s);
std::string to_string(const wire::Ip6& a);
std::optional<wire::Mac> parse_mac(std::string_view s);
std::string to_string(wire::Ip4 a);
std::string to_string(const wire::Mac& m);

}  // namespace ferry::core
