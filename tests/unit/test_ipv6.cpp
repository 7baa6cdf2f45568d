// IPv6 through the translator as packet scripts: how ferry learns the
// container's IPv6 address (duplicate address detection, then its traffic)
// and the IPv6 tap path of published ports that needs it (TCP and UDP), the
// container seeing the client's own IPv6 address.
#include "stack_fixture.hpp"
#include "netstack/core/stack.hpp"

#include <gtest/gtest.h>

using namespace ferry;
using namespace ferry::test;
using wire::TcpHdr;

namespace {

constexpr uint8_t SYN = TcpHdr::kSyn, ACK = TcpHdr::kAck;

wire::Ip6 ip6(std::string_view s) { return *core::parse_ip6(s); }

class Ipv6Script : public StackFixture {
 protected:
  const wire::Ip6 guest = ip6("fd00::5054:ff:fe12:3456");  // a SLAAC address
  const wire::Ip6 client = ip6("2001:db8::9");

  void SetUp() override {
    now = 1000;
    cfg.ipv6 = true;
    cfg.mtu = 1500;
    make_stack();
    stack->on_timer(now);
  }
  Seen6 out() {
    EXPECT_FALSE(tap.frames.empty());
    if (tap.frames.empty()) return {};
    Seen6 s = parse_out6(tap.pop(), fb.vnet);
    EXPECT_TRUE(s.l4_checksum_ok);
    return s;
  }
  // A socket that stands for the forwarder's accepted connection.
  int accepted() {
    int fd = host.tcp_connect(core::SockAddr::v4(wire::Ip4(0, 0, 0, 0), 0));
    host.sock(fd).connecting = false;
    return fd;
  }
};

TEST_F(Ipv6Script, TheGuestAddressIsLearntFromDuplicateAddressDetection) {
  EXPECT_TRUE(stack->reaches_guest(false)) << "IPv4 always has its tap path";
  EXPECT_FALSE(stack->reaches_guest(true)) << "the container has not shown an IPv6 address yet";
  // DAD for ferry's own addresses teaches nothing (a confused or hostile
  // container), nor does a target outside the prefix.
  in(fb.dad(cfg.gateway6));
  in(fb.dad(ip6("2001:db8::1")));
  EXPECT_FALSE(stack->reaches_guest(true));
  in(fb.dad(guest));
  ASSERT_TRUE(stack->guest6());
  EXPECT_EQ(*stack->guest6(), guest);
  // A later address (say, a DHCPv6 lease) goes through DAD too: the newest wins.
  const wire::Ip6 leased = ip6("fd00::100");
  in(fb.dad(leased));
  EXPECT_EQ(*stack->guest6(), leased);
  // Traffic from another address in the prefix does not move it.
  in(fb.udp6(guest, ip6("2001:db8::53"), 5000, 53, "q"));
  EXPECT_EQ(*stack->guest6(), leased);
}

TEST_F(Ipv6Script, WithoutDadTheSourceOfTheContainersTrafficServes) {
  in(fb.udp6(guest, ip6("2001:db8::53"), 5000, 53, "q"));
  ASSERT_TRUE(stack->guest6());
  EXPECT_EQ(*stack->guest6(), guest);
}

TEST_F(Ipv6Script, InboundTcpFromAnIpv6ClientOpensTowardsTheGuestOverTheTap) {
  int hfd = accepted();
  EXPECT_FALSE(stack->open_inbound(hfd, core::SockAddr{client, 51000}, 80, now))
      << "no IPv6 address for the container yet: refused (the forwarder splices instead)";
  EXPECT_TRUE(host.sock(hfd).closed);
  in(fb.dad(guest));
  tap.frames.clear();
  hfd = accepted();
  ASSERT_TRUE(stack->open_inbound(hfd, core::SockAddr{client, 51000}, 80, now));
  Seen6 syn = out();
  ASSERT_TRUE(syn.tcp);
  EXPECT_EQ(syn.eth.type, wire::Eth::kIpv6);
  EXPECT_EQ(syn.eth.dst, fb.guest_mac) << "the MAC was learnt from the DAD frame";
  EXPECT_EQ(syn.ip.src, client) << "the container sees the client's own address";
  EXPECT_EQ(syn.ip.dst, guest);
  EXPECT_EQ(syn.tcp->flags, SYN);
  EXPECT_EQ(syn.tcp->sport, 51000);
  EXPECT_EQ(syn.tcp->dport, 80);
  EXPECT_EQ(syn.tcp->mss, int(cfg.mtu - 60)) << "IPv6 and TCP headers: 60 bytes";
  const uint32_t isn = syn.tcp->seq;
  in(fb.tcp6(guest, client, 80, 51000, 900, isn + 1, SYN | ACK, 65535, {}, 1440, 7));
  Seen6 a = out();
  EXPECT_EQ(a.tcp->flags, ACK);
  EXPECT_EQ(a.tcp->ack, 901u);
  host.sock(hfd).rx = "GET /";
  stack->on_socket(host.sock(hfd).token, core::kEvIn, now);
  Seen6 d = out();
  EXPECT_EQ(d.payload, "GET /");
  in(fb.tcp6(guest, client, 80, 51000, 901, isn + 6, ACK, 100, "200 OK"));
  EXPECT_EQ(host.sock(hfd).sent, "200 OK");
  EXPECT_EQ(stack->counters().tcp_flows_inbound, 1u);
}

TEST_F(Ipv6Script, InboundUdpFromAnIpv6ClientReachesTheGuestAndRepliesReturn) {
  in(fb.dad(guest));
  tap.frames.clear();
  int made = 0;
  auto make = [&] {
    ++made;
    return host.udp_open(core::SockAddr{client, 40000});
  };
  const std::string q = "query";
  stack->udp_inbound(core::SockAddr{client, 40000}, 53, {reinterpret_cast<const uint8_t*>(q.data()), q.size()}, now,
                     make);
  EXPECT_EQ(made, 1);
  Seen6 a = out();
  ASSERT_TRUE(a.udp);
  EXPECT_EQ(a.ip.src, client);
  EXPECT_EQ(a.ip.dst, guest);
  EXPECT_EQ(a.udp->sport, 40000);
  EXPECT_EQ(a.udp->dport, 53);
  EXPECT_EQ(a.payload, "query");
  in(fb.udp6(guest, client, 53, 40000, "answer"));
  const int fd = host.last_fd();
  ASSERT_EQ(host.sock(fd).dgrams_out.size(), 1u);
  EXPECT_EQ(host.sock(fd).dgrams_out[0], "answer");
  EXPECT_EQ(host.socks.size(), 1u) << "the reply took the inbound flow, no outbound flow opened";
}

TEST_F(Ipv6Script, InboundUdpBeforeTheGuestAddressIsKnownIsNotSent) {
  int made = 0;
  const std::string q = "x";
  stack->udp_inbound(core::SockAddr{client, 40000}, 53, {reinterpret_cast<const uint8_t*>(q.data()), q.size()}, now,
                     [&] {
                       ++made;
                       return -1;
                     });
  EXPECT_EQ(made, 0);
  EXPECT_TRUE(tap.frames.empty());
}

}  // namespace
