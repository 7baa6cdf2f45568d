// Frame dispatch outside TCP: ARP, ICMP echo (local and forwarded), UDP
// flows and DNS forwarding, fragment reassembly, and malformed frames (each
// dropped and counted, the stack still serving afterwards).
#include "stack_fixture.hpp"
#include "netstack/core/stack.hpp"

#include <gtest/gtest.h>

using namespace ferry;
using namespace ferry::test;

namespace {

const wire::Ip4 kGuest(10, 0, 2, 100), kGw(10, 0, 2, 2), kDns(10, 0, 2, 3), kRemote(192, 0, 2, 7);

class StackTest : public StackFixture {
 protected:
  void SetUp() override { make_stack(); }
  Seen out() {
    EXPECT_FALSE(tap.frames.empty());
    if (tap.frames.empty()) return {};
    return parse_out(tap.pop(), false);
  }
};

TEST_F(StackTest, AnswersArpForGatewayAndDnsOnly) {
  in(fb.arp_request(kGuest, kGw));
  Seen a = out();
  ASSERT_TRUE(a.arp);
  EXPECT_EQ(a.arp->op, wire::Arp::kReply);
  EXPECT_EQ(a.arp->spa, kGw);
  EXPECT_EQ(a.arp->sha, cfg.gateway_mac);
  EXPECT_EQ(a.eth.dst, fb.guest_mac);
  in(fb.arp_request(kGuest, kDns));
  EXPECT_EQ(out().arp->spa, kDns);
  in(fb.arp_request(kGuest, wire::Ip4(10, 0, 2, 50)));
  EXPECT_TRUE(tap.frames.empty());
}

TEST_F(StackTest, PingToGatewayIsAnsweredLocally) {
  in(fb.echo(kGuest, kGw, 0x1234, 7, "abcdefgh"));
  Seen r = out();
  ASSERT_TRUE(r.icmp);
  EXPECT_TRUE(r.l4_checksum_ok);
  EXPECT_EQ(r.icmp->type, wire::IcmpHdr::kEchoReply);
  EXPECT_EQ(r.icmp->id, 0x1234);
  EXPECT_EQ(r.icmp->seq, 7);
  EXPECT_EQ(r.payload, "abcdefgh");
  EXPECT_EQ(r.ip.src, kGw);
  EXPECT_EQ(r.ip.dst, kGuest);
  EXPECT_TRUE(host.socks.empty());
}

TEST_F(StackTest, PingElsewhereGoesThroughEchoSocketAndIdIsRestored) {
  in(fb.echo(kGuest, kRemote, 0x4242, 1, "ping"));
  int fd = host.last_fd();
  ASSERT_EQ(host.sock(fd).kind, FakeSocket::icmp);
  EXPECT_EQ(host.sock(fd).dst.addr, kRemote);
  ASSERT_EQ(host.sock(fd).dgrams_out.size(), 1u);
  // The kernel answers with its own identifier (0x0007).
  std::string reply = host.sock(fd).dgrams_out[0];
  reply[0] = 0;
  reply[4] = 0;
  reply[5] = 7;
  host.sock(fd).dgrams_in.push_back(reply);
  stack->on_socket(host.sock(fd).token, core::kEvIn, now);
  Seen r = out();
  EXPECT_TRUE(r.l4_checksum_ok);
  EXPECT_EQ(r.icmp->id, 0x4242);
  EXPECT_EQ(r.ip.src, kRemote);
  EXPECT_EQ(r.payload, "ping");
}

TEST_F(StackTest, PingWithoutEchoSocketsIsCountedNotFatal) {
  host.icmp_fail = EACCES;
  in(fb.echo(kGuest, kRemote, 1, 1, "x"));
  EXPECT_TRUE(tap.frames.empty());
  EXPECT_EQ(stack->counters().dropped(wire::Drop::icmp_unsupported), 1u);
  in(fb.echo(kGuest, kGw, 1, 2, "x"));
  EXPECT_EQ(out().icmp->type, wire::IcmpHdr::kEchoReply);
}

TEST_F(StackTest, UdpFlowRoundTrip) {
  in(fb.udp(kGuest, kRemote, 5353, 9999, "question"));
  int fd = host.last_fd();
  EXPECT_EQ(host.sock(fd).dst.addr, kRemote);
  EXPECT_EQ(host.sock(fd).dst.port, 9999);
  ASSERT_EQ(host.sock(fd).dgrams_out.size(), 1u);
  EXPECT_EQ(host.sock(fd).dgrams_out[0], "question");
  in(fb.udp(kGuest, kRemote, 5353, 9999, "again"));
  EXPECT_EQ(host.socks.size(), 1u) << "same flow, same socket";
  host.sock(fd).dgrams_in = {"answer1", "answer2"};
  stack->on_socket(host.sock(fd).token, core::kEvIn, now);
  Seen a = out(), b = out();
  EXPECT_TRUE(a.l4_checksum_ok);
  EXPECT_EQ(a.payload, "answer1");
  EXPECT_EQ(b.payload, "answer2");
  EXPECT_EQ(a.udp->sport, 9999);
  EXPECT_EQ(a.udp->dport, 5353);
  EXPECT_EQ(a.ip.src, kRemote);
}

// A burst of datagrams read from the tap in one batch leaves in one call
// per flow and 64 datagrams (UDP GSO or sendmmsg in the real host), each
// flow's in order, when the loop ends the batch.
TEST_F(StackTest, UdpBurstIsSentPerFlowInBatchesAtTheEndOfTheBatch) {
  for (int i = 0; i < 100; ++i) {
    stack->on_frame(fb.udp(kGuest, kRemote, 5000, 9999, "a" + std::to_string(i)), now);
    if (i % 10 == 0) stack->on_frame(fb.udp(kGuest, kRemote, 5001, 9999, "b" + std::to_string(i)), now);
  }
  ASSERT_EQ(host.socks.size(), 2u);
  const int fa = host.socks.begin()->first, fb_ = host.socks.rbegin()->first;
  EXPECT_TRUE(host.sock(fa).dgrams_out.empty()) << "nothing leaves before the batch ends";
  stack->flush(now);
  ASSERT_EQ(host.sock(fa).dgrams_out.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(host.sock(fa).dgrams_out[size_t(i)], "a" + std::to_string(i));
  EXPECT_EQ(host.sock(fa).send_batches, (std::vector<size_t>{64, 36}));
  ASSERT_EQ(host.sock(fb_).dgrams_out.size(), 10u);
  EXPECT_EQ(host.sock(fb_).dgrams_out[9], "b90");
  EXPECT_EQ(host.sock(fb_).send_batches, (std::vector<size_t>{10}));
  EXPECT_EQ(stack->counters().udp_datagrams_out, 110u);
  EXPECT_TRUE(host.sock(fa).gso_seen);
}

// More than the staging queue holds in one batch: sent early, nothing lost.
TEST_F(StackTest, UdpQueueFullIsSentEarly) {
  const size_t n = core::Dgram::kOutQueue + 10;
  for (size_t i = 0; i < n; ++i) stack->on_frame(fb.udp(kGuest, kRemote, 5000, 9999, std::to_string(i)), now);
  const int fd = host.last_fd();
  EXPECT_EQ(host.sock(fd).dgrams_out.size(), core::Dgram::kOutQueue);
  stack->flush(now);
  ASSERT_EQ(host.sock(fd).dgrams_out.size(), n);
  EXPECT_EQ(host.sock(fd).dgrams_out.back(), std::to_string(n - 1));
}

// A pending ICMP error (ECONNREFUSED) costs one datagram of the batch, not
// all of them; a path that refuses GSO is not asked again.
TEST_F(StackTest, UdpBatchErrorsLoseOnlyWhatFailed) {
  in(fb.udp(kGuest, kRemote, 5000, 9999, "first"));
  const int fd = host.last_fd();
  host.sock(fd).send_errno = ECONNREFUSED;
  host.sock(fd).refuse_gso = true;
  for (const char* p : {"x", "y", "z"}) stack->on_frame(fb.udp(kGuest, kRemote, 5000, 9999, p), now);
  stack->flush(now);
  EXPECT_EQ(host.sock(fd).dgrams_out, (std::vector<std::string>{"first", "y", "z"}));
  EXPECT_EQ(stack->counters().dropped(wire::Drop::udp_send_failed), 1u);
  EXPECT_FALSE(host.sock(fd).gso_seen);
  host.sock(fd).refuse_gso = false;
  in(fb.udp(kGuest, kRemote, 5000, 9999, "later"));
  EXPECT_FALSE(host.sock(fd).gso_seen) << "the flow remembers that GSO was refused";
  host.sock(fd).send_errno = ENOBUFS;
  for (const char* p : {"1", "2"}) stack->on_frame(fb.udp(kGuest, kRemote, 5000, 9999, p), now);
  stack->flush(now);
  EXPECT_EQ(stack->counters().dropped(wire::Drop::udp_send_failed), 3u) << "any other error fails the run";
}

// A flow closed (expired, evicted) with datagrams queued: they are counted
// as lost, never sent on a socket that now belongs to someone else.
TEST_F(StackTest, UdpQueuedForAnExpiredFlowAreCounted) {
  stack->on_frame(fb.udp(kGuest, kRemote, 5000, 9999, "late"), now);
  const int fd = host.last_fd();
  stack->on_timer(now + core::Dgram::kUdpIdleMs + 1);
  stack->flush(now);
  EXPECT_TRUE(host.sock(fd).closed);
  EXPECT_TRUE(host.sock(fd).dgrams_out.empty());
  EXPECT_EQ(stack->counters().dropped(wire::Drop::udp_send_failed), 1u);
}

// The tap path of a published UDP port: a host client's datagram opens a
// flow on the socket the forwarder made; the container's replies go back out
// of that socket; the next datagram of the same client reuses the flow.
TEST_F(StackTest, InboundUdpOpensAFlowAndRepliesReturnThroughIt) {
  const wire::Ip4 caddr(198, 18, 0, 2);
  const core::SockAddr client = core::SockAddr::v4(caddr, 40000);
  int made = 0;
  auto make = [&] {
    ++made;
    return host.udp_open(client);
  };
  const std::string q = "query";
  stack->udp_inbound(client, 53, {reinterpret_cast<const uint8_t*>(q.data()), q.size()}, now, make);
  EXPECT_EQ(made, 1);
  Seen a = out();
  EXPECT_TRUE(a.l4_checksum_ok);
  EXPECT_EQ(a.ip.src, caddr);
  EXPECT_EQ(a.ip.dst, kGuest);
  EXPECT_EQ(a.udp->sport, 40000);
  EXPECT_EQ(a.udp->dport, 53);
  EXPECT_EQ(a.payload, "query");
  stack->udp_inbound(client, 53, {reinterpret_cast<const uint8_t*>(q.data()), q.size()}, now, make);
  EXPECT_EQ(made, 1) << "same client, same flow";
  out();
  // The container answers: out of the flow's socket, to nobody else.
  in(fb.udp(kGuest, caddr, 53, 40000, "answer"));
  const int fd = host.last_fd();
  ASSERT_EQ(host.sock(fd).dgrams_out.size(), 1u);
  EXPECT_EQ(host.sock(fd).dgrams_out[0], "answer");
  EXPECT_EQ(host.socks.size(), 1u) << "no outbound flow opened for the reply";
  EXPECT_EQ(stack->counters().udp_flows_inbound, 1u);
}

TEST_F(StackTest, InboundUdpWithoutASocketIsCountedNotSent) {
  const std::string q = "x";
  stack->udp_inbound(core::SockAddr::v4(wire::Ip4(198, 18, 0, 2), 1), 53,
                     {reinterpret_cast<const uint8_t*>(q.data()), q.size()}, now,
                     [] { return -24; });
  EXPECT_TRUE(tap.frames.empty());
  EXPECT_EQ(stack->counters().dropped(wire::Drop::udp_send_failed), 1u);
}

TEST_F(StackTest, RepliesAreReceivedInBatchesWithinABudget) {
  in(fb.udp(kGuest, kRemote, 5353, 9999, "q"));
  int fd = host.last_fd();
  for (int i = 0; i < 100; ++i) host.sock(fd).dgrams_in.push_back("reply" + std::to_string(i));
  stack->on_socket(host.sock(fd).token, core::kEvIn, now);
  EXPECT_EQ(tap.frames.size(), size_t(core::Dgram::kRecvBudget)) << "a budget per event, so one flow cannot starve others";
  EXPECT_EQ(host.sock(fd).recv_calls, int(core::Dgram::kRecvBudget / core::Dgram::kBatch));
  EXPECT_EQ(out().payload, "reply0");
  // No new readiness will come for the 36 still queued: the stack says it
  // has work left, and the end of the batch serves them.
  EXPECT_TRUE(stack->has_pending());
  tap.frames.clear();
  stack->flush(now);
  EXPECT_EQ(tap.frames.size(), 36u);
  EXPECT_TRUE(out().l4_checksum_ok);
  EXPECT_FALSE(stack->has_pending());
}

TEST_F(StackTest, DnsAddressForwardsToHostResolverAndAnswersFromDnsAddress) {
  in(fb.udp(kGuest, kDns, 33333, 53, "dnsquery"));
  int fd = host.last_fd();
  EXPECT_EQ(host.sock(fd).dst.addr, host.dns);
  EXPECT_EQ(host.sock(fd).dst.port, 53);
  host.sock(fd).dgrams_in = {"dnsanswer"};
  stack->on_socket(host.sock(fd).token, core::kEvIn, now);
  Seen a = out();
  EXPECT_EQ(a.ip.src, kDns);
  EXPECT_EQ(a.udp->sport, 53);
  EXPECT_EQ(a.payload, "dnsanswer");
  EXPECT_EQ(stack->counters().dns_queries, 1u);
  // DNS flows expire quickly.
  now += core::Dgram::kDnsIdleMs + 1000;
  stack->on_timer(now);
  EXPECT_TRUE(host.sock(fd).closed);
}

TEST_F(StackTest, DnsDisabledDropsQueries) {
  cfg.disable_dns = true;
  SetUp();
  in(fb.udp(kGuest, kDns, 33333, 53, "q"));
  EXPECT_TRUE(host.socks.empty());
}

TEST_F(StackTest, UdpToGatewayWithLoopbackDisabledGetsAdminProhibited) {
  cfg.disable_host_loopback = true;
  SetUp();
  in(fb.udp(kGuest, kGw, 1000, 2000, "x"));
  EXPECT_TRUE(host.socks.empty());
  Seen r = out();
  ASSERT_TRUE(r.icmp);
  EXPECT_EQ(r.icmp->code, wire::IcmpHdr::kAdminProhibited);
}

TEST_F(StackTest, FragmentsAreReassembledInAnyOrder) {
  std::string payload(3000, 'f');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = char('a' + i % 26);
  Bytes whole = fb.udp(kGuest, kRemote, 7000, 7001, payload);
  // Split the UDP datagram (header + payload, 3008 bytes) at 1480 and 2960.
  std::span<const uint8_t> l4(whole.data() + 14 + 20, whole.size() - 34);
  auto frag = [&](size_t off, size_t len, bool mf) {
    Bytes part(l4.begin() + off, l4.begin() + off + len);
    return fb.ipv4(kGuest, kRemote, wire::Ip4Hdr::kUdp, part, uint16_t((mf ? 0x2000 : 0) | off / 8), 99);
  };
  in(frag(2960, 48, false));
  in(frag(0, 1480, true));
  EXPECT_TRUE(host.socks.empty());
  in(frag(1480, 1480, true));
  int fd = host.last_fd();
  ASSERT_GE(fd, 0);
  ASSERT_EQ(host.sock(fd).dgrams_out.size(), 1u);
  EXPECT_EQ(host.sock(fd).dgrams_out[0], payload);
  EXPECT_EQ(stack->counters().datagrams_reassembled, 1u);
}

TEST_F(StackTest, OverlappingAndStaleFragmentsAreDropped) {
  Bytes part(800, 'o');
  in(fb.ipv4(kGuest, kRemote, wire::Ip4Hdr::kUdp, part, 0x2000 | 0, 5));
  in(fb.ipv4(kGuest, kRemote, wire::Ip4Hdr::kUdp, part, 0x2000 | 50, 5));  // overlaps 400..800
  EXPECT_EQ(stack->counters().dropped(wire::Drop::fragment_overlap), 1u);
  in(fb.ipv4(kGuest, kRemote, wire::Ip4Hdr::kUdp, part, 0x2000 | 0, 6));
  now += 31000;
  stack->on_timer(now);
  EXPECT_EQ(stack->counters().dropped(wire::Drop::fragment_timeout), 1u);
  EXPECT_TRUE(host.socks.empty());
}

TEST_F(StackTest, MalformedFramesAreCountedAndStackStillServes) {
  in(Bytes{1, 2, 3});
  Bytes ip = fb.echo(kGuest, kGw, 1, 1, "x");
  Bytes bad_version = ip;
  bad_version[14] = 0x65;
  in(bad_version);
  Bytes truncated(ip.begin(), ip.begin() + 30);
  in(truncated);
  Bytes bad_icmp = ip;
  bad_icmp.back() ^= 1;
  in(bad_icmp);
  Bytes other_mac = ip;
  other_mac[0] = 0x02;
  in(other_mac);
  Bytes v6 = ip;
  v6[12] = 0x86;
  v6[13] = 0xdd;
  in(v6);
  const auto& c = stack->counters();
  EXPECT_EQ(c.dropped(wire::Drop::short_frame), 2u);
  EXPECT_EQ(c.dropped(wire::Drop::bad_ip_version), 1u);
  EXPECT_EQ(c.dropped(wire::Drop::bad_icmp_checksum), 1u);
  EXPECT_EQ(c.dropped(wire::Drop::not_for_us), 1u);
  EXPECT_EQ(c.dropped(wire::Drop::ipv6_unsupported), 1u);
  EXPECT_TRUE(tap.frames.empty());
  in(ip);
  EXPECT_EQ(out().icmp->type, wire::IcmpHdr::kEchoReply);
  EXPECT_NE(stack->stats().find("drop_bad_ip_version 1"), std::string::npos);
}

TEST_F(StackTest, DestinationsInsideTheVirtualSubnetGoNowhere) {
  in(fb.udp(kGuest, wire::Ip4(10, 0, 2, 77), 1, 2, "x"));
  in(fb.udp(kGuest, wire::Ip4(127, 0, 0, 1), 1, 2, "x"));
  EXPECT_TRUE(host.socks.empty());
  EXPECT_EQ(stack->counters().dropped(wire::Drop::bad_ip_address), 2u);
}

}  // namespace
