#include "netstack/core/ndp.hpp"

#include "netstack/wire/checksum.hpp"
#include "netstack/wire/ipv6.hpp"

#include <cstring>

namespace ferry::core {

namespace {
using wire::Icmp6;

void send(Context& ctx, const wire::Ip6& from, const wire::Ip6& to, size_t len) {
  uint8_t* p = ctx.out.l4();
  wire::store16(p + 2, 0);
  const uint64_t ps = wire::pseudo_header_sum6(from, to, wire::Ip6Hdr::kIcmp6, uint32_t(len));
  wire::store16(p + 2, wire::csum_fold(wire::csum_partial(p, len, ps)));
  ctx.out.send_ip(from, to, wire::Ip6Hdr::kIcmp6, len, {});
}

// Options start after the fixed part; each is type, length in 8-byte units
// (never 0), data. False if any is malformed (RFC 4861 6.1.1, 7.1.1: drop).
bool options_ok(std::span<const uint8_t> opts) {
  while (!opts.empty()) {
    if (opts.size() < 2 || opts[1] == 0 || size_t(opts[1]) * 8 > opts.size()) return false;
    opts = opts.subspan(size_t(opts[1]) * 8);
  }
  return true;
}

void neighbor_advert(Context& ctx, const L3& ip, const wire::Ip6& target) {
  const wire::Ip6 all_nodes = NetConfig::ip6_of(0xff02, 1);
  // A solicitation from the unspecified address (the container checking its
  // own tentative address) is answered to all nodes, unsolicited.
  const bool to_all = ip.src.is_unspecified();
  uint8_t* p = ctx.out.l4();
  p[0] = Icmp6::kNeighborAdvert;
  p[1] = 0;
  p[4] = uint8_t((target == ctx.cfg.dns6 ? 0 : Icmp6::kNaRouter) | (to_all ? 0 : Icmp6::kNaSolicited) |
                 Icmp6::kNaOverride);
  p[5] = p[6] = p[7] = 0;
  target.store(p + 8);
  p[24] = Icmp6::kOptTargetLl;
  p[25] = 1;
  ctx.cfg.gateway_mac.store(p + 26);
  send(ctx, target, to_all ? all_nodes : ip.src, 32);
}

void router_advert(Context& ctx, const L3& ip) {
  const NetConfig& cfg = ctx.cfg;
  uint8_t* p = ctx.out.l4();
  std::memset(p, 0, 16);
  p[0] = Icmp6::kRouterAdvert;
  p[4] = 64;    // current hop limit
  p[5] = 0xc0;  // managed, other configuration: DHCPv6 (dhcp6.hpp) serves too
  wire::store16(p + 6, kRouterLifetime);
  size_t n = 16;
  // Source link-layer address.
  p[n] = Icmp6::kOptSourceLl;
  p[n + 1] = 1;
  cfg.gateway_mac.store(p + n + 2);
  n += 8;
  // MTU.
  std::memset(p + n, 0, 8);
  p[n] = Icmp6::kOptMtu;
  p[n + 1] = 1;
  wire::store32(p + n + 4, cfg.mtu);
  n += 8;
  // Prefix information: on-link and autonomous (SLAAC).
  std::memset(p + n, 0, 32);
  p[n] = Icmp6::kOptPrefix;
  p[n + 1] = 4;
  p[n + 2] = 64;
  p[n + 3] = 0xc0;
  wire::store32(p + n + 4, kPrefixValid);
  wire::store32(p + n + 8, kPrefixPreferred);
  cfg.prefix6.store(p + n + 16);
  n += 32;
  if (!cfg.disable_dns) {
    std::memset(p + n, 0, 24);
    p[n] = Icmp6::kOptRdnss;
    p[n + 1] = 3;
    wire::store32(p + n + 4, kRdnssLifetime);
    cfg.dns6.store(p + n + 8);
    n += 24;
  }
  const wire::Ip6 to = ip.src.is_unspecified() ? NetConfig::ip6_of(0xff02, 1) : ip.src;
  send(ctx, cfg.gateway_ll, to, n);
}
}  // namespace

void on_ndp(Context& ctx, const L3& ip, uint8_t hop_limit, std::span<const uint8_t> icmp) {
  // RFC 4861 6.1.1 / 7.1.1: hop limit 255 (not forwarded), code 0.
  if (hop_limit != 255 || icmp[1] != 0) return ctx.ctr.drop(wire::Drop::bad_ndp);
  switch (icmp[0]) {
    case Icmp6::kNeighborSolicit: {
      if (icmp.size() < 24 || !options_ok(icmp.subspan(24))) return ctx.ctr.drop(wire::Drop::bad_ndp);
      const wire::Ip6 target = wire::Ip6::load(icmp.data() + 8);
      if (target.is_multicast()) return ctx.ctr.drop(wire::Drop::bad_ndp);
      if (!ctx.cfg.is_ours6(target)) return;  // the container's own (DAD) or a neighbour's: not ours
      ++ctx.ctr.ndp_adverts;
      return neighbor_advert(ctx, ip, target);
    }
    case Icmp6::kRouterSolicit:
      if (icmp.size() < 8 || !options_ok(icmp.subspan(8))) return ctx.ctr.drop(wire::Drop::bad_ndp);
      ++ctx.ctr.router_adverts;
      return router_advert(ctx, ip);
    default:
      return;  // advertisements from the container, redirects: nothing to do
  }
}

}  // namespace ferry::core
