#include "netstack/core/stack.hpp"

#include "netstack/core/icmp.hpp"
#include "netstack/core/ndp.hpp"
#include "netstack/wire/arp.hpp"
#include "netstack/wire/checksum.hpp"
#include "netstack/wire/ethernet.hpp"
#include "netstack/wire/icmp.hpp"
#include "netstack/wire/ipv4.hpp"
#include "netstack/wire/ipv6.hpp"
#include "netstack/wire/udp.hpp"
#include "netstack/wire/vnet.hpp"

namespace ferry::core {

using wire::Drop;

Stack::Stack(const NetConfig& cfg, Host& host, TapOut& tap, Random& rng, bool vnet, const Limits& limits)
    : cfg_(cfg),
      out_(cfg_, tap, ctr_, vnet),
      ctx_{cfg_, host, out_, ctr_, rng},
      tcp_(ctx_, limits.tcp_flows),
      dgram_(ctx_, limits.dgram_flows),
      dhcp_(ctx_),
      dhcp6_(ctx_),
      reasm_(limits.reasm_slots, limits.reasm_timeout_ms),
      vnet_(vnet) {
  tcp_.set_half_open_limit(limits.tcp_half_open);
  dgram_.set_limits(limits.dgram_per_port, limits.dns_queries);
}

void Stack::on_frame(std::span<const uint8_t> frame, uint64_t now_ms) {
  ++ctr_.frames_in;
  ctr_.bytes_in += frame.size();
  bool csum_ok = false;
  if (vnet_) {
    if (frame.size() < wire::VnetHdr::kLen) return ctr_.drop(Drop::bad_vnet_header);
    const auto vh = wire::VnetHdr::load(frame.data());
    // NEEDS_CSUM: the transport checksum is unfinished (offloaded), so there
    // is nothing to verify; DATA_VALID: the kernel verified it.
    csum_ok = vh.flags & (wire::VnetHdr::kNeedsCsum | wire::VnetHdr::kDataValid);
    frame = frame.subspan(wire::VnetHdr::kLen);
  }
  auto eth = wire::Eth::parse(frame);
  if (!eth) return ctr_.drop(Drop::short_frame);
  // Every frame on the tap comes from the container: learn its MAC from any
  // of them (also multicast ones, e.g. its IPv6 router solicitations).
  // Never from a frame claiming the gateway's own MAC (a spoof that would
  // make ferry address its frames to itself).
  if (!eth->src.is_multicast() && !eth->src.is_zero() && !(eth->src == out_.guest_mac()) &&
      !(eth->src == cfg_.gateway_mac))
    out_.set_guest_mac(eth->src);
  // Broadcast (ARP) and multicast (IPv6 neighbour discovery) are for us too.
  if (!(eth->dst == cfg_.gateway_mac) && !eth->dst.is_multicast()) return ctr_.drop(Drop::not_for_us);
  const auto body = frame.subspan(wire::Eth::kLen);
  switch (eth->type) {
    case wire::Eth::kArp: return on_arp(body);
    case wire::Eth::kIpv4: return on_ipv4(body, csum_ok, now_ms);
    case wire::Eth::kIpv6: return on_ipv6(body, csum_ok, now_ms);
    default: return ctr_.drop(Drop::unknown_ethertype);
  }
}

void Stack::on_arp(std::span<const uint8_t> body) {
  auto arp = wire::Arp::parse(body);
  if (!arp) return ctr_.drop(Drop::bad_arp);
  if (arp->op != wire::Arp::kRequest) return;  // replies and announcements: MAC already learnt
  if (!(arp->tpa == cfg_.gateway) && !(arp->tpa == cfg_.dns)) return;
  wire::Arp reply;
  reply.op = wire::Arp::kReply;
  reply.sha = cfg_.gateway_mac;
  reply.spa = arp->tpa;
  reply.tha = arp->sha;
  reply.tpa = arp->spa;
  reply.emit(out_.eth_payload());
  ++ctr_.arp_replies;
  out_.send_eth(wire::Eth::kArp, wire::Arp::kLen);
}

void Stack::on_ipv4(std::span<const uint8_t> pkt, bool csum_ok, uint64_t now_ms) {
  auto ip = wire::Ip4Hdr::parse(pkt);
  if (!ip) return ctr_.drop(ip.error());
  pkt = pkt.first(ip->total_len);  // drop Ethernet padding
  if (ip->src.is_multicast() || ip->src.is_broadcast() || ip->src.is_loopback())
    return ctr_.drop(Drop::bad_ip_address);
  if (ip->is_fragment()) {
    auto whole = reasm_.add(*ip, pkt.subspan(ip->header_len), now_ms, ctr_);
    if (whole.empty()) return;
    // Checksums of a reassembled datagram were never offloaded: verify them.
    return on_ipv4(whole, false, now_ms);
  }
  auto l4 = pkt.subspan(ip->header_len);
  L3 l3;
  l3.src = wire::Ip6::mapped(ip->src);
  l3.dst = wire::Ip6::mapped(ip->dst);
  l3.hdr = pkt.first(ip->header_len);
  const uint64_t pseudo = wire::pseudo_header_sum(ip->src, ip->dst, ip->proto, uint32_t(l4.size()));
  switch (ip->proto) {
    case wire::Ip4Hdr::kTcp:
      if (!csum_ok && wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), pseudo)) != 0)
        return ctr_.drop(Drop::bad_tcp_checksum);
      return tcp_.on_segment(l3, l4, now_ms);
    case wire::Ip4Hdr::kUdp: {
      auto uh = wire::UdpHdr::parse(l4);
      if (!uh) return ctr_.drop(uh.error());
      if (!csum_ok && uh->checksum != 0) {
        const uint64_t ps = wire::pseudo_header_sum(ip->src, ip->dst, ip->proto, uh->length);
        if (wire::csum_fold(wire::csum_partial(l4.data(), uh->length, ps)) != 0)
          return ctr_.drop(Drop::bad_udp_checksum);
      }
      if (Dhcp4Server::is_for_server(cfg_, ip->dst, uh->sport, uh->dport))
        return dhcp_.on_message(l4.subspan(wire::UdpHdr::kLen, uh->length - wire::UdpHdr::kLen));
      return dgram_.on_udp(l3, l4, now_ms);
    }
    case wire::Ip4Hdr::kIcmp: return on_icmp(l3, l4, now_ms);
    default: return ctr_.drop(Drop::unknown_protocol);
  }
}

