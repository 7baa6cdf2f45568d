// Bounds on what a container can make ferry hold (core::Limits,
// docs/security.md), as packet scripts with small limits: a full TCP table
// and too many half-open connections refuse SYNs with an RST; UDP evicts the
// least recently active flow when the table, a source port or the DNS
// forwarder is at its bound; reassembly keeps a fixed number of datagrams.
// Every bound is counted and never leaks a socket.
#include "stack_fixture.hpp"
#include "netstack/core/limits.hpp"
#include "netstack/core/stack.hpp"

#include <gtest/gtest.h>

using namespace ferry;
using namespace ferry::test;

namespace {

const wire::Ip4 kGuest(10, 0, 2, 100), kDns(10, 0, 2, 3), kRemote(192, 0, 2, 7);
constexpr uint8_t SYN = wire::TcpHdr::kSyn, ACK = wire::TcpHdr::kAck, RST = wire::TcpHdr::kRst;

class LimitsTest : public StackFixture {
 protected:
  void start() { make_stack(); }
  void syn(uint16_t sport, uint16_t dport = 80) {
    in(fb.tcp(kGuest, kRemote, sport, dport, 1000, 0, SYN, 65535, {}, 1460, 7));
  }
  // The reply to the last SYN: an RST, or nothing (host connect pending).
  bool last_was_rst() {
    if (tap.frames.empty()) return false;
    Seen s = parse_out(tap.frames.back(), false);
    tap.frames.clear();
    return s.tcp && s.tcp->has(RST);
  }
  // The host connect of socket fd succeeds: ferry sends its SYN-ACK.
  uint32_t connected(int fd) {
    stack->on_socket(host.sock(fd).token, core::kEvOut, now);
    stack->flush(now);
    Seen s = parse_out(tap.pop(), false);
    EXPECT_EQ(s.tcp->flags, SYN | ACK);
    return s.tcp->seq;
  }
};

TEST_F(LimitsTest, FullTcpTableRefusesSynsWithRst) {
  lim.tcp_flows = 4;
  start();
  for (uint16_t p = 1; p <= 4; ++p) {
    syn(p);
    EXPECT_FALSE(last_was_rst());
  }
  EXPECT_EQ(stack->tcp().active(), 4u);
  syn(5);
  EXPECT_TRUE(last_was_rst());
  EXPECT_EQ(dropped(wire::Drop::flow_table_full), 1u);
  EXPECT_EQ(host.socks.size(), 4u) << "no socket for a refused SYN";
  // A flow that ends makes room again.
  in(fb.tcp(kGuest, kRemote, 1, 80, 1001, 0, RST, 0));
  EXPECT_EQ(stack->tcp().active(), 3u);
  syn(6);
  EXPECT_FALSE(last_was_rst());
  EXPECT_EQ(stack->tcp().active(), 4u);
}

TEST_F(LimitsTest, HalfOpenConnectionsAreBoundedEstablishedOnesAreNot) {
  lim.tcp_half_open = 2;
  start();
  syn(1);
  const int fd1 = host.last_fd();
  syn(2);
  const int fd2 = host.last_fd();
  EXPECT_EQ(stack->tcp().half_open(), 2u);
  syn(3);  // a SYN flood's third SYN: refused
  EXPECT_TRUE(last_was_rst());
  EXPECT_EQ(dropped(wire::Drop::tcp_half_open_full), 1u);
  EXPECT_EQ(host.socks.size(), 2u);
  // The first completes its handshake (host connect, then the container's
  // ACK): no longer half-open, so a new SYN is taken.
  const uint32_t isn = connected(fd1);
  EXPECT_EQ(stack->tcp().half_open(), 2u) << "SYN-ACK sent is still half-open";
  in(fb.tcp(kGuest, kRemote, 1, 80, 1001, isn + 1, ACK, 65535));
  EXPECT_EQ(stack->tcp().half_open(), 1u);
  syn(4);
  EXPECT_FALSE(last_was_rst());
  EXPECT_EQ(stack->tcp().half_open(), 2u);
  // A half-open flow that fails or is reset frees its place too.
  host.sock(fd2).connect_errno = ECONNREFUSED;
  stack->on_socket(host.sock(fd2).token, core::kEvOut | core::kEvErr, now);
  EXPECT_EQ(stack->tcp().half_open(), 1u);
  in(fb.tcp(kGuest, kRemote, 4, 80, 1001, 0, RST, 0));
  EXPECT_EQ(stack->tcp().half_open(), 0u);
  EXPECT_EQ(stack->tcp().active(), 1u);
}

TEST_F(LimitsTest, HalfOpenFlowsThatNeverAnswerTimeOut) {
  lim.tcp_half_open = 1;
  start();
  syn(1);
  connected(host.last_fd());
  syn(2);
  EXPECT_TRUE(last_was_rst());
  // The container never ACKs the SYN-ACK: retransmissions, then the flow goes.
  for (int i = 0; i < 40 && stack->tcp().active(); ++i) {
    now += 10000;
    stack->on_timer(now);
  }
  EXPECT_EQ(stack->tcp().active(), 0u);
  EXPECT_EQ(stack->tcp().half_open(), 0u);
  EXPECT_EQ(host.open_count(), 0u);
  tap.frames.clear();
  syn(3);
  EXPECT_FALSE(last_was_rst());
}

TEST_F(LimitsTest, FullUdpTableEvictsTheLeastRecentlyActiveFlow) {
  lim.dgram_flows = 3;
  start();
  for (uint16_t p = 1; p <= 3; ++p) {
    in(fb.udp(kGuest, kRemote, uint16_t(1000 + p), 9, "x"));
    now += 10;
  }
  const int first = 100, second = 101;
  in(fb.udp(kGuest, kRemote, 1001, 9, "refresh"));  // flow 1 is now the most recent
  now += 10;
  in(fb.udp(kGuest, kRemote, 1004, 9, "new"));
  EXPECT_EQ(stack->dgram().active(), 3u);
  EXPECT_EQ(stack->counters().dgram_evicted_full, 1u);
  EXPECT_FALSE(host.sock(first).closed);
  EXPECT_TRUE(host.sock(second).closed) << "flow 2 was idle longest";
  EXPECT_EQ(host.open_count(), 3u);
}

TEST_F(LimitsTest, OneSourcePortCannotTakeTheWholeTable) {
  lim.dgram_flows = 64;
  lim.dgram_per_port = 4;
  start();
  in(fb.udp(kGuest, kRemote, 7777, 9, "other source"));
  // A scan: one source port towards 100 destination ports.
  for (uint16_t p = 1; p <= 100; ++p) {
    in(fb.udp(kGuest, kRemote, 5000, p, "scan"));
    now += 1;
  }
  EXPECT_EQ(stack->dgram().active(), 5u) << "4 for the scanning port + the other flow";
  EXPECT_EQ(stack->counters().dgram_evicted_port, 96u);
  EXPECT_EQ(stack->counters().dgram_evicted_full, 0u);
  EXPECT_FALSE(host.sock(100).closed) << "the other source's flow survives";
  EXPECT_EQ(host.open_count(), 5u);
  // Every datagram still went out: eviction bounds state, it does not drop.
  EXPECT_EQ(stack->counters().udp_datagrams_out, 101u);
  // Echo identifiers are bounded the same way, separately from UDP ports.
  for (uint8_t d = 1; d <= 10; ++d) in(fb.echo(kGuest, wire::Ip4(192, 0, 2, d), 5000, 1, "p"));
  EXPECT_EQ(stack->dgram().active(), 9u);
}

TEST_F(LimitsTest, DnsQueriesInFlightAreBounded) {
  lim.dns_queries = 8;
  start();
  in(fb.udp(kGuest, kRemote, 7777, 53, "a resolver the container chose"));
  for (uint16_t p = 1; p <= 50; ++p) in(fb.udp(kGuest, kDns, uint16_t(20000 + p), 53, "query"));
  EXPECT_EQ(stack->dgram().dns_active(), 8u);
  EXPECT_EQ(stack->dgram().active(), 9u);
  EXPECT_EQ(stack->counters().dgram_evicted_dns, 42u);
  EXPECT_EQ(stack->counters().dns_queries, 50u);
  EXPECT_FALSE(host.sock(100).closed);
  EXPECT_EQ(host.open_count(), 9u);
  // Expiry brings the count back to zero.
  now += core::Dgram::kUdpIdleMs + 1000;
  stack->on_timer(now);
  EXPECT_EQ(stack->dgram().dns_active(), 0u);
  EXPECT_EQ(stack->dgram().active(), 0u);
}

TEST_F(LimitsTest, ReassemblyHoldsAFixedNumberOfDatagrams) {
  lim.reasm_slots = 2;
  start();
  Bytes part(80, 'f');
  // Never-completing first fragments of 5 datagrams: 2 held at a time.
  for (uint16_t id = 1; id <= 5; ++id) {
    in(fb.ipv4(kGuest, kRemote, wire::Ip4Hdr::kUdp, part, 0x2000, id));
    now += 1;
  }
  EXPECT_EQ(dropped(wire::Drop::fragment_table_full), 3u);
  // The newest (id 5) is still being reassembled: its last part completes it.
  Bytes first(80, 'f');  // UDP header (checksum 0: none) and 72 bytes
  wire::UdpHdr{1, 9, uint16_t(80 + 16), 0}.emit(first.data());
  Bytes second(16, 's');
  in(fb.ipv4(kGuest, kRemote, wire::Ip4Hdr::kUdp, first, 0x2000, 6));
  in(fb.ipv4(kGuest, kRemote, wire::Ip4Hdr::kUdp, second, 10, 6));
  EXPECT_EQ(stack->counters().datagrams_reassembled, 1u);
  EXPECT_EQ(stack->counters().udp_datagrams_out, 1u);
  EXPECT_EQ(dropped(wire::Drop::fragment_table_full), 4u);
  // The rest time out.
  now += lim.reasm_timeout_ms + 2000;
  stack->on_timer(now);
  EXPECT_EQ(dropped(wire::Drop::fragment_timeout), 1u);
}

}  // namespace

