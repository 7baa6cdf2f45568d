#include "netstack/core/dhcp6.hpp"

#include "netstack/wire/checksum.hpp"
#include "netstack/wire/ipv6.hpp"
#include "netstack/wire/udp.hpp"

#include <algorithm>
#include <cstring>

namespace ferry::core {

namespace {
// Message types and options (RFC 8415 sections 7.3, 21).
enum : uint8_t {
  kSolicit = 1, kAdvertise = 2, kRequest = 3, kConfirm = 4, kRenew = 5, kRebind = 6, kReply = 7,
  kRelease = 8, kDecline = 9, kInfoRequest = 11
};
enum : uint16_t {
  kOptClientId = 1, kOptServerId = 2, kOptIaNa = 3, kOptIaAddr = 5, kOptStatus = 13, kOptRapidCommit = 14,
  kOptDnsServers = 23
};

struct Parsed {
  std::span<const uint8_t> client_id, server_id;
  bool has_ia_na = false, rapid_commit = false;
  uint32_t iaid = 0;
};

// Walks the options; false when one runs past the message.
bool parse(std::span<const uint8_t> opts, Parsed& p) {
  while (!opts.empty()) {
    if (opts.size() < 4) return false;
    const uint16_t code = wire::load16(opts.data()), len = wire::load16(opts.data() + 2);
    if (size_t(len) + 4 > opts.size()) return false;
    const auto body = opts.subspan(4, len);
    switch (code) {
      case kOptClientId: p.client_id = body; break;
      case kOptServerId: p.server_id = body; break;
      case kOptRapidCommit: p.rapid_commit = true; break;
      case kOptIaNa:
        if (len < 12) return false;
        if (!p.has_ia_na) p.iaid = wire::load32(body.data());
        p.has_ia_na = true;
        break;
      default: break;  // unknown options are ignored
    }
    opts = opts.subspan(size_t(len) + 4);
  }
  return true;
}

// A writer of options into the reply buffer.
struct Out {
  uint8_t* p;
  size_t n = 0, cap;
  bool ok = true;
  uint8_t* opt(uint16_t code, size_t len) {
    if (n + 4 + len > cap) {
      ok = false;
      return nullptr;
    }
    wire::store16(p + n, code);
    wire::store16(p + n + 2, uint16_t(len));
    uint8_t* body = p + n + 4;
    n += 4 + len;
    return body;
  }
};
}  // namespace

wire::Ip6 Dhcp6Server::address_of(size_t i) const {
  wire::Ip6 a = ctx_.cfg.guest6;
  wire::store16(a.b + 14, uint16_t(wire::load16(a.b + 14) + i));
  return a;
}

int Dhcp6Server::lease_for(std::span<const uint8_t> duid, bool create) {
  for (size_t i = 0; i < leases_.size(); ++i)
    if (leases_[i].used && std::equal(duid.begin(), duid.end(), leases_[i].duid.begin(), leases_[i].duid.end()))
      return int(i);
  if (!create) return -1;
  for (size_t i = 0; i < leases_.size(); ++i)
    if (!leases_[i].used) {
      leases_[i].used = true;
      leases_[i].duid.assign(duid.begin(), duid.end());
      return int(i);
    }
  return -1;
}

void Dhcp6Server::on_message(const L3& ip, uint16_t sport, std::span<const uint8_t> msg) {
  if (msg.size() < 4) return ctx_.ctr.drop(wire::Drop::bad_dhcp);
  const uint8_t type = msg[0];
  Parsed in;
  if (!parse(msg.subspan(4), in)) return ctx_.ctr.drop(wire::Drop::bad_dhcp);

  // Our Server ID: DUID-LL (type 3), hardware type 1, the gateway's MAC.
  uint8_t server_id[10] = {0, 3, 0, 1};
  ctx_.cfg.gateway_mac.store(server_id + 4);
  const bool for_us = in.server_id.empty() ||
                      (in.server_id.size() == sizeof server_id &&
                       std::memcmp(in.server_id.data(), server_id, sizeof server_id) == 0);
  bool needs_server_id = false, needs_client_id = true, with_address = false, release = false, confirm = false;
  uint8_t reply = kReply;
  switch (type) {
    case kSolicit:
      reply = in.rapid_commit ? kReply : kAdvertise;
      with_address = in.has_ia_na;
      if (!in.server_id.empty()) return void(++ctx_.ctr.dhcp_ignored);  // RFC 8415 16.2
      break;
    case kRequest:
    case kRenew:
      needs_server_id = true;
      with_address = in.has_ia_na;
      break;
    case kRebind: with_address = in.has_ia_na; break;
    case kConfirm: confirm = true; break;
    case kRelease:
      needs_server_id = true;
      release = true;
      break;
    case kInfoRequest: needs_client_id = false; break;
    default: return void(++ctx_.ctr.dhcp_ignored);  // decline, relay and server messages
  }
  if ((needs_client_id && in.client_id.empty()) || (needs_server_id && in.server_id.empty()) || !for_us)
    return void(++ctx_.ctr.dhcp_ignored);

  int lease = -1;
  if (release) {
    if ((lease = lease_for(in.client_id, false)) >= 0) leases_[size_t(lease)] = Lease{};
    ++ctx_.ctr.dhcp_releases;
  } else if (with_address) {
    lease = lease_for(in.client_id, true);
  }

  // The reply: UDP header, then the message, at the emitter's L4 offset.
  uint8_t* l4 = ctx_.out.l4();
  uint8_t* m = l4 + wire::UdpHdr::kLen;
  m[0] = reply;
  std::memcpy(m + 1, msg.data() + 1, 3);  // transaction id
  Out out{m + 4, 0, 1200};
  if (!in.client_id.empty())
    if (uint8_t* b = out.opt(kOptClientId, in.client_id.size()))
      std::memcpy(b, in.client_id.data(), in.client_id.size());
  if (uint8_t* b = out.opt(kOptServerId, sizeof server_id)) std::memcpy(b, server_id, sizeof server_id);
  if (with_address) {
    if (lease >= 0) {
      uint8_t* b = out.opt(kOptIaNa, 12 + 4 + 24);
      if (b) {
        wire::store32(b, in.iaid);
        wire::store32(b + 4, kPreferred / 2);       // T1
        wire::store32(b + 8, kPreferred * 4 / 5);   // T2
        wire::store16(b + 12, kOptIaAddr);
        wire::store16(b + 14, 24);
        address_of(size_t(lease)).store(b + 16);
        wire::store32(b + 32, kPreferred);
        wire::store32(b + 36, kValid);
      }
    } else {  // no address left: IA_NA with status NoAddrsAvail (2)
      static constexpr char kText[] = "no addresses left";
      uint8_t* b = out.opt(kOptIaNa, 12 + 4 + 2 + sizeof kText - 1);
      if (b) {
        wire::store32(b, in.iaid);
        wire::store32(b + 4, 0);
        wire::store32(b + 8, 0);
        wire::store16(b + 12, kOptStatus);
        wire::store16(b + 14, uint16_t(2 + sizeof kText - 1));
        wire::store16(b + 16, 2);
        std::memcpy(b + 18, kText, sizeof kText - 1);
      }
    }
  }
  if (release || confirm)
    if (uint8_t* b = out.opt(kOptStatus, 2)) wire::store16(b, 0);  // Success
  if (in.rapid_commit && type == kSolicit) out.opt(kOptRapidCommit, 0);
  if (!ctx_.cfg.disable_dns)
    if (uint8_t* b = out.opt(kOptDnsServers, 16)) ctx_.cfg.dns6.store(b);
  if (!out.ok) return ctx_.ctr.drop(wire::Drop::bad_dhcp);

  const size_t udp_len = wire::UdpHdr::kLen + 4 + out.n;
  wire::UdpHdr uh{kServerPort, sport, uint16_t(udp_len), 0};
  uh.emit(l4);
  // A full checksum (no offload): clients may read raw frames.
  const wire::Ip6& from = ctx_.cfg.gateway_ll;
  uint16_t c = wire::csum_fold(wire::csum_partial(l4, udp_len, wire::pseudo_header_sum6(from, ip.src, wire::Ip6Hdr::kUdp,
                                                                                       uint32_t(udp_len))));
  if (c == 0) c = 0xffff;
  wire::store16(l4 + 6, c);
  if (reply == kAdvertise) ++ctx_.ctr.dhcp_offers;
  else ++ctx_.ctr.dhcp_acks;
  ctx_.out.send_ip(from, ip.src, wire::Ip6Hdr::kUdp, udp_len, {});
}

}  // namespace ferry::core