// The container's IPv6 address, for the tap path of published ports
// (reaches_guest): its kernel picks it by SLAAC or DHCPv6, so ferry learns
// it. Every address the kernel takes on goes through duplicate address
// detection first (RFC 4862 5.4: a neighbour solicitation from the
// unspecified address whose target is the tentative address), which a
// container that only listens sends too; the newest such target wins.
// Until one is seen, the source of the container's own traffic in the
// prefix serves.
void Stack::learn_guest6(const wire::Ip6& addr, bool from_dad) {
  // Known already and not a new address being claimed: the common case of
  // every IPv6 packet, one branch.
  if (guest6_ && !from_dad) return;
  if (!cfg_.in_prefix6(addr) || cfg_.is_ours6(addr)) return;
  guest6_ = addr;
}

// IPv6 (with --enable-ipv6): the same translation as IPv4 for TCP and UDP,
// ICMPv6 echo, and neighbour discovery for our own addresses. Extension
// headers are not translated: packets with any (fragments included) are
// dropped and counted, except hop-by-hop ones, which only carry the
// container's multicast listener reports here (not for us).
void Stack::on_ipv6(std::span<const uint8_t> pkt, bool csum_ok, uint64_t now_ms) {
  if (!cfg_.ipv6) return ctr_.drop(Drop::ipv6_unsupported);
  auto ip = wire::Ip6Hdr::parse(pkt);
  if (!ip) return ctr_.drop(ip.error());
  auto l4 = pkt.subspan(wire::Ip6Hdr::kLen, ip->payload_len);  // drop Ethernet padding
  if (ip->src.is_multicast() || ip->src.is_loopback() || ip->src.is_v4_mapped())
    return ctr_.drop(Drop::bad_ip_address);
  learn_guest6(ip->src, false);
  L3 l3;
  l3.src = ip->src;
  l3.dst = ip->dst;
  l3.v6 = true;
  l3.hdr = pkt.first(wire::Ip6Hdr::kLen);
  switch (ip->next) {
    case wire::Ip6Hdr::kTcp:
      if (!csum_ok && wire::csum_fold(wire::csum_partial(l4.data(), l4.size(),
                                                         wire::pseudo_header_sum6(ip->src, ip->dst, ip->next,
                                                                                  uint32_t(l4.size())))) != 0)
        return ctr_.drop(Drop::bad_tcp_checksum);
      return tcp_.on_segment(l3, l4, now_ms);
    case wire::Ip6Hdr::kUdp: {
      auto uh = wire::UdpHdr::parse(l4);
      if (!uh) return ctr_.drop(uh.error());
      // RFC 8200 8.1: the UDP checksum is mandatory over IPv6.
      if (!csum_ok && (uh->checksum == 0 ||
                       wire::csum_fold(wire::csum_partial(l4.data(), uh->length,
                                                          wire::pseudo_header_sum6(ip->src, ip->dst, ip->next,
                                                                                   uh->length))) != 0))
        return ctr_.drop(Drop::bad_udp_checksum);
      if (Dhcp6Server::is_for_server(cfg_, ip->dst, uh->sport, uh->dport))
        return dhcp6_.on_message(l3, uh->sport, l4.subspan(wire::UdpHdr::kLen, uh->length - wire::UdpHdr::kLen));
      return dgram_.on_udp(l3, l4, now_ms);
    }
    case wire::Ip6Hdr::kIcmp6: {
      if (l4.size() < 8) return ctr_.drop(Drop::bad_icmp);
      if (wire::csum_fold(wire::csum_partial(
              l4.data(), l4.size(), wire::pseudo_header_sum6(ip->src, ip->dst, ip->next, uint32_t(l4.size())))) != 0)
        return ctr_.drop(Drop::bad_icmp_checksum);
      const uint8_t type = l4[0];
      if (type == wire::Icmp6::kEchoRequest) {
        if (cfg_.is_ours6(ip->dst)) {
          ++ctr_.icmp_echo_local;
          return icmp_echo_reply(ctx_, ip->dst, ip->src, l4);
        }
        return dgram_.on_icmp_echo(l3, l4, now_ms);
      }
      if (type == wire::Icmp6::kNeighborSolicit && ip->src.is_unspecified() && ip->hop_limit == 255 &&
          l4.size() >= 24)
        learn_guest6(wire::Ip6::load(l4.data() + 8), true);
      if (type >= wire::Icmp6::kRouterSolicit && type <= 137) return on_ndp(ctx_, l3, ip->hop_limit, l4);
      return ctr_.drop(Drop::icmp_unsupported);
    }
    case wire::Ip6Hdr::kHopByHop: return ctr_.drop(Drop::not_for_us);
    default: return ctr_.drop(Drop::ipv6_extension_header);
  }
}

