// What every protocol module of the translator shares: the configuration,
// the host and tap interfaces, the frame emitter, counters, randomness, and
// the mapping of container destinations to host destinations.
#pragma once

#include "netstack/core/config.hpp"
#include "netstack/core/counters.hpp"
#include "netstack/core/emit.hpp"
#include "netstack/core/host.hpp"

#include "common/expected.hpp"

#include <span>

namespace ferry::core {

// A parsed IP header of either family, as the protocol modules need it:
// addresses (IPv4 as ::ffff:a.b.c.d) and the header bytes as received
// (ICMP errors quote them).
struct L3 {
  wire::Ip6 src, dst;
  bool v6 = false;
  std::span<const uint8_t> hdr;
};

// Socket tokens: kind in the top byte, a 24-bit generation (so completions for
// a reused slot are recognised as stale), the slot in the low 32 bits.
enum class TokenKind : uint8_t { tcp = 1, dgram = 2 };
inline uint64_t make_token(TokenKind k, uint32_t gen, uint32_t slot) {
  return uint64_t(k) << 56 | uint64_t(gen & 0xffffff) << 32 | slot;
}
inline TokenKind token_kind(uint64_t t) { return TokenKind(t >> 56); }
inline uint32_t token_gen(uint64_t t) { return uint32_t(t >> 32) & 0xffffff; }
inline uint32_t token_slot(uint64_t t) { return uint32_t(t); }

struct Context {
  const NetConfig& cfg;
  Host& host;
  Emitter& out;
  Counters& ctr;
  Random& rng;

  // Where a container's packet to dst:port goes on the host (contracts.md 1):
  // the gateway is the host's loopback unless that is disabled; the DNS
  // address on port 53 is the host's resolver; other addresses in the
  // virtual subnet, loopback, multicast and broadcast go nowhere. IPv6 the
  // same way: the gateway (fd00::2 or its link-local fe80::2) is the host's
  // ::1, the DNS address fd00::3 the host's (IPv4) resolver; link-local and
  // the prefix's other addresses go nowhere. `dst` is IPv4-mapped for IPv4.
  // Then the egress policy judges the real destination (policy.hpp); the
  // DNS forwarder's upstream is exempt. Called once per new flow (ICMP:
  // port 0).
  ferry::Expected<SockAddr, wire::Drop> map_destination(const wire::Ip6& dst, uint16_t port) {
    if (dst.is_v4_mapped()) {
      const wire::Ip4 d = dst.v4();
      if (d == cfg.gateway) {
        if (cfg.disable_host_loopback) return ferry::unexpected(wire::Drop::host_loopback_disabled);
        return egress_check(SockAddr::v4(wire::Ip4(127, 0, 0, 1), port));
      }
      if (d == cfg.dns) return dns_upstream(port);
      if (d.is_loopback() || d.is_multicast() || d.is_broadcast() || d.is_unspecified() || cfg.in_subnet(d))
        return ferry::unexpected(wire::Drop::bad_ip_address);
      return egress_check(SockAddr{dst, port});
    }
    if (dst == cfg.gateway6 || dst == cfg.gateway_ll) {
      if (cfg.disable_host_loopback) return ferry::unexpected(wire::Drop::host_loopback_disabled);
      wire::Ip6 lo;
      lo.b[15] = 1;
      return egress_check(SockAddr{lo, port});
    }
    if (dst == cfg.dns6) return dns_upstream(port);
    if (dst.is_loopback() || dst.is_multicast() || dst.is_unspecified() || dst.is_link_local() ||
        cfg.in_prefix6(dst))
      return ferry::unexpected(wire::Drop::bad_ip_address);
    return egress_check(SockAddr{dst, port});
  }

  ferry::Expected<SockAddr, wire::Drop> dns_upstream(uint16_t port) {
    wire::Ip4 up;
    if (port != 53 || cfg.disable_dns || !host.dns_upstream(up)) return ferry::unexpected(wire::Drop::not_for_us);
    return SockAddr::v4(up, 53);
  }

  ferry::Expected<SockAddr, wire::Drop> egress_check(SockAddr a) const {
    if (!cfg.egress.empty() && !cfg.egress.allows(a.addr, a.port)) return ferry::unexpected(wire::Drop::policy_denied);
    return a;
  }
};

}  // namespace ferry::core
