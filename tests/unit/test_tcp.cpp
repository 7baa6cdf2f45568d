// The TCP translator driven by packet scripts: the container's segments go in
// as frames, the host side is a fake socket, time is injected. Each test
// reads as "container sends X; host does Y; expect frames Z".
#include "stack_fixture.hpp"
#include "netstack/core/stack.hpp"

#include <gtest/gtest.h>

using namespace ferry;
using namespace ferry::test;
using wire::TcpHdr;

namespace {

constexpr uint8_t SYN = TcpHdr::kSyn, ACK = TcpHdr::kAck, FIN = TcpHdr::kFin, RST = TcpHdr::kRst,
                  PSH = TcpHdr::kPsh;
const wire::Ip4 kGuest(10, 0, 2, 100), kGw(10, 0, 2, 2), kRemote(192, 0, 2, 7);

class TcpScript : public StackFixture {
 protected:
  uint32_t cseq = 5000;  // container's next sequence number
  uint32_t isn = 0;      // ferry's ISN as seen in the SYN-ACK
  int fd = -1;

  void SetUp() override {
    now = 1000;
    make(false);
  }
  void make(bool vnet) {
    cfg.mtu = 1500;
    make_stack(vnet);
    stack->on_timer(now);  // schedules housekeeping; only RTOs come earlier
  }
  void seg(uint8_t flags, const std::string& payload = {}, uint16_t win = 65535, uint32_t ack = 0) {
    in(fb.tcp(kGuest, dst, 40000, dport, cseq, ack ? ack : isn + 1 + acked, flags, win, payload));
    cseq += uint32_t(payload.size()) + ((flags & (SYN | FIN)) ? 1 : 0);
  }
  void event(uint32_t ev) {
    stack->on_socket(host.sock(fd).token, ev, now);
    stack->flush(now);
  }
  Seen out() {
    EXPECT_FALSE(tap.frames.empty());
    if (tap.frames.empty()) return {};
    Seen s = parse_out(tap.pop(), fb.vnet);
    EXPECT_TRUE(s.l4_checksum_ok);
    return s;
  }
  // Handshake to an established connection with window scale 7 offered.
  void establish(uint16_t syn_window = 65535) {
    in(fb.tcp(kGuest, dst, 40000, dport, cseq, 0, SYN, syn_window, {}, 1460, 7));
    cseq++;
    fd = host.last_fd();
    ASSERT_TRUE(tap.frames.empty()) << "no SYN-ACK before the host connect succeeds";
    event(core::kEvOut);
    Seen sa = out();
    ASSERT_TRUE(sa.tcp);
    EXPECT_EQ(sa.tcp->flags, SYN | ACK);
    EXPECT_EQ(sa.tcp->ack, cseq);
    EXPECT_EQ(sa.tcp->mss, 1460);
    EXPECT_EQ(sa.tcp->wscale, 7);
    EXPECT_EQ(sa.ip.src, dst);
    isn = sa.tcp->seq;
    seg(ACK);
    ASSERT_TRUE(host.sock(fd).watch_in);
  }
  wire::Ip4 dst = kRemote;
  uint16_t dport = 80;
  uint32_t acked = 0;  // bytes of host data the container has acknowledged
};

TEST_F(TcpScript, SynBecomesHostConnectToSameAddress) {
  establish();
  auto& s = host.sock(fd);
  EXPECT_EQ(s.dst.addr, kRemote);
  EXPECT_EQ(s.dst.port, 80);
  EXPECT_EQ(stack->counters().tcp_flows_opened, 1u);
}

// A burst of host data measures the host socket's window once (TcpFlow::
// wnd_fresh), not once per segment: a download's segments cost no
// getsockopt each.
TEST_F(TcpScript, DownloadBurstMeasuresTheWindowAtMostOnce) {
  establish();
  seg(ACK | PSH, "up");  // written to the socket: the window must be measured again
  auto& s = host.sock(fd);
  s.rx = std::string(20 * 1400, 'd');
  const int before = s.space_calls;
  event(core::kEvIn);
  EXPECT_GE(tap.frames.size(), 19u);
  EXPECT_LE(s.space_calls - before, 1);
}

// Once a peek found the host socket empty, ACKs and window updates from the
// container do not peek it again; its next readiness does.
TEST_F(TcpScript, EmptyHostSocketIsNotPeekedUntilReadable) {
  establish();
  auto& s = host.sock(fd);
  s.rx = "hello";
  event(core::kEvIn);
  EXPECT_EQ(out().payload, "hello");
  const int before = s.peek_calls;
  acked = 5;
  seg(ACK);
  seg(ACK, {}, 30000);
  seg(ACK, {}, 60000);
  EXPECT_EQ(s.peek_calls, before) << "no peek of a socket known to be empty";
  s.rx += "world";
  event(core::kEvIn);
  EXPECT_EQ(out().payload, "world");
}

// An upload is acknowledged within a batch once a quarter of the advertised
// window (at least kMinAckEvery) has arrived, not only at the batch's end,
// so the container's window never runs dry while ferry works through it.
TEST_F(TcpScript, UploadIsAcknowledgedMidBatch) {
  establish();
  const uint32_t start = cseq;
  const std::string chunk(1400, 'u');
  for (int i = 0; i < 200; ++i) {  // 280 KB in one batch: no flush between
    stack->on_frame(fb.tcp(kGuest, dst, 40000, dport, cseq, isn + 1, ACK, 65535, chunk), now);
    cseq += uint32_t(chunk.size());
  }
  ASSERT_EQ(tap.frames.size(), 1u) << "one ACK before the batch ends";
  Seen a = out();
  EXPECT_EQ(a.tcp->flags, ACK);
  EXPECT_GE(a.tcp->ack - start, uint32_t(core::Tcp::kMinAckEvery));
  stack->flush(now);
  EXPECT_EQ(out().tcp->ack, cseq) << "the rest at the end of the batch";
  EXPECT_EQ(host.sock(fd).sent.size(), 200u * 1400u);
}

TEST_F(TcpScript, GatewayMapsToHostLoopback) {
  dst = kGw;
  establish();
  EXPECT_EQ(host.sock(fd).dst.addr, wire::Ip4(127, 0, 0, 1));
}

TEST_F(TcpScript, GatewayRefusedWhenHostLoopbackDisabled) {
  cfg.disable_host_loopback = true;
  make(false);
  dst = kGw;
  in(fb.tcp(kGuest, dst, 40000, 80, cseq, 0, SYN, 65535));
  EXPECT_TRUE(host.socks.empty());
  Seen r = out();
  EXPECT_EQ(r.tcp->flags, RST | ACK);
  EXPECT_EQ(r.tcp->ack, cseq + 1);
  EXPECT_EQ(stack->counters().dropped(wire::Drop::host_loopback_disabled), 1u);
}

TEST_F(TcpScript, RefusedConnectGivesReset) {
  in(fb.tcp(kGuest, dst, 40000, 80, cseq, 0, SYN, 65535));
  fd = host.last_fd();
  host.sock(fd).connect_errno = ECONNREFUSED;
  event(core::kEvOut | core::kEvErr);
  Seen r = out();
  EXPECT_EQ(r.tcp->flags, RST | ACK);
  EXPECT_EQ(r.tcp->ack, cseq + 1);
  EXPECT_TRUE(host.sock(fd).closed);
  EXPECT_EQ(stack->tcp().active(), 0u);
}

TEST_F(TcpScript, UnreachableConnectGivesIcmp) {
  in(fb.tcp(kGuest, dst, 40000, 80, cseq, 0, SYN, 65535));
  fd = host.last_fd();
  host.sock(fd).connect_errno = EHOSTUNREACH;
  event(core::kEvOut | core::kEvErr);
  Seen r = out();
  ASSERT_TRUE(r.icmp);
  EXPECT_EQ(r.icmp->type, wire::IcmpHdr::kDestUnreachable);
  EXPECT_EQ(r.icmp->code, wire::IcmpHdr::kHostUnreachable);
  // The quote names the container's connection: its ports follow the IP header.
  ASSERT_GE(r.payload.size(), 28u);
  EXPECT_EQ(wire::load16(reinterpret_cast<const uint8_t*>(r.payload.data()) + 20), 40000);
}

TEST_F(TcpScript, DataToHostIsAckedOnlyAsFarAsWritten) {
  establish();
  seg(ACK | PSH, "hello");
  EXPECT_EQ(host.sock(fd).sent, "hello");
  Seen a = out();
  EXPECT_EQ(a.tcp->ack, cseq);
  // The host socket has room for 3 more bytes only.
  host.sock(fd).space = 3;
  seg(ACK | PSH, "world");
  EXPECT_EQ(host.sock(fd).sent, "hellowor");
  a = out();
  EXPECT_EQ(a.tcp->ack, cseq - 2) << "the two bytes the host did not take are not acknowledged";
  EXPECT_TRUE(host.sock(fd).watch_out);
  EXPECT_EQ(stack->counters().tcp_partial_writes, 1u);
  // The socket drains: a window update and three duplicate ACKs.
  host.sock(fd).space = 1 << 20;
  event(core::kEvOut);
  ASSERT_EQ(tap.frames.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    Seen d = out();
    EXPECT_EQ(d.tcp->ack, cseq - 2);
    EXPECT_GT(d.tcp->window, 0);
  }
  // The container retransmits the tail; it goes through.
  cseq -= 2;
  seg(ACK | PSH, "ld");
  EXPECT_EQ(host.sock(fd).sent, "helloworld");
}

TEST_F(TcpScript, WindowFollowsHostSocketSpace) {
  establish();
  host.sock(fd).space = 1000 << 7;
  seg(ACK | PSH, "x");
  Seen a = out();
  EXPECT_EQ(a.tcp->window, uint16_t(((1000 << 7) - 1) >> 7));
}

TEST_F(TcpScript, OutOfOrderSegmentIsNotWrittenAndDupAcked) {
  establish();
  uint32_t expected = cseq;
  cseq += 10;  // a gap
  seg(ACK | PSH, "later");
  EXPECT_EQ(host.sock(fd).sent, "");
  Seen a = out();
  EXPECT_EQ(a.tcp->ack, expected);
  EXPECT_EQ(stack->counters().dropped(wire::Drop::tcp_out_of_window), 1u);
}

TEST_F(TcpScript, RetransmittedOldDataIsTrimmed) {
  establish();
  seg(ACK | PSH, "abcdef");
  out();
  cseq -= 3;
  seg(ACK | PSH, "defgh");
  EXPECT_EQ(host.sock(fd).sent, "abcdefgh");
}

TEST_F(TcpScript, HostDataIsPeekedSentAndDiscardedOnAck) {
  establish();
  host.sock(fd).rx = std::string(3000, 'z');
  event(core::kEvIn);
  // MSS 1460 without virtio-net header: 1460 + 1460 + 80.
  ASSERT_EQ(tap.frames.size(), 3u);
  Seen s1 = out(), s2 = out(), s3 = out();
  EXPECT_EQ(s1.tcp->seq, isn + 1);
  EXPECT_EQ(s1.payload.size(), 1460u);
  EXPECT_EQ(s2.tcp->seq, isn + 1 + 1460);
  EXPECT_EQ(s3.payload.size(), 80u);
  EXPECT_EQ(host.sock(fd).rx.size(), 3000u) << "nothing is consumed before the container acknowledges";
  acked = 1460;
  seg(ACK);
  EXPECT_EQ(host.sock(fd).discarded, 1460u);
  acked = 3000;
  seg(ACK);
  EXPECT_EQ(host.sock(fd).rx.size(), 0u);
}

TEST_F(TcpScript, ContainerWindowLimitsWhatIsSent) {
  establish();  // SYN window 65535, scaled window in ACK = 65535 << 7 (large)
  seg(ACK, {}, 10);  // window 10 << 7 = 1280 bytes
  host.sock(fd).rx = std::string(5000, 'q');
  event(core::kEvIn);
  size_t sent = 0;
  while (!tap.frames.empty()) sent += out().payload.size();
  EXPECT_EQ(sent, 1280u);
  acked = 1280;
  seg(ACK, {}, 10);
  sent = 0;
  while (!tap.frames.empty()) sent += out().payload.size();
  EXPECT_EQ(sent, 1280u);
}

TEST_F(TcpScript, ThreeDuplicateAcksRetransmitFromSocket) {
  establish();
  host.sock(fd).rx = std::string(2920, 'r');
  event(core::kEvIn);
  tap.frames.clear();
  seg(ACK);
  seg(ACK);
  EXPECT_TRUE(tap.frames.empty());
  seg(ACK);
  EXPECT_EQ(host.sock(fd).rewinds, 1);
  ASSERT_EQ(tap.frames.size(), 2u);
  EXPECT_EQ(out().tcp->seq, isn + 1);
  EXPECT_EQ(stack->counters().tcp_retransmits, 1u);
}

TEST_F(TcpScript, DuplicateAcksDuringRecoveryDoNotRetransmitAgain) {
  // Go-back-N resends what the container may already hold; each duplicate
  // it receives draws a duplicate ACK. Those must not set off another
  // retransmission until the container acknowledges what was outstanding
  // when recovery began (RFC 6582 3.2).
  establish();
  host.sock(fd).rx = std::string(4380, 'r');
  event(core::kEvIn);
  tap.frames.clear();
  for (int i = 0; i < 3; ++i) seg(ACK);
  EXPECT_EQ(stack->counters().tcp_retransmits, 1u);
  tap.frames.clear();
  for (int i = 0; i < 9; ++i) seg(ACK);
  EXPECT_EQ(stack->counters().tcp_retransmits, 1u) << "still recovering: no retransmission storm";
  EXPECT_TRUE(tap.frames.empty());
  // A partial ACK keeps recovery on; the whole outstanding data ends it.
  acked = 1460;
  seg(ACK);
  for (int i = 0; i < 3; ++i) seg(ACK);
  EXPECT_EQ(stack->counters().tcp_retransmits, 1u);
  acked = 4380;
  seg(ACK);
  host.sock(fd).rx += std::string(2920, 's');
  event(core::kEvIn);
  tap.frames.clear();
  for (int i = 0; i < 3; ++i) seg(ACK);
  EXPECT_EQ(stack->counters().tcp_retransmits, 2u) << "a new loss after recovery is repaired again";
}

TEST_F(TcpScript, RetransmissionTimerFollowsTheMeasuredRoundTrip) {
  // RFC 6298: the first sample R gives SRTT = R, RTTVAR = R/2, RTO = 3R.
  establish();
  host.sock(fd).rx = "first";
  event(core::kEvIn);
  tap.frames.clear();
  now += 300;
  acked = 5;
  seg(ACK);
  host.sock(fd).rx = "second";
  event(core::kEvIn);
  tap.frames.clear();
  EXPECT_EQ(stack->tcp().next_deadline(), now + 900) << "3 x the 300 ms round trip, not the 200 ms floor";
  now += core::Tcp::kMinRtoMs;
  stack->on_timer(now);
  EXPECT_TRUE(tap.frames.empty()) << "no spurious retransmission after 200 ms";
  now += 700;
  stack->on_timer(now);
  ASSERT_EQ(tap.frames.size(), 1u);
  EXPECT_EQ(out().payload, "second");
  // A fast path keeps the 200 ms floor (Linux's TCP_RTO_MIN).
  EXPECT_EQ(core::Tcp::base_rto(core::TcpFlow{}), core::Tcp::kMinRtoMs);
}

TEST_F(TcpScript, TimeoutRetransmitsWithBackoff) {
  establish();
  host.sock(fd).rx = "payload";
  event(core::kEvIn);
  tap.frames.clear();
  EXPECT_EQ(stack->next_deadline(), now + core::Tcp::kMinRtoMs);
  now += core::Tcp::kMinRtoMs;
  stack->on_timer(now);
  ASSERT_EQ(tap.frames.size(), 1u);
  Seen r = out();
  EXPECT_EQ(r.payload, "payload");
  EXPECT_EQ(r.tcp->seq, isn + 1);
  EXPECT_EQ(stack->next_deadline(), now + 2 * core::Tcp::kMinRtoMs);
  acked = 7;
  seg(ACK);
  EXPECT_EQ(host.sock(fd).rx, "");
  EXPECT_NE(stack->next_deadline(), now + 2 * core::Tcp::kMinRtoMs);
}

TEST_F(TcpScript, UnansweredContainerIsResetAfterRetries) {
  establish();
  host.sock(fd).rx = "x";
  event(core::kEvIn);
  for (int i = 0; i <= core::Tcp::kMaxRetries + 1; ++i) {
    now += core::Tcp::kMaxRtoMs;
    stack->on_timer(now);
  }
  EXPECT_TRUE(host.sock(fd).closed);
  EXPECT_TRUE(host.sock(fd).reset);
  EXPECT_EQ(stack->tcp().active(), 0u);
}

TEST_F(TcpScript, HostEofBecomesFinAndCloseCompletes) {
  establish();
  host.sock(fd).rx = "bye";
  host.sock(fd).eof = true;
  const int peeks = host.sock(fd).peek_calls;
  event(core::kEvIn | core::kEvRdHup);
  // The peer's FIN is in (POLLRDHUP) and the peek got less than it asked
  // for: the last data and our FIN go as one segment, after one peek.
  ASSERT_EQ(tap.frames.size(), 1u);
  Seen d = out();
  EXPECT_EQ(d.payload, "bye");
  EXPECT_TRUE(d.tcp->has(FIN));
  EXPECT_EQ(d.tcp->seq, isn + 1);
  EXPECT_EQ(host.sock(fd).peek_calls - peeks, 1);
  EXPECT_EQ(stack->counters().tcp_bytes_to_container, 3u);
  acked = 4;  // 3 bytes and the FIN
  seg(ACK);
  EXPECT_FALSE(host.sock(fd).closed) << "the container may still send (half-close)";
  seg(ACK | PSH, "more");
  EXPECT_EQ(host.sock(fd).sent, "more");
  tap.frames.clear();
  seg(FIN | ACK);
  // Both FINs are through: close() sends the host its FIN, no shutdown()
  // first, and nothing unread is left to turn that close into a reset.
  EXPECT_FALSE(host.sock(fd).shut_wr);
  EXPECT_TRUE(host.sock(fd).closed);
  EXPECT_EQ(host.sock(fd).unread_at_close, 0u);
  // The container's FIN is acknowledged before the flow goes away, or it
  // would sit in LAST-ACK until a retransmission timeout.
  ASSERT_EQ(tap.frames.size(), 1u);
  Seen last = out();
  EXPECT_EQ(last.tcp->flags, ACK);
  EXPECT_EQ(last.tcp->ack, cseq);
  EXPECT_FALSE(host.sock(fd).reset);
  EXPECT_EQ(stack->tcp().active(), 0u);
}

TEST_F(TcpScript, HostEofUnannouncedGetsAFinOfItsOwn) {
  // Readable without POLLRDHUP: ferry learns of the end only from a peek
  // that returns 0, after the data went out.
  establish();
  host.sock(fd).rx = "bye";
  host.sock(fd).eof = true;
  event(core::kEvIn);
  Seen d = out();
  EXPECT_EQ(d.payload, "bye");
  EXPECT_FALSE(d.tcp->has(FIN));
  Seen f = out();
  EXPECT_TRUE(f.tcp->has(FIN));
  EXPECT_EQ(f.tcp->seq, isn + 4);
}

TEST_F(TcpScript, HostResetAfterDataIsNotTakenForAnEnd) {
  // A reset reports POLLERR with POLLHUP/POLLRDHUP and leaves the data
  // before it readable: the data goes out without a FIN, then the reset.
  establish();
  host.sock(fd).rx = "partial";
  host.sock(fd).rx_errno = ECONNRESET;  // once rx is drained
  event(core::kEvIn | core::kEvErr | core::kEvHup | core::kEvRdHup);
  Seen d = out();
  EXPECT_EQ(d.payload, "partial");
  EXPECT_FALSE(d.tcp->has(FIN));
  Seen r = out();
  EXPECT_TRUE(r.tcp->has(RST));
}

TEST_F(TcpScript, DataAndFinSentTogetherAreRetransmittedAsDataThenFin) {
  establish();
  host.sock(fd).rx = "bye";
  host.sock(fd).eof = true;
  event(core::kEvIn | core::kEvRdHup);
  ASSERT_TRUE(out().tcp->has(FIN));
  now += core::Tcp::kMaxRtoMs;
  stack->on_timer(now);
  Seen d = out();
  EXPECT_EQ(d.payload, "bye");
  EXPECT_EQ(d.tcp->seq, isn + 1);
  Seen f = out();
  EXPECT_TRUE(f.tcp->has(FIN));
  EXPECT_EQ(f.tcp->seq, isn + 4);
  acked = 4;
  seg(ACK);
  seg(FIN | ACK);
  EXPECT_TRUE(host.sock(fd).closed);
  EXPECT_EQ(stack->tcp().active(), 0u);
}

TEST_F(TcpScript, LateHostEventsAfterOurFinDoNotMoveIt) {
  // Regression: a second readable event after the FIN went out used to peek
  // again, see end-of-stream again and move the FIN's sequence number, so
  // the container's ACK of the FIN was never recognised and the flow leaked.
  establish();
  seg(ACK | FIN);
  host.sock(fd).rx = "echo";
  host.sock(fd).eof = true;
  event(core::kEvIn);
  event(core::kEvIn | core::kEvHup);
  event(core::kEvIn | core::kEvHup);
  tap.frames.clear();
  acked = 5;
  seg(ACK);
  EXPECT_TRUE(host.sock(fd).closed);
  EXPECT_EQ(stack->tcp().active(), 0u);
}

TEST_F(TcpScript, SegmentsAfterAShortWriteStayUnansweredUntilTheSocketDrains) {
  establish();
  host.sock(fd).space = 2;
  seg(ACK | PSH, "abcd");  // takes "ab"
  EXPECT_EQ(out().tcp->ack, cseq - 2);
  seg(ACK | PSH, "efgh");  // beyond the gap ferry caused: no duplicate ACK now
  seg(ACK | PSH, "ijkl");
  EXPECT_TRUE(tap.frames.empty()) << "duplicate ACKs now would waste the container's fast retransmit";
  host.sock(fd).space = 100;
  event(core::kEvOut);
  EXPECT_EQ(tap.frames.size(), 4u);
}

TEST_F(TcpScript, TheEstablishingAckPeeksOnlyWhenTheHostHasSpoken) {
  establish();
  // The read poll was armed with the SYN-ACK and reported nothing: the
  // container's ACK costs no peek of an empty socket.
  EXPECT_EQ(host.sock(fd).peek_calls, 0);
  EXPECT_TRUE(tap.frames.empty());
}

TEST_F(TcpScript, ABannerSentBeforeTheContainerAcksFollowsTheAck) {
  in(fb.tcp(kGuest, dst, 40000, dport, cseq, 0, SYN, 65535, {}, 1460, 7));
  cseq++;
  fd = host.last_fd();
  event(core::kEvOut);
  isn = out().tcp->seq;
  // The host peer speaks first (an SSH or SMTP banner) before the handshake
  // with the container is complete: nothing goes out yet...
  host.sock(fd).rx = "220 hello";
  event(core::kEvIn);
  EXPECT_TRUE(tap.frames.empty());
  // ...and the ACK that completes it brings the banner.
  seg(ACK);
  ASSERT_EQ(tap.frames.size(), 1u);
  EXPECT_EQ(out().payload, "220 hello");
}

TEST_F(TcpScript, ContainerFinShutsHostWriteSide) {
  establish();
  seg(ACK | PSH | FIN, "last");
  EXPECT_EQ(host.sock(fd).sent, "last");
  EXPECT_TRUE(host.sock(fd).shut_wr);
  Seen a = out();
  EXPECT_EQ(a.tcp->ack, cseq);
  // The host keeps sending after our FIN (half-close).
  host.sock(fd).rx = "reply";
  host.sock(fd).eof = true;
  event(core::kEvIn);
  EXPECT_EQ(out().payload, "reply");
  EXPECT_TRUE(out().tcp->has(FIN));
  acked = 6;
  seg(ACK);
  EXPECT_TRUE(host.sock(fd).closed);
}

TEST_F(TcpScript, ContainerResetResetsHost) {
  establish();
  seg(RST | ACK);
  EXPECT_TRUE(host.sock(fd).closed);
  EXPECT_TRUE(host.sock(fd).reset);
  EXPECT_EQ(stack->counters().tcp_resets_to_host, 1u);
}

TEST_F(TcpScript, HostResetResetsContainer) {
  establish();
  host.sock(fd).rx_errno = ECONNRESET;
  event(core::kEvErr);
  Seen r = out();
  EXPECT_TRUE(r.tcp->has(RST));
  EXPECT_TRUE(host.sock(fd).closed);
  EXPECT_EQ(stack->tcp().active(), 0u);
}

TEST_F(TcpScript, SegmentForUnknownFlowGetsReset) {
  in(fb.tcp(kGuest, dst, 40001, 80, 77, 99, ACK, 100, "stray"));
  Seen r = out();
  EXPECT_EQ(r.tcp->flags, RST);
  EXPECT_EQ(r.tcp->seq, 99u);
  EXPECT_EQ(stack->counters().dropped(wire::Drop::tcp_no_flow), 1u);
}

TEST_F(TcpScript, BadChecksumIsDroppedAndCounted) {
  Bytes f = fb.tcp(kGuest, dst, 40000, 80, cseq, 0, SYN, 65535);
  f.back() ^= 0x55;  // corrupt the last byte of the TCP header
  in(f);
  EXPECT_TRUE(host.socks.empty());
  EXPECT_EQ(stack->counters().dropped(wire::Drop::bad_tcp_checksum), 1u);
}

TEST_F(TcpScript, VnetHeaderGivesTsoFramesWithOffloadedChecksum) {
  make(true);
  establish();
  host.sock(fd).rx = std::string(40000, 'v');
  event(core::kEvIn);
  ASSERT_EQ(tap.frames.size(), 1u) << "one 40 KB TSO frame, not 28 MTU-sized ones";
  Seen s = out();
  EXPECT_EQ(s.payload.size(), 40000u);
  EXPECT_EQ(s.vnet.gso_type, wire::VnetHdr::kGsoTcpv4);
  EXPECT_EQ(s.vnet.gso_size, 1460);
  EXPECT_EQ(s.vnet.flags, wire::VnetHdr::kNeedsCsum);
  EXPECT_EQ(s.vnet.csum_start, 34);
  EXPECT_EQ(s.vnet.csum_offset, 16);
}

TEST_F(TcpScript, InboundConnectionOpensTowardsTheContainerOverTheTap) {
  // A published port's client at 198.51.100.9:51000 (not on the host's
  // loopback): ferry opens the connection to the guest's port 80 itself.
  int hfd = host.tcp_connect(core::SockAddr::v4(wire::Ip4(0, 0, 0, 0), 0));  // stands for the accepted socket
  host.sock(hfd).connecting = false;
  const wire::Ip4 client(198, 51, 100, 9);
  ASSERT_TRUE(stack->open_inbound(hfd, core::SockAddr::v4(client, 51000), 80, now));
  Seen syn = out();
  EXPECT_EQ(syn.tcp->flags, SYN);
  EXPECT_EQ(syn.ip.src, client);
  EXPECT_EQ(syn.ip.dst, kGuest);
  EXPECT_EQ(syn.tcp->sport, 51000);
  EXPECT_EQ(syn.tcp->dport, 80);
  EXPECT_EQ(syn.tcp->wscale, 7);
  EXPECT_FALSE(host.sock(hfd).watch_in) << "nothing is read before the container accepts";
  EXPECT_EQ(host.sock(hfd).adopted, 1) << "the accepted socket gets peek offsets like ferry's own";
  const uint32_t our_isn = syn.tcp->seq;
  // The container has not said anything yet, so its MAC is unknown: the SYN
  // went to broadcast, and an ARP request for the guest follows.
  EXPECT_TRUE(syn.eth.dst.is_broadcast());
  Seen who_has = parse_out(tap.pop(), fb.vnet);
  ASSERT_TRUE(who_has.arp);
  EXPECT_EQ(who_has.arp->op, wire::Arp::kRequest);
  EXPECT_EQ(who_has.arp->tpa, kGuest);
  in(fb.arp_request(kGuest, kGw));  // any frame from the container teaches its MAC
  tap.frames.clear();
  // The SYN is retransmitted if the container does not answer, now to its MAC.
  now += core::Tcp::kMinRtoMs;
  stack->on_timer(now);
  Seen again = out();
  EXPECT_EQ(again.tcp->flags, SYN);
  EXPECT_EQ(again.eth.dst, fb.guest_mac);
  // The container accepts.
  in(fb.tcp(kGuest, client, 80, 51000, 777, our_isn + 1, SYN | ACK, 65535, {}, 1460, 7));
  Seen a = out();
  EXPECT_EQ(a.tcp->flags, ACK);
  EXPECT_EQ(a.tcp->ack, 778u);
  EXPECT_TRUE(host.sock(hfd).watch_in);
  // Data both ways.
  host.sock(hfd).rx = "GET /";
  stack->on_socket(host.sock(hfd).token, core::kEvIn, now);
  Seen d = out();
  EXPECT_EQ(d.payload, "GET /");
  EXPECT_EQ(d.tcp->seq, our_isn + 1);
  in(fb.tcp(kGuest, client, 80, 51000, 778, our_isn + 6, ACK | PSH, 100, "200 OK"));
  EXPECT_EQ(host.sock(hfd).sent, "200 OK");
  EXPECT_EQ(host.sock(hfd).discarded, 5u);
  EXPECT_EQ(stack->counters().tcp_flows_inbound, 1u);
}

TEST_F(TcpScript, InboundConnectionRefusedByTheContainerResetsTheClient) {
  int hfd = host.tcp_connect(core::SockAddr::v4(wire::Ip4(0, 0, 0, 0), 0));
  const wire::Ip4 client(198, 51, 100, 9);
  in(fb.arp_request(kGuest, kGw));
  tap.frames.clear();
  ASSERT_TRUE(stack->open_inbound(hfd, core::SockAddr::v4(client, 51001), 81, now));
  Seen syn = out();
  EXPECT_EQ(syn.eth.dst, fb.guest_mac);
  in(fb.tcp(kGuest, client, 81, 51001, 0, syn.tcp->seq + 1, RST | ACK, 0));
  EXPECT_TRUE(host.sock(hfd).closed);
  EXPECT_TRUE(host.sock(hfd).reset);
  EXPECT_EQ(stack->tcp().active(), 0u);
}

TEST_F(TcpScript, FlowSlotsAreReusedAndStaleEventsIgnored) {
  for (int i = 0; i < 3; ++i) {
    tap.frames.clear();
    establish();
    uint64_t old_token = host.sock(fd).token;
    seg(RST | ACK);
    stack->on_socket(old_token, core::kEvIn, now);  // late event for the freed slot
    EXPECT_TRUE(tap.frames.empty());
    cseq += 100000;
  }
  EXPECT_EQ(stack->tcp().active(), 0u);
  EXPECT_EQ(host.closed_count, 3u);
}

}  // namespace
