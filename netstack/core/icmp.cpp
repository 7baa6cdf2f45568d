#include "netstack/core/icmp.hpp"

#include "netstack/wire/checksum.hpp"
#include "netstack/wire/icmp.hpp"
#include "netstack/wire/ipv4.hpp"
#include "netstack/wire/ipv6.hpp"

#include <algorithm>
#include <cstring>

namespace ferry::core {

namespace {
// ICMPv6 checksums cover a pseudo-header: computed here, in full.
void send_icmp6(Context& ctx, const wire::Ip6& from, const wire::Ip6& to, size_t len) {
  uint8_t* p = ctx.out.l4();
  wire::store16(p + 2, 0);
  const uint64_t ps = wire::pseudo_header_sum6(from, to, wire::Ip6Hdr::kIcmp6, uint32_t(len));
  wire::store16(p + 2, wire::csum_fold(wire::csum_partial(p, len, ps)));
  ctx.out.send_ip(from, to, wire::Ip6Hdr::kIcmp6, len, {});
}

void icmp6_unreachable(Context& ctx, uint8_t code, const wire::Ip6& from, const wire::Ip6& to,
                       std::span<const uint8_t> quote) {
  const size_t qlen = std::min<size_t>(quote.size(), wire::Ip6Hdr::kLen + 8);
  uint8_t* p = ctx.out.l4();
  p[0] = wire::Icmp6::kDestUnreachable;
  p[1] = code;
  wire::store16(p + 2, 0);
  wire::store32(p + 4, 0);
  std::memcpy(p + 8, quote.data(), qlen);
  send_icmp6(ctx, from, to, 8 + qlen);
}
}  // namespace

void icmp_echo_reply(Context& ctx, const wire::Ip6& from, const wire::Ip6& to, std::span<const uint8_t> icmp) {
  if (icmp.size() > Emitter::kMaxL4) return;
  uint8_t* p = ctx.out.l4();
  std::memcpy(p, icmp.data(), icmp.size());
  p[1] = 0;
  if (!from.is_v4_mapped()) {
    p[0] = wire::Icmp6::kEchoReply;
    send_icmp6(ctx, from, to, icmp.size());
    return;
  }
  p[0] = wire::IcmpHdr::kEchoReply;
  wire::store16(p + 2, 0);
  wire::store16(p + 2, wire::checksum(p, icmp.size()));
  ctx.out.send_ip(from, to, wire::Ip4Hdr::kIcmp, icmp.size(), {});
}

void icmp_unreachable(Context& ctx, uint8_t code, wire::Ip4 from, wire::Ip4 to, std::span<const uint8_t> quote) {
  const size_t qlen = std::min<size_t>(quote.size(), 28);
  uint8_t* p = ctx.out.l4();
  wire::IcmpHdr h;
  h.type = wire::IcmpHdr::kDestUnreachable;
  h.code = code;
  h.emit(p);
  std::memcpy(p + wire::IcmpHdr::kLen, quote.data(), qlen);
  const size_t len = wire::IcmpHdr::kLen + qlen;
  wire::store16(p + 2, wire::checksum(p, len));
  ctx.out.send_ipv4(from, to, wire::Ip4Hdr::kIcmp, len, {});
}

void dest_unreachable(Context& ctx, const L3& ip, std::span<const uint8_t> l4, uint8_t code4, uint8_t code6) {
  uint8_t quote[wire::Ip6Hdr::kLen + 8];
  const size_t hl = std::min(ip.hdr.size(), size_t(wire::Ip6Hdr::kLen));
  const size_t ll = std::min(l4.size(), size_t(8));
  std::memcpy(quote, ip.hdr.data(), hl);
  std::memcpy(quote + hl, l4.data(), ll);
  if (ip.v6) icmp6_unreachable(ctx, code6, ip.dst, ip.src, {quote, hl + ll});
  else icmp_unreachable(ctx, code4, ip.dst.v4(), ip.src.v4(), {quote, hl + ll});
}

void tcp_unreachable(Context& ctx, const FlowKey& k, uint32_t seq, bool net) {
  uint8_t quote[wire::Ip6Hdr::kLen + 8];
  size_t hl;
  if (k.caddr.is_v4_mapped()) {
    wire::Ip4Hdr q;
    q.src = k.caddr.v4();
    q.dst = k.daddr.v4();
    q.proto = wire::Ip4Hdr::kTcp;
    q.total_len = 40;
    q.emit(quote);
    hl = wire::Ip4Hdr::kMinLen;
  } else {
    wire::Ip6Hdr q;
    q.src = k.caddr;
    q.dst = k.daddr;
    q.next = wire::Ip6Hdr::kTcp;
    q.payload_len = 20;
    q.emit(quote);
    hl = wire::Ip6Hdr::kLen;
  }
  wire::store16(quote + hl, k.cport);
  wire::store16(quote + hl + 2, k.dport);
  wire::store32(quote + hl + 4, seq);
  L3 ip;
  ip.src = k.caddr;
  ip.dst = k.daddr;
  ip.v6 = !k.caddr.is_v4_mapped();
  ip.hdr = {quote, hl};
  dest_unreachable(ctx, ip, {quote + hl, 8},
                   net ? wire::IcmpHdr::kNetUnreachable : wire::IcmpHdr::kHostUnreachable,
                   net ? wire::Icmp6::kNoRoute : wire::Icmp6::kAddrUnreachable);
}

}  // namespace ferry::core