void Stack::on_icmp(const L3& ip, std::span<const uint8_t> l4, uint64_t now_ms) {
  auto h = wire::IcmpHdr::parse(l4);
  if (!h) return ctr_.drop(h.error());
  if (wire::checksum(l4.data(), l4.size()) != 0) return ctr_.drop(Drop::bad_icmp_checksum);
  if (h->type != wire::IcmpHdr::kEchoRequest) return ctr_.drop(Drop::icmp_unsupported);
  if (ip.dst == wire::Ip6::mapped(cfg_.gateway) || ip.dst == wire::Ip6::mapped(cfg_.dns)) {
    ++ctr_.icmp_echo_local;
    return icmp_echo_reply(ctx_, ip.dst, ip.src, l4);
  }
  dgram_.on_icmp_echo(ip, l4, now_ms);
}

void Stack::on_socket(uint64_t token, uint32_t events, uint64_t now_ms) {
  switch (token_kind(token)) {
    case TokenKind::tcp: return tcp_.on_socket(token, events, now_ms);
    case TokenKind::dgram: return dgram_.on_socket(token, events, now_ms);
  }
}

void Stack::on_timer(uint64_t now_ms) {
  tcp_.on_timer(now_ms);
  if (now_ms >= next_housekeeping_) {
    dgram_.on_timer(now_ms);
    reasm_.expire(now_ms, ctr_);
    next_housekeeping_ = now_ms + kHousekeepingMs;
  }
}

uint64_t Stack::next_deadline() const {
  const uint64_t t = tcp_.next_deadline();
  return t && t < next_housekeeping_ ? t : next_housekeeping_;
}

}  // namespace ferry::core
