#include "netstack/core/dgram.hpp"

#include "netstack/core/icmp.hpp"
#include "netstack/wire/checksum.hpp"
#include "netstack/wire/icmp.hpp"
#include "netstack/wire/ipv6.hpp"
#include "netstack/wire/udp.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry::core {

Dgram::Dgram(Context& ctx, size_t max_flows)
    : ctx_(ctx),
      flows_(max_flows),
      index_(max_flows),
      // Not zeroed: a page becomes resident only once a datagram lands in it.
      batch_(new uint8_t[kBatch * kBatchStride]),
      msgs_(kBatch) {
  free_slots_.reserve(max_flows);
  for (size_t i = max_flows; i-- > 0;) free_slots_.push_back(uint32_t(i));
  pending_.reserve(max_flows);
  pending_now_.reserve(max_flows);
  out_q_.reserve(kOutQueue);
  out_msgs_.reserve(kOutQueue);
  out_flows_.reserve(kOutQueue);
}

void Dgram::set_limits(size_t per_port, size_t dns) {
  max_per_port_ = std::min<size_t>(per_port, 65535);
  max_dns_ = dns;
  per_port_.emplace(2 * 65536);
}

int32_t Dgram::open_flow(const FlowKey& key, bool icmp, bool dns, int fd, uint64_t now_ms) {
  if (dns && dns_active_ >= max_dns_) {
    ++ctx_.ctr.dgram_evicted_dns;
    evict_oldest([](const DgramFlow& g) { return g.dns; });
  }
  if (per_port_ && (*per_port_)[(icmp ? 65536u : 0u) + key.cport] >= max_per_port_) {
    ++ctx_.ctr.dgram_evicted_port;
    evict_oldest([&](const DgramFlow& g) { return g.icmp == icmp && g.key.cport == key.cport; });
  }
  if (free_slots_.empty()) {
    ++ctx_.ctr.dgram_evicted_full;
    evict_oldest([](const DgramFlow&) { return true; });
  }
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  DgramFlow& f = flows_[slot];
  f.used = true;
  f.icmp = icmp;
  f.dns = dns;
  f.fd = fd;
  f.gso = true;
  f.pending = false;
  f.out_head = f.out_tail = UINT32_MAX;
  f.key = key;
  dns_active_ += dns;
  if (per_port_) ++per_port(f);
  f.last_active_ms = now_ms;
  index_.insert(key, int32_t(slot));
  ++active_;
  ctx_.host.watch(fd, make_token(TokenKind::dgram, f.gen, slot), true, false);
  return int32_t(slot);
}

void Dgram::close_flow(uint32_t slot) {
  DgramFlow& f = flows_[slot];
  drop_queued(f);
  dns_active_ -= f.dns;
  if (per_port_) --per_port(f);
  ctx_.host.close(f.fd, false);
  index_.erase(f.key);
  f.used = false;
  f.pending = false;
  f.fd = -1;
  f.gen = (f.gen + 1) & 0xffffff;
  free_slots_.push_back(slot);
  --active_;
}

template <class Pred>
void Dgram::evict_oldest(Pred pred) {
  uint32_t oldest = UINT32_MAX;
  uint64_t t = UINT64_MAX;
  for (uint32_t i = 0; i < flows_.size(); ++i)
    if (flows_[i].used && flows_[i].last_active_ms < t && pred(flows_[i])) {
      t = flows_[i].last_active_ms;
      oldest = i;
    }
  if (oldest != UINT32_MAX) close_flow(oldest);
}

void Dgram::on_udp(const L3& ip, std::span<const uint8_t> seg, uint64_t now_ms) {
  auto uh = wire::UdpHdr::parse(seg);
  if (!uh) {
    ctx_.ctr.drop(uh.error());
    return;
  }
  const auto payload = seg.subspan(wire::UdpHdr::kLen, uh->length - wire::UdpHdr::kLen);
  const FlowKey key{ip.src, ip.dst, uh->sport, uh->dport, wire::Ip4Hdr::kUdp};
  int32_t slot = index_.find(key);
  if (slot == FlowIndex::kEmpty) {
    auto dst = ctx_.map_destination(ip.dst, uh->dport);
    if (!dst) {
      ctx_.ctr.drop(dst.error());
      if (dst.error() == wire::Drop::host_loopback_disabled)
        dest_unreachable(ctx_, ip, seg, wire::IcmpHdr::kAdminProhibited, wire::Icmp6::kAdminProhibited);
      return;
    }
    const int fd = ctx_.host.udp_open(*dst);
    if (fd < 0) {
      ctx_.ctr.drop(wire::Drop::udp_send_failed);
      return;
    }
    const bool dns = ip.dst == wire::Ip6::mapped(ctx_.cfg.dns) || (ip.v6 && ip.dst == ctx_.cfg.dns6);
    slot = open_flow(key, false, dns, fd, now_ms);
    ++ctx_.ctr.udp_flows_opened;
  }
  DgramFlow& f = flows_[size_t(slot)];
  f.last_active_ms = now_ms;
  if (f.dns) ++ctx_.ctr.dns_queries;
  if (out_q_.size() == kOutQueue || out_used_ + payload.size() > kOutBytes) flush_out();
  if (!out_buf_) out_buf_.reset(new uint8_t[kOutBytes]);  // not zeroed: untouched pages stay unresident
  std::memcpy(out_buf_.get() + out_used_, payload.data(), payload.size());
  const uint32_t idx = uint32_t(out_q_.size());
  out_q_.push_back(OutDgram{uint32_t(out_used_), uint32_t(payload.size()), UINT32_MAX});
  out_used_ += payload.size();
  if (f.out_head == UINT32_MAX) {
    f.out_head = idx;
    out_flows_.push_back(uint32_t(slot));
  } else {
    out_q_[f.out_tail].next = idx;
  }
  f.out_tail = idx;
}

