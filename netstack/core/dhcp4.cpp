#include "netstack/core/dhcp4.hpp"

#include "netstack/wire/checksum.hpp"
#include "netstack/wire/udp.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ferry::core {

using wire::Dhcp4;

size_t Dhcp4Server::pool_size() const { return std::min<size_t>(ctx_.cfg.dhcp_leases, kMaxLeases); }

// A pool address must be a host address of the subnet that is not one of
// ferry's own.
bool Dhcp4Server::usable(size_t slot) const {
  const NetConfig& cfg = ctx_.cfg;
  if (slot >= pool_size()) return false;
  const wire::Ip4 a = addr(slot);
  const wire::Ip4 bcast(cfg.network.v | ~cfg.netmask().v);
  return cfg.in_subnet(a) && !(a == cfg.network) && !(a == bcast) && !(a == cfg.gateway) && !(a == cfg.dns) &&
         !a.is_unspecified();
}

int Dhcp4Server::slot_of(wire::Ip4 a) const {
  const uint32_t off = a.v - ctx_.cfg.dhcp_start.v;  // wraps for addresses below the pool
  return off < pool_size() && usable(off) ? int(off) : -1;
}

int Dhcp4Server::find(const wire::Mac& mac) const {
  for (size_t i = 0; i < pool_size(); ++i)
    if (leases_[i].used && leases_[i].mac == mac) return int(i);
  return -1;
}

bool Dhcp4Server::can_have(const wire::Mac& mac, wire::Ip4 a) const {
  const int s = slot_of(a);
  return s >= 0 && (!leases_[size_t(s)].used || leases_[size_t(s)].mac == mac);
}

void Dhcp4Server::bind(const wire::Mac& mac, size_t slot) {
  for (auto& l : leases_)
    if (l.used && l.mac == mac) l.used = false;  // one address per client
  leases_[slot] = Lease{true, mac};
}

int Dhcp4Server::allocate(const wire::Mac& mac, std::optional<wire::Ip4> wanted) {
  if (wanted && can_have(mac, *wanted)) {
    const int s = slot_of(*wanted);
    bind(mac, size_t(s));
    return s;
  }
  if (int s = find(mac); s >= 0) return s;
  for (size_t i = 0; i < pool_size(); ++i)
    if (!leases_[i].used && usable(i)) {
      bind(mac, i);
      return int(i);
    }
  return -1;
}

bool Dhcp4Server::test_lease_of(const wire::Mac& mac, wire::Ip4& out) const {
  const int s = find(mac);
  if (s >= 0) out = addr(size_t(s));
  return s >= 0;
}

void Dhcp4Server::on_message(std::span<const uint8_t> msg) {
  auto m = Dhcp4::parse(msg);
  if (!m) return ctx_.ctr.drop(m.error());
  const NetConfig& cfg = ctx_.cfg;
  // A relay agent inside the container cannot be served from here.
  if (!m->giaddr.is_unspecified()) {
    ++ctx_.ctr.dhcp_ignored;
    return;
  }
  const bool other_server = m->server_id && !(*m->server_id == cfg.gateway);
  switch (m->msg_type) {
    case Dhcp4::kDiscover: {
      const int s = allocate(m->chaddr, m->requested_ip);
      if (s < 0) {
        if (!warned_full_) {
          warned_full_ = true;
          spdlog::warn("DHCP: all {} addresses are leased; ignoring DISCOVER from another client", pool_size());
        }
        ++ctx_.ctr.dhcp_ignored;
        return;
      }
      ++ctx_.ctr.dhcp_offers;
      return reply(*m, Dhcp4::kOffer, addr(size_t(s)));
    }
    case Dhcp4::kRequest: {
      // SELECTING with another server's id: the client took that offer.
      if (other_server) {
        ++ctx_.ctr.dhcp_ignored;
        return;
      }
      // SELECTING and INIT-REBOOT name the address (option 50); RENEWING
      // and REBINDING hold it in ciaddr (RFC 2131 section 4.3.2).
      const wire::Ip4 want = m->requested_ip ? *m->requested_ip : m->ciaddr;
      int s = -1;
      if (want.is_unspecified()) s = allocate(m->chaddr, std::nullopt);
      else if (can_have(m->chaddr, want)) s = slot_of(want);
      if (s < 0) {
        ++ctx_.ctr.dhcp_naks;
        return reply(*m, Dhcp4::kNak, wire::Ip4());
      }
      bind(m->chaddr, size_t(s));
      ++ctx_.ctr.dhcp_acks;
      return reply(*m, Dhcp4::kAck, addr(size_t(s)));
    }
    case Dhcp4::kRelease: {
      const int s = slot_of(m->ciaddr);
      if (other_server || s < 0 || !leases_[size_t(s)].used || !(leases_[size_t(s)].mac == m->chaddr)) {
        ++ctx_.ctr.dhcp_ignored;
        return;
      }
      leases_[size_t(s)].used = false;
      ++ctx_.ctr.dhcp_releases;
      return;
    }
    case Dhcp4::kInform:
      ++ctx_.ctr.dhcp_acks;
      return reply(*m, Dhcp4::kAck, wire::Ip4());
    default:
      // DECLINE (an address conflict cannot happen on a tap with one
      // client per lease), plain BOOTP, and server-to-client types.
      ++ctx_.ctr.dhcp_ignored;
      return;
  }
}

