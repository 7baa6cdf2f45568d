#include "netstack/core/icmp.hpp"

#include "netstack/wire/checksum.hpp"
#include "netstack/wire/icmp.hpp"
#include "netstack/wire/ipv4.hpp"

#include <cstring>

namespace ferry::core {

void icmp_echo_reply(Context& ctx, wire::Ip4 from, wire::Ip4 to, std::span<const uint8_t> icmp) {
  if (icmp.size() > Emitter::kMaxL4) return;
  uint8_t* p = ctx.out.l4();
  std::memcpy(p, icmp.data(), icmp.size());
  p[0] = wire::IcmpHdr::kEchoReply;
  p[1] = 0;
  wire::store16(p + 2, 0);
  wire::store16(p + 2, wire::checksum(p, icmp.size()));
  ctx.out.send_ipv4(from, to, wire::Ip4Hdr::kIcmp, icmp.size(), {});
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

}  // namespace ferry::core