namespace {

TEST(FitLimitsToFds, UnchangedWhenTheyFit) {
  core::Limits l;
  std::string note;
  core::Limits f = core::fit_limits_to_fds(l, 1 << 20, core::Forwarder::possible, &note);
  EXPECT_EQ(f.tcp_flows, l.tcp_flows);
  EXPECT_EQ(f.dgram_flows, l.dgram_flows);
  EXPECT_TRUE(note.empty());
}

TEST(FitLimitsToFds, ShrinkInProportionUnderALowLimit) {
  core::Limits l;
  std::string note;
  core::Limits f = core::fit_limits_to_fds(l, 1024, core::Forwarder::possible, &note);
  EXPECT_LE(f.tcp_flows + f.dgram_flows, (1024 - core::kReservedFds) / 2);
  EXPECT_GE(f.tcp_flows, core::kMinFlows);
  EXPECT_GE(f.dgram_flows, core::kMinFlows);
  EXPECT_GT(f.tcp_flows, f.dgram_flows) << "proportions kept";
  EXPECT_LE(f.tcp_half_open, f.tcp_flows);
  EXPECT_LE(f.dgram_per_port, f.dgram_flows);
  EXPECT_LE(f.dns_queries, f.dgram_flows);
  EXPECT_NE(note.find("descriptor limit 1024"), std::string::npos) << note;
  // Absurdly low limits still leave a usable minimum.
  f = core::fit_limits_to_fds(l, 10, core::Forwarder::possible);
  EXPECT_GE(f.tcp_flows, core::kMinFlows);
  EXPECT_EQ(f.dgram_flows, core::kMinFlows);
  EXPECT_LE(f.tcp_flows, 2 * core::kMinFlows);
  f = core::fit_limits_to_fds(l, 10, core::Forwarder::none);
  EXPECT_LE(f.tcp_flows, 2 * core::kMinFlows);
  EXPECT_EQ(f.dgram_flows, core::kMinFlows);
}

// Without a port spec or an API socket no forwarded connection can arrive:
// the translator may have every descriptor but ferry's own reserve. A
// 20,000 limit (a container's usual hard limit) then holds 10,000 TCP flows.
TEST(FitLimitsToFds, NoForwarderLeavesItsShareToTheTranslator) {
  core::Limits l;
  const uint64_t nofile = 20000;
  core::Limits with = core::fit_limits_to_fds(l, nofile, core::Forwarder::possible);
  std::string note;
  core::Limits without = core::fit_limits_to_fds(l, nofile, core::Forwarder::none, &note);
  EXPECT_LE(with.tcp_flows + with.dgram_flows, (nofile - core::kReservedFds) / 2);
  EXPECT_LE(without.tcp_flows + without.dgram_flows, nofile - core::kReservedFds);
  EXPECT_GT(without.tcp_flows + without.dgram_flows, (nofile - core::kReservedFds) * 9 / 10) << "the budget is used";
  EXPECT_GE(without.tcp_flows, 10000u);
  EXPECT_GT(without.tcp_flows, with.tcp_flows);
  EXPECT_GT(without.tcp_flows, without.dgram_flows) << "proportions kept";
  EXPECT_NE(note.find("descriptor limit 20000"), std::string::npos) << note;
  // A limit that holds every table leaves them as configured either way.
  core::Limits big = core::fit_limits_to_fds(l, 1 << 20, core::Forwarder::none);
  EXPECT_EQ(big.tcp_flows, l.tcp_flows);
  EXPECT_EQ(big.dgram_flows, l.dgram_flows);
}

}  // namespace

