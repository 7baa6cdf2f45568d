#include "netstack/core/emit.hpp"

#include "netstack/wire/arp.hpp"
#include "netstack/wire/checksum.hpp"
#include "netstack/wire/ethernet.hpp"
#include "netstack/wire/ipv4.hpp"

namespace ferry::core {

Emitter::Emitter(const NetConfig& cfg, TapOut& tap, Counters& counters, bool vnet)
    : cfg_(cfg), tap_(tap), counters_(counters), vnet_(vnet), buf_(kL4Off + kMaxL4 + 64), arp_buf_(kL4Off + 64) {
  if (cfg.guest_mac) set_guest_mac(*cfg.guest_mac);
}

void Emitter::send_ipv4_from(uint8_t* base, wire::Ip4 src, wire::Ip4 dst, uint8_t proto, size_t l4_len,
                             const Opts& o) {
  uint8_t* const l4p = base + kL4Off;
  wire::Ip4Hdr ip;
  ip.total_len = uint16_t(20 + l4_len);
  ip.id = ip_id_++;
  ip.frag = wire::Ip4Hdr::kDf;
  ip.proto = proto;
  ip.src = src;
  ip.dst = dst;
  ip.emit(base + kIpOff);

  wire::VnetHdr vh;
  if (o.csum_field >= 0) {
    uint8_t* field = l4p + o.csum_field;
    wire::store16(field, 0);
    const uint64_t pseudo = wire::pseudo_header_sum(src, dst, proto, uint32_t(l4_len));
    if (vnet_) {
      // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not
      // complemented; the receiving kernel trusts it (virtio spec 5.1.6.2).
      wire::store16(field, uint16_t(~wire::csum_fold(pseudo)));
      vh.flags = wire::VnetHdr::kNeedsCsum;
      vh.csum_start = uint16_t(kL4Off - kEthOff);
      vh.csum_offset = uint16_t(o.csum_field);
    } else {
      uint16_t c = wire::csum_fold(wire::csum_partial(l4p, l4_len, pseudo));
      if (proto == wire::Ip4Hdr::kUdp && c == 0) c = 0xffff;  // RFC 768
      wire::store16(field, c);
    }
  }
  if (vnet_ && o.gso_size && l4_len - o.l4_hdr_len > o.gso_size) {
    vh.gso_type = wire::VnetHdr::kGsoTcpv4;
    vh.gso_size = o.gso_size;
    vh.hdr_len = uint16_t(kL4Off - kEthOff + o.l4_hdr_len);
  }
  finish(base, wire::Eth::kIpv4, 20 + l4_len, vh, o.eth_dst);
}

void Emitter::send_eth(uint16_t ethertype, size_t len) { finish(buf_.data(), ethertype, len, wire::VnetHdr{}); }

void Emitter::finish(uint8_t* base, uint16_t ethertype, size_t eth_payload_len, const wire::VnetHdr& vh,
                     const wire::Mac* eth_dst) {
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
  eth.emit(base + kEthOff);
  size_t start = kEthOff;
  if (vnet_) {
    vh.store(base + kVnetOff);
    start = kVnetOff;
  }
  const size_t len = kEthOff - start + 14 + eth_payload_len;
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
  req.emit(arp_buf_.data() + kIpOff);
  wire::Eth eth;
  std::fill(std::begin(eth.dst.b), std::end(eth.dst.b), uint8_t(0xff));
  eth.src = cfg_.gateway_mac;
  eth.type = wire::Eth::kArp;
  eth.emit(arp_buf_.data() + kEthOff);
  size_t start = kEthOff;
  if (vnet_) {
    wire::VnetHdr{}.store(arp_buf_.data() + kVnetOff);
    start = kVnetOff;
  }
  ++counters_.frames_out;
  tap_.send_frame(std::span<const uint8_t>(arp_buf_.data() + start, kIpOff + wire::Arp::kLen - start));
}

}  // namespace ferry::core
