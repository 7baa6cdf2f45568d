// TCP translation between the container (segments on the tap) and host
// sockets. Theory of operation (docs/netstack.md has the long form):
//
// ferry is not a TCP endpoint with buffers of its own. Each container
// connection is paired with one host socket, and the host socket's kernel
// buffers are the only buffers:
//
//  container -> host: a segment is accepted only at rcv_nxt and only as far
//    as send() on the host socket takes it; ferry acknowledges exactly what
//    the host kernel took. The window advertised to the container is the room
//    left in the host socket's send buffer (Host::send_space). So ferry never
//    acknowledges a byte it has not handed to the kernel, and never has to
//    drop one it acknowledged. If the estimate was too generous and a write
//    comes up short, ferry advertises what remains, waits for the socket to
//    drain (kEvOut), then sends a window update followed by three duplicate
//    ACKs, so the container retransmits at once by fast retransmit instead of
//    waiting for a retransmission timeout.
//
//  host -> container: bytes stay in the host socket until the container
//    acknowledges them. ferry reads them with MSG_PEEK at a moving peek
//    offset, sends them as segments (64 KiB TSO frames when the tap has a
//    virtio-net header), and on each ACK discards the acknowledged bytes from
//    the socket. Retransmission (three duplicate ACKs, or the timer) rewinds
//    the peek offset to the oldest unacknowledged byte: go-back-N from data
//    the kernel still holds.
//
//  Options: ferry answers the container's SYN with MSS (from the MTU) and,
//  when the container offered it, window scaling (shift 7, RFC 7323), so
//  windows can follow multi-megabyte socket buffers. It does not offer SACK
//  (the tap does not lose or reorder frames, and go-back-N from the socket is
//  cheap) nor timestamps (the host side keeps its own RTT estimates).
//
// Lifecycle of a flow: connecting (host connect in progress; the container's
// SYN is answered only when the host connect succeeds: RST if refused, ICMP
// unreachable if unreachable) -> syn_ack_sent -> established (with half-close
// flags each way) -> free. A flow is freed when both FINs are through, on a
// reset from either side, or when the container stops answering.
#pragma once

#include "netstack/core/context.hpp"
#include "netstack/core/flow_index.hpp"
#include "netstack/core/zeroed.hpp"
#include "netstack/wire/ipv4.hpp"
#include "netstack/wire/tcp.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace ferry::core {

struct TcpFlow {
  // connecting/syn_ack_sent: the container opened the connection (outbound);
  // syn_sent: a published port's client did, and ferry's SYN to the
  // container awaits its SYN-ACK (inbound, the tap path of port forwards).
  enum class State : uint8_t { free, connecting, syn_ack_sent, syn_sent, established };

  State state = State::free;
  uint32_t gen = 0;  // bumped when the slot is freed
  int fd = -1;
  FlowKey key{};  // container address/port, destination address/port

  // container -> host
  uint32_t rcv_nxt = 0;      // next sequence number expected from the container
  uint32_t adv_wnd = 0;      // last window advertised (bytes)
  // adv_wnd still describes the host socket: nothing was written to it and
  // it did not report draining since it was measured. Then it is reused
  // without asking the kernel (a download's ACKs cost no getsockopt); the
  // socket only gains room meanwhile, so the reused window errs small.
  bool wnd_fresh = false;
  uint32_t unacked = 0;      // bytes taken from the container since our last ACK
  bool c_fin = false;        // container's FIN received; host socket shut for writing
  bool write_short = false;  // a write came up short; waiting for kEvOut
  bool out_watched = false;

  // host -> container
  uint32_t isn = 0;
  uint32_t snd_una = 0;      // oldest byte (or FIN) not acknowledged by the container
  uint32_t snd_nxt = 0;      // next sequence number to send
  uint32_t snd_max = 0;      // highest sequence number sent (snd_nxt rewinds on retransmission)
  uint32_t fin_seq = 0;      // sequence number of our FIN, valid once h_eof
  uint32_t wnd_edge = 0;     // right edge of the container's receive window
  uint16_t c_mss = 536;      // container's MSS (RFC 9293 default when absent)
  uint8_t c_wscale = 0;      // shift applied to the container's windows
  uint8_t our_wscale = 0;    // shift applied to the windows we advertise
  bool h_eof = false;        // host peer closed its side (all data read)
  // The host peer's FIN has arrived (POLLRDHUP/POLLHUP): the socket holds
  // the rest of the stream, so a peek that returns less than it asked for
  // has reached its end and its segment can carry our FIN.
  bool h_rdhup = false;
  // The host socket may hold bytes not yet peeked: set by its readiness
  // (and by a rewind), cleared when a peek finds nothing, so that the
  // container's ACKs of a one-way upload do not each cost a peek that
  // fails with EAGAIN.
  bool h_readable = true;
  bool fin_sent = false;
  bool fin_acked = false;
  uint8_t dupacks = 0;
  uint8_t retries = 0;
  // Recovery (RFC 6582 3.2): after a retransmission, duplicate ACKs do not
  // start another one until the container acknowledges `recover` (snd_max
  // when it began). Go-back-N resends what the container may already hold,
  // and each duplicate it receives draws a duplicate ACK: without this rule
  // those ACKs set off retransmission after retransmission.
  bool in_recovery = false;
  uint32_t recover = 0;
  // Round-trip time (RFC 6298): one segment timed at a time (rtt_seq, sent
  // at rtt_start_ms), never a retransmitted one (Karn); srtt/rttvar in ms,
  // 0 until the first sample. The timer is then srtt + 4 rttvar, at least
  // kMinRtoMs, so a container slowed down (a loaded machine) is not flooded
  // with spurious retransmissions.
  bool rtt_timing = false;
  uint32_t rtt_seq = 0;
  uint64_t rtt_start_ms = 0;
  uint32_t srtt_ms = 0, rttvar_ms = 0;
  bool ack_pending = false;
  bool in_ack_list = false;
  bool in_timer_list = false;
  uint32_t rto_ms = 0;
  uint64_t rto_deadline = 0;  // 0: timer off
};

