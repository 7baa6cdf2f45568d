#include "netstack/core/tcp.hpp"

#include "netstack/core/icmp.hpp"
#include "netstack/wire/icmp.hpp"

#include <algorithm>
#include <cerrno>

namespace ferry::core {

using wire::seq_ge;
using wire::seq_gt;
using wire::seq_le;
using wire::seq_lt;
using wire::TcpHdr;

// The container's FIN is in and ours is acknowledged on an established flow:
// close_if_done() releases such a flow in the turn that makes this true.
static bool both_fins_through(const TcpFlow& f) {
  return f.state == TcpFlow::State::established && f.c_fin && f.fin_acked;
}

Tcp::Tcp(Context& ctx, size_t max_flows) : ctx_(ctx), flows_(max_flows), index_(max_flows) {
  free_slots_.reserve(max_flows);
  for (size_t i = max_flows; i-- > 0;) free_slots_.push_back(uint32_t(i));
  timer_list_.reserve(max_flows);
  ack_list_.reserve(max_flows);
}

const TcpFlow* Tcp::find_for_test(const FlowKey& k) const {
  int32_t s = index_.find(k);
  return s == FlowIndex::kEmpty ? nullptr : &flows_[size_t(s)];
}

uint64_t Tcp::token(uint32_t slot) const { return make_token(TokenKind::tcp, flows_[slot].gen, slot); }

uint32_t Tcp::alloc_slot() {
  uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  TcpFlow& f = flows_[slot];
  // Keep the bookkeeping that outlives a flow: the generation and whether the
  // slot still sits in the timer or ACK list (those are cleaned lazily).
  TcpFlow fresh;
  fresh.gen = f.gen;
  fresh.in_timer_list = f.in_timer_list;
  fresh.in_ack_list = f.in_ack_list;
  fresh.ack_pending = false;
  f = fresh;
  ++active_;
  return slot;
}

void Tcp::free_flow(uint32_t slot, bool reset_host) {
  TcpFlow& f = flows_[slot];
  if (f.state == TcpFlow::State::connecting || f.state == TcpFlow::State::syn_ack_sent) --half_open_;
  if (f.fd >= 0) ctx_.host.close(f.fd, reset_host);
  index_.erase(f.key);
  f.fd = -1;
  f.state = TcpFlow::State::free;
  f.rto_deadline = 0;
  f.ack_pending = false;
  f.gen = (f.gen + 1) & 0xffffff;
  free_slots_.push_back(slot);
  --active_;
  ++ctx_.ctr.tcp_flows_closed;
}

// --- Segments from the container ------------------------------------------------

void Tcp::on_segment(const L3& ip, std::span<const uint8_t> seg, uint64_t now_ms) {
  auto parsed = TcpHdr::parse(seg);
  if (!parsed) {
    ctx_.ctr.drop(parsed.error());
    return;
  }
  const TcpHdr& th = *parsed;
  const auto payload = seg.subspan(th.header_len);
  const FlowKey key{ip.src, ip.dst, th.sport, th.dport, wire::Ip4Hdr::kTcp};
  const int32_t found = index_.find(key);
  if (found == FlowIndex::kEmpty) {
    if (th.has(TcpHdr::kSyn) && !th.has(TcpHdr::kAck) && !th.has(TcpHdr::kRst)) {
      on_syn(ip, th, now_ms);
    } else {
      ctx_.ctr.drop(wire::Drop::tcp_no_flow);
      if (!th.has(TcpHdr::kRst)) send_rst_for(ip, th, payload.size());
    }
    return;
  }
  const uint32_t slot = uint32_t(found);
  TcpFlow& f = flows_[slot];
  if (th.has(TcpHdr::kRst)) {
    // The container aborted: the host peer sees a reset too.
    ++ctx_.ctr.tcp_resets_to_host;
    free_flow(slot, true);
    return;
  }
  switch (f.state) {
    case TcpFlow::State::free:
    case TcpFlow::State::connecting:
      return;  // SYN retransmissions while the host connect is in progress
    case TcpFlow::State::syn_ack_sent:
      if (th.has(TcpHdr::kSyn) && !th.has(TcpHdr::kAck)) {
        send_segment(f, TcpHdr::kSyn | TcpHdr::kAck, f.isn, 0, true);
        return;
      }
      if (!th.has(TcpHdr::kAck) || th.ack != f.isn + 1) return;
      f.state = TcpFlow::State::established;
      --half_open_;
      f.snd_una = f.snd_nxt = f.snd_max = f.isn + 1;
      f.wnd_edge = th.ack + (uint32_t(th.window) << f.c_wscale);
      f.rto_deadline = 0;
      f.retries = 0;
      f.rto_ms = kMinRtoMs;
      break;
    case TcpFlow::State::syn_sent:
      // RFC 9293 3.10.7.3: only a SYN-ACK acknowledging our SYN completes it.
      if (!th.has(TcpHdr::kSyn) || !th.has(TcpHdr::kAck) || th.ack != f.isn + 1) return;
      f.rcv_nxt = th.seq + 1;
      f.c_mss = th.mss > 0 ? uint16_t(std::max(th.mss, 64)) : 536;
      if (th.wscale >= 0) {
        f.c_wscale = uint8_t(std::min(th.wscale, 14));
      } else {
        f.our_wscale = 0;  // RFC 7323 2.2: no scaling unless both offered it
      }
      f.state = TcpFlow::State::established;
      f.snd_una = f.snd_nxt = f.snd_max = f.isn + 1;
      f.wnd_edge = th.ack + th.window;  // windows in SYNs are never scaled
      f.rto_deadline = 0;
      f.retries = 0;
      f.rto_ms = kMinRtoMs;
      send_ack(slot);
      ctx_.host.watch(f.fd, token(slot), true, false);
      push(slot, now_ms);
      return;
    case TcpFlow::State::established:
      if (th.has(TcpHdr::kSyn)) {  // RFC 9293 3.10.7.4: challenge ACK
        send_ack(slot);
        return;
      }
      handle_ack(slot, th, payload.size(), now_ms);
      if (f.state == TcpFlow::State::free) return;
      break;
  }
  receive_data(slot, th.seq, payload, th.has(TcpHdr::kFin));
  if (f.state == TcpFlow::State::free) return;
  push(slot, now_ms);
  close_if_done(slot);
}

// Both FINs are through: acknowledge the container's FIN now (the flow will
// not be there for the batched ACK, and a container left in LAST-ACK would
// retransmit its FIN after a timeout), then release the flow and its socket.
void Tcp::close_if_done(uint32_t slot) {
  TcpFlow& f = flows_[slot];
  if (!both_fins_through(f)) return;
  if (f.ack_pending) send_ack(slot);
  free_flow(slot, false);
}

void Tcp::on_syn(const L3& ip, const TcpHdr& th, uint64_t now_ms) {
  (void)now_ms;
  if (free_slots_.empty()) {
    ctx_.ctr.drop(wire::Drop::flow_table_full);
    send_rst_for(ip, th, 0);
    return;
  }
  if (half_open_ >= max_half_open_) {
    ctx_.ctr.drop(wire::Drop::tcp_half_open_full);
    send_rst_for(ip, th, 0);
    return;
  }
  auto dst = ctx_.map_destination(ip.dst, th.dport);
  if (!dst) {
    ctx_.ctr.drop(dst.error());
    // Refuse what the container may address but not reach (the host's
    // loopback when disabled, the DNS address on other ports); ignore
    // addresses that are nobody's.
    if (dst.error() != wire::Drop::bad_ip_address) send_rst_for(ip, th, 0);
    return;
  }
  const int fd = ctx_.host.tcp_connect(*dst);
  if (fd < 0) {
    if (fd == -ENETUNREACH || fd == -EHOSTUNREACH) {
      ++ctx_.ctr.tcp_connect_unreachable;
      tcp_unreachable(ctx_, FlowKey{ip.src, ip.dst, th.sport, th.dport, wire::Ip4Hdr::kTcp}, th.seq, fd == -ENETUNREACH);
    } else {
      ++ctx_.ctr.tcp_connect_refused;
      send_rst_for(ip, th, 0);
    }
    return;
  }
  const uint32_t slot = alloc_slot();
  TcpFlow& f = flows_[slot];
  f.state = TcpFlow::State::connecting;
  ++half_open_;
  f.fd = fd;
  f.key = FlowKey{ip.src, ip.dst, th.sport, th.dport, wire::Ip4Hdr::kTcp};
  f.rcv_nxt = th.seq + 1;
  f.c_mss = th.mss > 0 ? uint16_t(std::max(th.mss, 64)) : 536;
  if (th.wscale >= 0) {  // RFC 7323 2.2: scale only if both sides offer it
    f.c_wscale = uint8_t(std::min(th.wscale, 14));
    f.our_wscale = kOurWscale;
  }
  f.isn = ctx_.rng.next();
  f.snd_una = f.snd_nxt = f.snd_max = f.isn;
  f.wnd_edge = f.isn + 1 + th.window;  // windows in SYNs are never scaled
  f.rto_ms = kMinRtoMs;
  index_.insert(f.key, int32_t(slot));
  ++ctx_.ctr.tcp_flows_opened;
  ctx_.host.watch(fd, token(slot), false, true);
}

bool Tcp::open_inbound(int fd, SockAddr from, const wire::Ip6& guest, uint16_t guest_port, uint64_t now_ms) {
  const FlowKey key{guest, from.addr, guest_port, from.port, wire::Ip4Hdr::kTcp};
  if (free_slots_.empty() || index_.find(key) != FlowIndex::kEmpty || ctx_.host.adopt_tcp(fd) < 0) {
    ctx_.ctr.drop(wire::Drop::flow_table_full);
    ctx_.host.close(fd, true);
    return false;
  }
  const uint32_t slot = alloc_slot();
  TcpFlow& f = flows_[slot];
  f.state = TcpFlow::State::syn_sent;
  f.fd = fd;
  f.key = key;
  f.our_wscale = kOurWscale;
  f.isn = ctx_.rng.next();
  f.snd_una = f.snd_nxt = f.isn;
  f.snd_max = f.isn + 1;
  f.rto_ms = kMinRtoMs;
  index_.insert(key, int32_t(slot));
  ++ctx_.ctr.tcp_flows_opened;
  ++ctx_.ctr.tcp_flows_inbound;
  send_segment(f, TcpHdr::kSyn, f.isn, 0, true);
  arm_timer(slot, now_ms);
  return true;
}

void Tcp::on_connected(uint32_t slot, uint64_t now_ms) {
  TcpFlow& f = flows_[slot];
  f.state = TcpFlow::State::syn_ack_sent;
  send_segment(f, TcpHdr::kSyn | TcpHdr::kAck, f.isn, 0, true);
  f.snd_nxt = f.snd_max = f.isn + 1;
  arm_timer(slot, now_ms);
  // The read poll is armed now, before the container's ACK: whatever the
  // host peer sends first (a banner) reports itself and sets h_readable, so
  // the ACK that establishes the flow need not peek an empty socket (one
  // failing recvfrom per outbound connection otherwise).
  f.h_readable = false;
  ctx_.host.watch(f.fd, token(slot), true, false);
}

void Tcp::on_connect_failed(uint32_t slot, int err) {
  TcpFlow& f = flows_[slot];
  if (err == ENETUNREACH || err == EHOSTUNREACH || err == ETIMEDOUT) {
    ++ctx_.ctr.tcp_connect_unreachable;
    tcp_unreachable(ctx_, f.key, f.rcv_nxt - 1, err == ENETUNREACH);
  } else {
    ++ctx_.ctr.tcp_connect_refused;
    L3 ip;
    ip.src = f.key.caddr;
    ip.dst = f.key.daddr;
    ip.v6 = !f.key.caddr.is_v4_mapped();
    TcpHdr th;
    th.sport = f.key.cport;
    th.dport = f.key.dport;
    th.seq = f.rcv_nxt - 1;
    th.flags = TcpHdr::kSyn;
    send_rst_for(ip, th, 0);
  }
  free_flow(slot, false);
}

void Tcp::handle_ack(uint32_t slot, const TcpHdr& th, size_t payload_len, uint64_t now_ms) {
  TcpFlow& f = flows_[slot];
  if (!th.has(TcpHdr::kAck)) return;
  const uint32_t ack = th.ack;
  const uint32_t new_edge = ack + (uint32_t(th.window) << f.c_wscale);
  if (seq_gt(ack, f.snd_una) && seq_le(ack, f.snd_max)) {
    uint32_t acked = ack - f.snd_una;
    if (f.h_eof && seq_gt(ack, f.fin_seq)) {
      f.fin_acked = true;
      --acked;
    }
    if (acked) ctx_.host.discard(f.fd, acked);
    f.snd_una = ack;
    if (seq_lt(f.snd_nxt, ack)) f.snd_nxt = ack;
    f.dupacks = 0;
    f.retries = 0;
    if (f.in_recovery && seq_ge(ack, f.recover)) f.in_recovery = false;
    if (f.rtt_timing && seq_ge(ack, f.rtt_seq)) {
      // RFC 6298 2.2 (first sample) and 2.3 (alpha 1/8, beta 1/4).
      const uint32_t r = uint32_t(std::min<uint64_t>(now_ms - f.rtt_start_ms, kMaxRtoMs));
      if (f.srtt_ms == 0 && f.rttvar_ms == 0) {
        f.srtt_ms = std::max<uint32_t>(r, 1);
        f.rttvar_ms = r / 2;
      } else {
        const uint32_t dev = r > f.srtt_ms ? r - f.srtt_ms : f.srtt_ms - r;
        f.rttvar_ms = (3 * f.rttvar_ms + dev) / 4;
        f.srtt_ms = std::max<uint32_t>((7 * f.srtt_ms + r) / 8, 1);
      }
      f.rtt_timing = false;
    }
    f.rto_ms = base_rto(f);
    if (f.snd_una == f.snd_max) f.rto_deadline = 0;
    else arm_timer(slot, now_ms);
  } else if (ack == f.snd_una && payload_len == 0 && !th.has(TcpHdr::kFin) && f.snd_una != f.snd_max &&
             new_edge == f.wnd_edge) {
    // RFC 5681 2: a duplicate ACK. The third triggers fast retransmission,
    // unless one is already under way (RFC 6582 3.2).
    if (++f.dupacks == 3 && !f.in_recovery) retransmit(slot, now_ms);
  }
  if (seq_ge(ack, f.snd_una)) f.wnd_edge = new_edge;
}

void Tcp::receive_data(uint32_t slot, uint32_t seq, std::span<const uint8_t> payload, bool fin) {
  TcpFlow& f = flows_[slot];
  const uint32_t end = seq + uint32_t(payload.size());
  bool ack = fin;
  if (!payload.empty() && !f.c_fin) {
    if (seq_gt(seq, f.rcv_nxt)) {
      ctx_.ctr.drop(wire::Drop::tcp_out_of_window);
      // A gap. While a short write is pending the gap is ours (the segments
      // that followed it): stay quiet, so the container's fast retransmit is
      // saved for the moment the socket drains (see on_socket). Otherwise
      // something was lost in the container: a duplicate ACK at once.
      if (!f.write_short) send_ack(slot);
      return;
    }
    if (seq_lt(seq, f.rcv_nxt)) {
      const uint32_t skip = f.rcv_nxt - seq;
      payload = skip >= payload.size() ? payload.subspan(payload.size()) : payload.subspan(skip);
    }
    ack = true;
    if (!payload.empty()) {
      const ssize_t r = ctx_.host.send(f.fd, payload.data(), payload.size());
      if (r < 0 && r != -EAGAIN) {
        reset_container(slot);
        free_flow(slot, false);
        return;
      }
      const size_t written = r < 0 ? 0 : size_t(r);
      f.wnd_fresh = false;  // the socket has less room now (or was found full)
      f.rcv_nxt += uint32_t(written);
      f.unacked += uint32_t(written);
      ctx_.ctr.tcp_bytes_to_host += written;
      if (written < payload.size()) {
        // The host socket took less than we advertised: acknowledge only what
        // it took, and ask to be told when it drains (see tcp.hpp). If it took
        // nothing while we already wait, there is nothing new to say.
        if (written == 0 && f.write_short) ack = false;
        if (!f.write_short) ++ctx_.ctr.tcp_partial_writes;
        f.write_short = true;
        if (!f.out_watched) {
          f.out_watched = true;
          ctx_.host.watch(f.fd, token(slot), false, true);
        }
      }
    }
  }
  if (fin && !f.c_fin && end == f.rcv_nxt) {
    f.c_fin = true;
    ++f.rcv_nxt;
    // With our FIN acknowledged too, close_if_done() closes the socket in
    // this same turn, and close() sends the FIN itself (the host stream has
    // ended and every byte of it was acknowledged and discarded, so nothing
    // unread turns the close into a reset): no shutdown() before it.
    if (!both_fins_through(f)) ctx_.host.shutdown_write(f.fd);
  }
  if (ack && f.unacked >= std::max(f.adv_wnd / 4, kMinAckEvery) && f.state == TcpFlow::State::established) {
    send_ack(slot);
  } else if (ack) {
    f.ack_pending = true;
    if (!f.in_ack_list) {
      f.in_ack_list = true;
      ack_list_.push_back(slot);
    }
  }
}

// --- Data from the host -----------------------------------------------------------

void Tcp::push(uint32_t slot, uint64_t now_ms) {
  TcpFlow& f = flows_[slot];
  if (f.state != TcpFlow::State::established) return;
  const size_t max_chunk = ctx_.out.vnet() ? Emitter::kMaxL4 - TcpHdr::kMinLen
                                           : std::min<size_t>(f.c_mss, ctx_.cfg.mtu - 40);
  // The window each segment advertises is measured once per burst:
  // nothing in this loop writes to the host socket, so window_to_advertise
  // reuses it (TcpFlow::wnd_fresh).
  while (true) {
    // Once the end of the stream is known, everything up to fin_seq is data
    // still in the socket (resent after a rewind), then the FIN; never peek
    // past it again.
    if (f.h_eof && seq_ge(f.snd_nxt, f.fin_seq)) {
      if (!f.fin_sent && f.snd_nxt == f.fin_seq) {
        send_segment(f, TcpHdr::kFin | TcpHdr::kAck, f.fin_seq, 0, false);
        f.fin_sent = true;
        f.snd_nxt = f.fin_seq + 1;
        if (seq_gt(f.snd_nxt, f.snd_max)) f.snd_max = f.snd_nxt;
        if (!f.rto_deadline) arm_timer(slot, now_ms);
      }
      return;
    }
    const int32_t avail = int32_t(f.wnd_edge - f.snd_nxt);
    if (avail <= 0) return;
    if (!f.h_readable) return;
    size_t n = std::min<size_t>(size_t(avail), max_chunk);
    if (f.h_eof) n = std::min<size_t>(n, f.fin_seq - f.snd_nxt);
    const ssize_t r = ctx_.host.peek(f.fd, ctx_.out.l4() + TcpHdr::kMinLen, n);
    if (r > 0) {
      // The last of the stream (the peer's FIN is in, and the peek did not
      // fill what it asked for): the FIN rides on this segment, which saves
      // the container a frame and ferry a peek, the common end of a reply.
      const bool last = f.h_rdhup && !f.h_eof && size_t(r) < n;
      send_segment(f, uint8_t(TcpHdr::kAck | TcpHdr::kPsh | (last ? TcpHdr::kFin : 0)), f.snd_nxt, size_t(r), false);
      f.snd_nxt += uint32_t(r);
      if (seq_gt(f.snd_nxt, f.snd_max)) {
        ctx_.ctr.tcp_bytes_to_container += uint32_t(f.snd_nxt - f.snd_max);
        f.snd_max = f.snd_nxt;
        if (!f.rtt_timing) {  // new data: time it (RFC 6298 3, Karn)
          f.rtt_timing = true;
          f.rtt_seq = f.snd_max;
          f.rtt_start_ms = now_ms;
        }
      }
      if (last) {
        f.h_eof = true;
        f.fin_seq = f.snd_nxt;
        f.fin_sent = true;
        f.snd_nxt = f.snd_max = f.fin_seq + 1;  // snd_nxt was snd_max: the peek reached the end
      }
      if (!f.rto_deadline) arm_timer(slot, now_ms);
      continue;
    }
    if (r == 0) {  // end of stream after everything peeked so far
      f.h_eof = true;
      f.fin_seq = f.snd_nxt;
      continue;
    }
    if (r == -EAGAIN) {
      f.h_readable = false;
      return;
    }
    reset_container(slot);
    free_flow(slot, false);
    return;
  }
}

void Tcp::retransmit(uint32_t slot, uint64_t now_ms) {
  TcpFlow& f = flows_[slot];
  ++ctx_.ctr.tcp_retransmits;
  ctx_.host.rewind_peek(f.fd);
  f.h_readable = true;
  f.in_recovery = true;
  f.recover = f.snd_max;
  f.rtt_timing = false;  // Karn: no sample from data sent twice
  f.snd_nxt = f.snd_una;
  f.fin_sent = false;
  f.dupacks = 0;
  f.rto_deadline = 0;
  push(slot, now_ms);
}

uint32_t Tcp::base_rto(const TcpFlow& f) {
  if (f.srtt_ms == 0 && f.rttvar_ms == 0) return kMinRtoMs;
  const uint64_t rto = uint64_t(f.srtt_ms) + std::max<uint64_t>(1, 4 * uint64_t(f.rttvar_ms));
  return uint32_t(std::clamp<uint64_t>(rto, kMinRtoMs, kMaxRtoMs));
}

void Tcp::arm_timer(uint32_t slot, uint64_t now_ms) {
  TcpFlow& f = flows_[slot];
  f.rto_deadline = now_ms + f.rto_ms;
  if (!f.in_timer_list) {
    f.in_timer_list = true;
    timer_list_.push_back(slot);
  }
}

uint64_t Tcp::next_deadline() const {
  uint64_t best = 0;
  for (uint32_t slot : timer_list_) {
    const TcpFlow& f = flows_[slot];
    if (f.state != TcpFlow::State::free && f.rto_deadline && (!best || f.rto_deadline < best)) best = f.rto_deadline;
  }
  return best;
}

void Tcp::on_timer(uint64_t now_ms) {
  for (size_t i = 0; i < timer_list_.size();) {
    const uint32_t slot = timer_list_[i];
    TcpFlow& f = flows_[slot];
    if (f.state == TcpFlow::State::free || !f.rto_deadline) {
      f.in_timer_list = false;
      timer_list_[i] = timer_list_.back();
      timer_list_.pop_back();
      continue;
    }
    ++i;
    if (f.rto_deadline > now_ms) continue;
    if (++f.retries > kMaxRetries) {  // the container stopped answering
      reset_container(slot);
      free_flow(slot, true);
      continue;
    }
    f.rto_ms = std::min(f.rto_ms * 2, kMaxRtoMs);
    if (f.state == TcpFlow::State::syn_ack_sent || f.state == TcpFlow::State::syn_sent) {
      const uint8_t flags = f.state == TcpFlow::State::syn_sent ? TcpHdr::kSyn : TcpHdr::kSyn | TcpHdr::kAck;
      send_segment(f, flags, f.isn, 0, true);
      arm_timer(slot, now_ms);
    } else {
      retransmit(slot, now_ms);
      if (f.state != TcpFlow::State::free && !f.rto_deadline && f.snd_una != f.snd_max) arm_timer(slot, now_ms);
    }
  }
}

void Tcp::on_socket(uint64_t tok, uint32_t events, uint64_t now_ms) {
  const uint32_t slot = token_slot(tok);
  if (slot >= flows_.size()) return;
  TcpFlow& f = flows_[slot];
  if (f.state == TcpFlow::State::free || f.gen != token_gen(tok)) return;  // stale
  if (f.state == TcpFlow::State::connecting) {
    if (!(events & (kEvOut | kEvErr | kEvHup))) return;
    // A failed connect always reports POLLERR (sk_err is set); a writable
    // socket without it is connected, and needs no SO_ERROR query.
    const int err = (events & (kEvErr | kEvHup)) ? ctx_.host.connect_result(f.fd) : 0;
    if (err == 0) on_connected(slot, now_ms);
    else on_connect_failed(slot, -err);
    return;
  }
  if (events & kEvOut) {
    f.out_watched = false;
    f.wnd_fresh = false;
    const bool was_short = f.write_short;
    f.write_short = false;
    if (f.state == TcpFlow::State::established) {
      send_ack(slot);  // window update
      if (was_short)   // then three duplicates: fast retransmit of the rest
        for (int i = 0; i < 3; ++i) send_ack(slot);
    }
  }
  if (events & (kEvIn | kEvRdHup | kEvHup | kEvErr)) {
    f.h_readable = true;
    // Not with an error: a reset leaves the data before it readable, and
    // the container must then see the reset after it, not our FIN.
    if ((events & (kEvRdHup | kEvHup)) && !(events & kEvErr)) f.h_rdhup = true;
    push(slot, now_ms);
  }
  close_if_done(slot);
}

void Tcp::flush() {
  for (uint32_t slot : ack_list_) {
    TcpFlow& f = flows_[slot];
    f.in_ack_list = false;
    if (f.ack_pending && f.state == TcpFlow::State::established) send_ack(slot);
    f.ack_pending = false;
  }
  ack_list_.clear();
}

// --- Emission ------------------------------------------------------------------------

uint32_t Tcp::window_to_advertise(TcpFlow& f) {
  if (f.wnd_fresh && !f.c_fin) return f.adv_wnd;
  size_t space = f.c_fin ? 0 : ctx_.host.send_space(f.fd);
  const size_t max = size_t(0xffff) << f.our_wscale;
  space = std::min(space, max);
  // Ask to hear when the socket drains if the window got small, so the
  // container learns of the room at once rather than by probing.
  if (space < size_t(4) * f.c_mss && !f.out_watched && f.state != TcpFlow::State::connecting && !f.c_fin) {
    f.out_watched = true;
    ctx_.host.watch(f.fd, make_token(TokenKind::tcp, f.gen, uint32_t(&f - flows_.data())), false, true);
  }
  f.adv_wnd = uint32_t(space);
  f.wnd_fresh = true;
  return uint32_t(space);
}

// IP and TCP header bytes per segment without options: MSS = MTU - this.
static size_t ip_tcp_overhead(const TcpFlow& f) { return f.key.caddr.is_v4_mapped() ? 40 : 60; }

void Tcp::send_segment(TcpFlow& f, uint8_t flags, uint32_t seq, size_t payload_len, bool syn_options) {
  TcpHdr th;
  th.sport = f.key.dport;
  th.dport = f.key.cport;
  th.seq = seq;
  th.ack = f.rcv_nxt;
  th.flags = flags;
  const uint32_t wnd = window_to_advertise(f);
  if (syn_options) {
    th.window = uint16_t(std::min<uint32_t>(wnd, 0xffff));
    th.mss = int(ctx_.cfg.mtu - ip_tcp_overhead(f));
    if (f.our_wscale) th.wscale = f.our_wscale;
  } else {
    th.window = uint16_t(std::min<uint32_t>(wnd >> f.our_wscale, 0xffff));
  }
  f.unacked = 0;
  uint8_t* p = ctx_.out.l4();
  // Payload (if any) was peeked to l4() + 20; SYN segments carry none, so
  // their options may take that room.
  const size_t hlen = th.emit(p);
  Emitter::Opts o;
  o.csum_field = 16;
  o.gso_size = uint16_t(std::min<size_t>(f.c_mss, ctx_.cfg.mtu - ip_tcp_overhead(f)));
  o.l4_hdr_len = uint16_t(hlen);
  ctx_.out.send_ip(f.key.daddr, f.key.caddr, wire::Ip4Hdr::kTcp, hlen + payload_len, o);
}

void Tcp::send_ack(uint32_t slot) {
  TcpFlow& f = flows_[slot];
  f.ack_pending = false;
  send_segment(f, TcpHdr::kAck, f.snd_nxt, 0, false);
}

void Tcp::reset_container(uint32_t slot) {
  TcpFlow& f = flows_[slot];
  ++ctx_.ctr.tcp_resets_to_container;
  send_segment(f, TcpHdr::kRst | TcpHdr::kAck, f.snd_nxt, 0, false);
}

// RFC 9293 3.10.7.1: the reset for a segment that belongs to no connection.
void Tcp::send_rst_for(const L3& ip, const TcpHdr& th, size_t payload_len) {
  TcpHdr r;
  r.sport = th.dport;
  r.dport = th.sport;
  if (th.has(TcpHdr::kAck)) {
    r.seq = th.ack;
    r.flags = TcpHdr::kRst;
  } else {
    r.seq = 0;
    r.ack = th.seq + uint32_t(payload_len) + (th.has(TcpHdr::kSyn) ? 1 : 0) + (th.has(TcpHdr::kFin) ? 1 : 0);
    r.flags = TcpHdr::kRst | TcpHdr::kAck;
  }
  const size_t hlen = r.emit(ctx_.out.l4());
  Emitter::Opts o;
  o.csum_field = 16;
  ctx_.out.send_ip(ip.dst, ip.src, wire::Ip4Hdr::kTcp, hlen, o);
}

}  // namespace ferry::core
