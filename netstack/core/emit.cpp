#include "netstack/core/emit.hpp"

#include "netstack/wire/arp.hpp"
#include "netstack/wire/checksum.hpp"
#include "netstack/wire/ethernet.hpp"
#include "netstack/wire/ipv4.hpp"
#include "netstack/wire/ipv6.hpp"

#include <cstring>

namespace ferry::core {

Emitter::Emitter(const NetConfig& cfg, TapOut& tap, Counters& counters, bool vnet)
    : cfg_(cfg), tap_(tap), counters_(counters), vnet_(vnet), buf_(kL4Off + kMaxL4 + 64), arp_buf_(kL4Off + 64) {
  if (cfg.guest_mac) set_guest_mac(*cfg.guest_mac);
}

namespace {
constexpr size_t kEth4 = Emitter::kIp4Off - wire::Eth::kLen, kEth6 = Emitter::kIp6Off - wire::Eth::kLen;
}

void Emitter::fill_csum(uint8_t* l4p, uint64_t pseudo, size_t l4_len, uint8_t proto, size_t eth_off, const Opts& o,
                        wire::VnetHdr& vh) {
  if (o.csum_field < 0) return;
  uint8_t* field = l4p + o.csum_field;
  wire::store16(field, 0);
  if (vnet_) {
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not
    // complemented; the receiving kernel trusts it (virtio spec 5.1.6.2).
    wire::store16(field, uint16_t(~wire::csum_fold(pseudo)));
    vh.flags = wire::VnetHdr::kNeedsCsum;
    vh.csum_start = uint16_t(kL4Off - eth_off);
    vh.csum_offset = uint16_t(o.csum_field);
  } else {
    uint16_t c = wire::csum_fold(wire::csum_partial(l4p, l4_len, pseudo));
    if (proto == wire::Ip4Hdr::kUdp && c == 0) c = 0xffff;  // RFC 768
    wire::store16(field, c);
  }
}

void Emitter::send_ipv4_from(uint8_t* base, wire::Ip4 src, wire::Ip4 dst, uint8_t proto, size_t l4_len,
                             const Opts& o) {
  wire::Ip4Hdr ip;
  ip.total_len = uint16_t(20 + l4_len);
  ip.id = ip_id_++;
  ip.frag = wire::Ip4Hdr::kDf;
  ip.proto = proto;
  ip.src = src;
  ip.dst = dst;
  ip.emit(base + kIp4Off);
  wire::VnetHdr vh;
  fill_csum(base + kL4Off, wire::pseudo_header_sum(src, dst, proto, uint32_t(l4_len)), l4_len, proto, kEth4, o, vh);
  if (vnet_ && o.gso_size && l4_len - o.l4_hdr_len > o.gso_size) {
    vh.gso_type = wire::VnetHdr::kGsoTcpv4;
    vh.gso_size = o.gso_size;
    vh.hdr_len = uint16_t(kL4Off - kEth4 + o.l4_hdr_len);
  }
  finish(base, kEth4, wire::Eth::kIpv4, 20 + l4_len, vh, o.eth_dst);
}

void Emitter::send_ipv6_from(uint8_t* base, const wire::Ip6& src, const wire::Ip6& dst, uint8_t proto,
                             size_t l4_len, const Opts& o) {
  wire::Ip6Hdr ip;
  ip.payload_len = uint16_t(l4_len);
  ip.next = proto;
  // NDP messages must arrive with hop limit 255 (RFC 4861 6.1.2, 7.1.2).
  ip.hop_limit = proto == wire::Ip6Hdr::kIcmp6 ? 255 : 64;
  ip.src = src;
  ip.dst = dst;
  ip.emit(base + kIp6Off);
  wire::VnetHdr vh;
  fill_csum(base + kL4Off, wire::pseudo_header_sum6(src, dst, proto, uint32_t(l4_len)), l4_len, proto, kEth6, o, vh);
  if (vnet_ && o.gso_size && l4_len - o.l4_hdr_len > o.gso_size) {
    vh.gso_type = wire::VnetHdr::kGsoTcpv6;
    vh.gso_size = o.gso_size;
    vh.hdr_len = uint16_t(kL4Off - kEth6 + o.l4_hdr_len);
  }
  wire::Mac mc;
  if (dst.is_multicast()) {  // RFC 2464 7: 33:33 and the last 32 bits
    mc.b[0] = mc.b[1] = 0x33;
    std::memcpy(mc.b + 2, dst.b + 12, 4);
  }
  finish(base, kEth6, wire::Eth::kIpv6, wire::Ip6Hdr::kLen + l4_len, vh, dst.is_multicast() ? &mc : o.eth_dst);
}

void Emitter::send_eth(uint16_t ethertype, size_t len) { finish(buf_.data(), kEth4, ethertype, len, wire::VnetHdr{}); }

void Emitter::finish(uint8_t* base, size_t eth_off, uint16_t ethertype, size_t eth_payload_len,
                     const wire::VnetHdr& vh, const wire::Mac* eth_dst) {
  bool arp_for_guest = false;
  wire::Eth eth;
  // Until the guest has said anything we do not know its MAC: broadcast
  // (its kernel drops unicast IP in broadcast frames, so a connection opened
  // towards it is retransmitted once the ARP request below is answered).
  if (eth_dst) eth.dst = *eth_dst;
  else if (have_guest_mac_) eth.dst = guest_mac_;
  else std::fill(std::begin(eth.dst.b), std::end(eth.dst.b), uint8_t(0xff));
  if (!eth_dst && !have_guest_mac_ && ethertype == wire::Eth::kIpv4) arp_for_guest = true;
  eth.src = cfg_.gateway_mac;
  eth.type = ethertype;
  eth.emit(base + eth_off);
  size_t start = eth_off;
  if (vnet_) {
    start = eth_off - wire::VnetHdr::kLen;
    vh.store(base + start);
  }
  const size_t len = eth_off - start + wire::Eth::kLen + eth_payload_len;
  ++counters_.frames_out;
  counters_.bytes_out += len;
  tap_.send_frame(std::span<const uint8_t>(base + start, len));
  if (arp_for_guest) request_guest_mac();
}

// "Who has <guest>? Tell <gateway>": its reply teaches us the MAC.
void Emitter::request_guest_mac() {
  wire::Arp req;
  req.op = wire::Arp::kRequest;
  req.sha = cfg_.gateway_mac;
  req.spa = cfg_.gateway;
  req.tpa = cfg_.guest;
  req.emit(arp_buf_.data() + kIp4Off);
  wire::Eth eth;
  std::fill(std::begin(eth.dst.b), std::end(eth.dst.b), uint8_t(0xff));
  eth.src = cfg_.gateway_mac;
  eth.type = wire::Eth::kArp;
  eth.emit(arp_buf_.data() + kEth4);
  size_t start = kEth4;
  if (vnet_) {
    start = kEth4 - wire::VnetHdr::kLen;
    wire::VnetHdr{}.store(arp_buf_.data() + start);
  }
  ++counters_.frames_out;
  tap_.send_frame(std::span<const uint8_t>(arp_buf_.data() + start, kIp4Off + wire::Arp::kLen - start));
}

}  // namespace ferry::core