class Tcp {
 public:
  // Within a batch of frames, ferry acknowledges at the latest after a
  // quarter of the window it advertised (and at least this much), so that a
  // container uploading faster than one batch ends is not left waiting for
  // the window to reopen (ACKs are otherwise coalesced per batch).
  static constexpr uint32_t kMinAckEvery = 256 * 1024;
  static constexpr uint32_t kMinRtoMs = 200;   // Linux TCP_RTO_MIN
  // The retransmission timeout from the flow's round-trip estimate (RFC
  // 6298 2.2, 2.3; no backoff), between kMinRtoMs and kMaxRtoMs.
  static uint32_t base_rto(const TcpFlow& f);
  static constexpr uint32_t kMaxRtoMs = 10000;
  static constexpr uint8_t kMaxRetries = 12;
  static constexpr uint8_t kOurWscale = 7;

  Tcp(Context& ctx, size_t max_flows);

  // A TCP segment from the container: `ip` is its parsed IP header, `seg`
  // the TCP header and payload. The checksum was already verified.
  void on_segment(const L3& ip, std::span<const uint8_t> seg, uint64_t now_ms);
  void on_socket(uint64_t token, uint32_t events, uint64_t now_ms);
  // A connection accepted on a published port whose client is not on the
  // host's loopback: ferry opens it towards the container over the tap,
  // from `from` (the address the container will see) to the guest's
  // guest_port, and then translates it like any other. Takes ownership of
  // `fd`; false (fd closed) when the table is full or the tuple is taken.
  // `guest` is the container's address of the client's family.
  bool open_inbound(int fd, SockAddr from, const wire::Ip6& guest, uint16_t guest_port, uint64_t now_ms);
  void on_timer(uint64_t now_ms);
  // Sends the ACKs that segments of the last batch of frames asked for: one
  // per flow per batch, not one per segment.
  void flush();
  uint64_t next_deadline() const;  // 0: none
  size_t active() const { return active_; }
  // Outbound connections not yet established (connecting, syn_ack_sent):
  // a SYN beyond `max` is refused with an RST and counted as
  // tcp_half_open_full (docs/security.md).
  void set_half_open_limit(size_t max) { max_half_open_ = max; }
  size_t half_open() const { return half_open_; }
  const TcpFlow* find_for_test(const FlowKey& k) const;

 private:
  uint32_t alloc_slot();
  void free_flow(uint32_t slot, bool reset_host);
  uint64_t token(uint32_t slot) const;
  void on_syn(const L3& ip, const wire::TcpHdr& th, uint64_t now_ms);
  void on_connected(uint32_t slot, uint64_t now_ms);
  void on_connect_failed(uint32_t slot, int err);
  void handle_ack(uint32_t slot, const wire::TcpHdr& th, size_t payload_len, uint64_t now_ms);
  void receive_data(uint32_t slot, uint32_t seq, std::span<const uint8_t> payload, bool fin);
  void push(uint32_t slot, uint64_t now_ms);
  void retransmit(uint32_t slot, uint64_t now_ms);
  void arm_timer(uint32_t slot, uint64_t now_ms);
  uint32_t window_to_advertise(TcpFlow& f);
  // The segment advertises window_to_advertise(f).
  void send_segment(TcpFlow& f, uint8_t flags, uint32_t seq, size_t payload_len, bool syn_options);
  void send_ack(uint32_t slot);
  void send_rst_for(const L3& ip, const wire::TcpHdr& th, size_t payload_len);
  void reset_container(uint32_t slot);
  void close_if_done(uint32_t slot);

  Context& ctx_;
  ZeroedArray<TcpFlow> flows_;  // zero bytes: State::free (a slot taken into use gets a fresh TcpFlow)
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> timer_list_;
  std::vector<uint32_t> ack_list_;
  FlowIndex index_;
  size_t active_ = 0;
  size_t half_open_ = 0;
  size_t max_half_open_ = SIZE_MAX;
};

}  // namespace ferry::core