void Dgram::drop_queued(DgramFlow& f) {
  for (uint32_t i = f.out_head; i != UINT32_MAX; i = out_q_[i].next) ctx_.ctr.drop(wire::Drop::udp_send_failed);
  f.out_head = f.out_tail = UINT32_MAX;
}

void Dgram::flush_out() {
  constexpr size_t kRun = 64;  // datagrams per dgram_send_many call
  for (const uint32_t slot : out_flows_) {
    DgramFlow& f = flows_[slot];
    uint32_t next = f.out_head;  // UINT32_MAX if the flow closed since (drop_queued counted them)
    while (next != UINT32_MAX) {
      out_msgs_.clear();
      for (; next != UINT32_MAX && out_msgs_.size() < kRun; next = out_q_[next].next)
        out_msgs_.push_back(Host::MsgBuf{out_buf_.get() + out_q_[next].off, 0, out_q_[next].len});
      const size_t n = out_msgs_.size();
      for (size_t k = 0; k < n;) {
        const auto rest = std::span<const Host::MsgBuf>(out_msgs_.data() + k, n - k);
        const int r = ctx_.host.dgram_send_many(f.fd, rest, f.gso);
        if (r > 0) {
          k += size_t(r);
          ctx_.ctr.udp_datagrams_out += uint64_t(r);
          continue;
        }
        // The first datagram failed. ECONNREFUSED is the socket's pending
        // error from an earlier ICMP port unreachable, reported once: only
        // that datagram is lost. Any other error (a full send buffer) would
        // fail the rest of the run too.
        const size_t lost = r == -ECONNREFUSED ? 1 : n - k;
        for (size_t d = 0; d < lost; ++d) ctx_.ctr.drop(wire::Drop::udp_send_failed);
        k += lost;
      }
    }
    f.out_head = f.out_tail = UINT32_MAX;
  }
  out_flows_.clear();
  out_q_.clear();
  out_used_ = 0;
}

void Dgram::on_inbound(SockAddr from, const wire::Ip6& guest, uint16_t guest_port, std::span<const uint8_t> payload,
                       uint64_t now_ms, const std::function<int()>& make_socket) {
  if (payload.size() > Emitter::kMaxL4 - wire::UdpHdr::kLen) {
    ctx_.ctr.drop(wire::Drop::datagram_too_long);
    return;
  }
  const FlowKey key{guest, from.addr, guest_port, from.port, wire::Ip4Hdr::kUdp};
  int32_t slot = index_.find(key);
  if (slot == FlowIndex::kEmpty) {
    const int fd = make_socket();
    if (fd < 0) {
      ctx_.ctr.drop(wire::Drop::udp_send_failed);
      return;
    }
    slot = open_flow(key, false, false, fd, now_ms);
    ++ctx_.ctr.udp_flows_inbound;
  }
  flows_[size_t(slot)].last_active_ms = now_ms;
  uint8_t* base = batch(0);
  std::memcpy(base + Emitter::kL4Off + wire::UdpHdr::kLen, payload.data(), payload.size());
  wire::UdpHdr uh{from.port, guest_port, uint16_t(payload.size() + wire::UdpHdr::kLen), 0};
  uh.emit(base + Emitter::kL4Off);
  Emitter::Opts o;
  o.csum_field = 6;
  ctx_.out.send_ip_from(base, from.addr, guest, wire::Ip4Hdr::kUdp, payload.size() + wire::UdpHdr::kLen, o);
  ++ctx_.ctr.udp_datagrams_in;
}