void Dhcp4Server::reply(const Dhcp4& req, uint8_t type, wire::Ip4 yiaddr) {
  const NetConfig& cfg = ctx_.cfg;
  uint8_t* const l4 = ctx_.out.l4();
  wire::Dhcp4Writer w(l4 + wire::UdpHdr::kLen);
  // RFC 2131 table 3: ciaddr is echoed in an ACK (renewal, INFORM), 0 in
  // OFFER and NAK; siaddr (next server) is ours, as libslirp sets it.
  const bool nak = type == Dhcp4::kNak;
  w.header(req.xid, req.flags, type == Dhcp4::kAck ? req.ciaddr : wire::Ip4(), yiaddr,
           nak ? wire::Ip4() : cfg.gateway, req.giaddr, req.chaddr);
  w.opt_u8(Dhcp4::kOptMsgType, type);
  w.opt_ip(Dhcp4::kOptServerId, cfg.gateway);
  if (nak) {
    static constexpr char kText[] = "requested address not available";
    w.opt(Dhcp4::kOptMessage, kText, uint8_t(sizeof kText - 1));
  } else {
    // No lease time in an answer to INFORM (RFC 2131 section 3.4).
    if (req.msg_type != Dhcp4::kInform) w.opt_u32(Dhcp4::kOptLeaseTime, kLeaseSeconds);
    w.opt_ip(Dhcp4::kOptSubnetMask, cfg.netmask());
    w.opt_ip(Dhcp4::kOptRouter, cfg.gateway);
    if (!cfg.disable_dns) w.opt_ip(Dhcp4::kOptDns, cfg.dns);
    w.opt_u16(Dhcp4::kOptMtu, uint16_t(cfg.mtu));
  }
  const size_t len = wire::UdpHdr::kLen + w.finish();

  // Where it goes: RFC 2131 section 4.1 (giaddr is 0 here).
  static constexpr wire::Mac kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  wire::Ip4 dst;
  const wire::Mac* eth = &req.chaddr;
  if (nak || (req.ciaddr.is_unspecified() && req.broadcast())) {
    dst = wire::Ip4(0xffffffffu);
    eth = &kBroadcastMac;
  } else if (!req.ciaddr.is_unspecified()) {
    dst = req.ciaddr;
  } else {
    dst = yiaddr;
  }
  wire::UdpHdr{Dhcp4::kServerPort, Dhcp4::kClientPort, uint16_t(len), 0}.emit(l4);
  const uint64_t ps = wire::pseudo_header_sum(cfg.gateway, dst, wire::Ip4Hdr::kUdp, uint32_t(len));
  uint16_t c = wire::csum_fold(wire::csum_partial(l4, len, ps));
  wire::store16(l4 + 6, c ? c : 0xffff);  // RFC 768: 0 means "no checksum"
  Emitter::Opts o;
  o.eth_dst = eth;
  ctx_.out.send_ipv4(cfg.gateway, dst, wire::Ip4Hdr::kUdp, len, o);
}

}  // namespace ferry::core
