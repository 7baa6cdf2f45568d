// What every protocol module of the translator shares: the configuration,
// the host and tap interfaces, the frame emitter, counters, randomness, and
// the mapping of container destinations to host destinations.
#pragma once

#include "netstack/core/config.hpp"
#include "netstack/core/counters.hpp"
#include "netstack/core/emit.hpp"
#include "netstack/core/host.hpp"

#include "common/expected.hpp"

namespace ferry::core {

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
  // virtual subnet, loopback, multicast and broadcast go nowhere. Then the
  // egress policy judges the real destination (policy.hpp); the DNS
  // forwarder's upstream is exempt. Called once per new flow (ICMP: port 0).
  ferry::Expected<SockAddr4, wire::Drop> map_destination(wire::Ip4 dst, uint16_t port) {
    if (dst == cfg.gateway) {
      if (cfg.disable_host_loopback) return ferry::unexpected(wire::Drop::host_loopback_disabled);
      return egress_check(SockAddr4{wire::Ip4(127, 0, 0, 1), port});
    }
    if (dst == cfg.dns) {
      wire::Ip4 up;
      if (port != 53 || cfg.disable_dns || !host.dns_upstream(up)) return ferry::unexpected(wire::Drop::not_for_us);
      return SockAddr4{up, 53};
    }
    if (dst.is_loopback() || dst.is_multicast() || dst.is_broadcast() || dst.is_unspecified() ||
        cfg.in_subnet(dst))
      return ferry::unexpected(wire::Drop::bad_ip_address);
    return egress_check(SockAddr4{dst, port});
  }

  ferry::Expected<SockAddr4, wire::Drop> egress_check(SockAddr4 a) const {
    if (!cfg.egress.empty() && !cfg.egress.allows(a.addr, a.port)) return ferry::unexpected(wire::Drop::policy_denied);
    return a;
  }
};

}  // namespace ferry::core