void Dgram::on_icmp_echo(const L3& ip, std::span<const uint8_t> icmp, uint64_t now_ms) {
  auto h = wire::IcmpHdr::parse(icmp);
  if (!h) {
    ctx_.ctr.drop(h.error());
    return;
  }
  auto dst = ctx_.map_destination(ip.dst, 0);
  if (!dst) {
    ctx_.ctr.drop(dst.error());
    return;
  }
  const FlowKey key{ip.src, ip.dst, h->id, 0, ip.v6 ? wire::Ip6Hdr::kIcmp6 : wire::Ip4Hdr::kIcmp};
  int32_t slot = index_.find(key);
  if (slot == FlowIndex::kEmpty) {
    const int fd = ctx_.host.icmp_open(dst->addr);
    if (fd < 0) {
      ctx_.ctr.drop(wire::Drop::icmp_unsupported);
      if (!warned_icmp_ && (fd == -EACCES || fd == -EPERM)) {
        warned_icmp_ = true;
        spdlog::warn(
            "cannot forward ping: ICMP echo sockets are not allowed for this group "
            "(see sysctl net.ipv4.ping_group_range); only the gateway and DNS addresses answer ping");
      }
      return;
    }
    slot = open_flow(key, true, false, fd, now_ms);
  }
  DgramFlow& f = flows_[size_t(slot)];
  f.last_active_ms = now_ms;
  // The kernel picks the identifier of an echo socket; it keeps the rest.
  if (ctx_.host.dgram_send(f.fd, icmp.data(), icmp.size()) >= 0) ++ctx_.ctr.icmp_echo_forwarded;
}

void Dgram::on_socket(uint64_t tok, uint32_t events, uint64_t now_ms) {
  const uint32_t slot = token_slot(tok);
  if (slot >= flows_.size()) return;
  DgramFlow& f = flows_[slot];
  if (!f.used || f.gen != token_gen(tok)) return;
  (void)events;
  const wire::Ip6 from = f.key.daddr, to = f.key.caddr;
  const bool v6 = !from.is_v4_mapped();
  // Datagrams land in frame-shaped buffers, after room for the headers, so
  // they go to the tap without a copy: ICMP at the L4 offset, UDP after the
  // UDP header.
  const size_t hdr = f.icmp ? 0 : wire::UdpHdr::kLen;
  int budget = kRecvBudget;
  while (budget > 0) {
    const size_t want = std::min<size_t>(kBatch, size_t(budget));
    for (size_t i = 0; i < want; ++i)
      msgs_[i] = Host::MsgBuf{batch(i) + Emitter::kL4Off + hdr, Emitter::kMaxL4 - hdr, 0};
    const int n = ctx_.host.dgram_recv_many(f.fd, std::span<Host::MsgBuf>(msgs_.data(), want));
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      uint8_t* base = batch(size_t(i));
      uint8_t* l4 = base + Emitter::kL4Off;
      const size_t len = msgs_[size_t(i)].len;
      if (f.icmp) {
        if (len < wire::IcmpHdr::kLen) continue;
        wire::store16(l4 + 4, f.key.cport);  // the container's identifier back
        wire::store16(l4 + 2, 0);
        if (v6) {
          const uint64_t ps = wire::pseudo_header_sum6(from, to, wire::Ip6Hdr::kIcmp6, uint32_t(len));
          wire::store16(l4 + 2, wire::csum_fold(wire::csum_partial(l4, len, ps)));
          ctx_.out.send_ip_from(base, from, to, wire::Ip6Hdr::kIcmp6, len, {});
        } else {
          wire::store16(l4 + 2, wire::checksum(l4, len));
          ctx_.out.send_ip_from(base, from, to, wire::Ip4Hdr::kIcmp, len, {});
        }
      } else {
        wire::UdpHdr uh{f.key.dport, f.key.cport, uint16_t(len + wire::UdpHdr::kLen), 0};
        uh.emit(l4);
        Emitter::Opts o;
        o.csum_field = 6;
        ctx_.out.send_ip_from(base, from, to, wire::Ip4Hdr::kUdp, len + wire::UdpHdr::kLen, o);
        ++ctx_.ctr.udp_datagrams_in;
      }
    }
    f.last_active_ms = now_ms;
    budget -= n;
    if (size_t(n) < want) return;
  }
  if (budget <= 0 && !f.pending) {
    f.pending = true;
    pending_.push_back(slot);
  }
}

void Dgram::run_pending(uint64_t now_ms) {
  pending_now_.swap(pending_);
  for (uint32_t slot : pending_now_) {
    DgramFlow& f = flows_[slot];
    if (!f.pending) continue;
    f.pending = false;
    if (f.used) on_socket(make_token(TokenKind::dgram, f.gen, slot), kEvIn, now_ms);
  }
  pending_now_.clear();
}

void Dgram::on_timer(uint64_t now_ms) {
  for (uint32_t i = 0; i < flows_.size() && active_ > 0; ++i) {
    DgramFlow& f = flows_[i];
    if (!f.used) continue;
    const uint64_t idle = f.icmp ? kIcmpIdleMs : f.dns ? kDnsIdleMs : kUdpIdleMs;
    if (now_ms - f.last_active_ms >= idle) {
      ++ctx_.ctr.udp_flows_expired;
      close_flow(i);
    }
  }
}

}  // namespace ferry::core