namespace {

// ARP spoofing: the container claims the gateway's address, or sends frames
// from the gateway's MAC. ferry keeps answering for its addresses and keeps
// addressing the container by the container's own MAC.
TEST(Spoofing, GatewayMacAndAddressClaimsChangeNothing) {
  core::NetConfig cfg;
  FakeHost host;
  FakeTap tap;
  SeqRandom rng;
  FrameBuilder fb;
  core::Stack stack(cfg, host, tap, rng, false);
  const wire::Ip4 gw(10, 0, 2, 2), guest(10, 0, 2, 100);
  // A gratuitous ARP reply "10.0.2.2 is at the container's MAC".
  wire::Arp a;
  a.op = wire::Arp::kReply;
  a.sha = fb.guest_mac;
  a.spa = gw;
  a.tha = fb.guest_mac;
  a.tpa = gw;
  Bytes body(wire::Arp::kLen);
  a.emit(body.data());
  stack.on_frame(fb.wrap(wire::Eth::kArp, body), 1);
  EXPECT_TRUE(tap.frames.empty());
  // A frame from the gateway's own MAC.
  FrameBuilder spoof = fb;
  spoof.guest_mac = cfg.gateway_mac;
  stack.on_frame(spoof.echo(guest, gw, 1, 1, "x"), 2);
  ASSERT_EQ(tap.frames.size(), 1u);
  Seen r = parse_out(tap.pop(), false);
  EXPECT_FALSE(r.eth.dst == cfg.gateway_mac) << "ferry must not address frames to itself";
  // The gateway is still answered for, to the real container.
  stack.on_frame(fb.arp_request(guest, gw), 3);
  ASSERT_EQ(tap.frames.size(), 1u);
  Seen reply = parse_out(tap.pop(), false);
  ASSERT_TRUE(reply.arp);
  EXPECT_EQ(reply.arp->sha, cfg.gateway_mac);
  EXPECT_EQ(reply.eth.dst, fb.guest_mac);
}

}  // namespace
