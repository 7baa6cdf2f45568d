// The egress policy (core/policy.hpp): rule syntax and its errors, first
// match wins, the allow-list default, IPv4 and IPv6 in one rule type; and
// the hook in Context::map_destination as packet scripts: a denied SYN is
// refused with an RST, denied UDP and ICMP echo are dropped and counted, the
// gateway is judged as 127.0.0.1, the DNS forwarder's upstream is exempt.
#include "stack_fixture.hpp"
#include "netstack/core/policy.hpp"
#include "netstack/core/stack.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

using namespace ferry;
using namespace ferry::test;

namespace {

wire::Ip6 v6(const char* s) {
  wire::Ip6 a;
  EXPECT_EQ(inet_pton(AF_INET6, s, a.b), 1) << s;
  return a;
}

core::PolicyRule rule(bool allow, const char* spec) {
  auto r = core::parse_policy_rule(allow, spec);
  EXPECT_TRUE(r) << spec << ": " << (r ? "" : r.error());
  return r ? *r : core::PolicyRule{};
}

std::string error_of(const char* spec) {
  auto r = core::parse_policy_rule(false, spec);
  EXPECT_FALSE(r) << spec << " should be rejected";
  return r ? "" : r.error();
}

TEST(PolicyParse, Ipv4FormsMapToIpv6) {
  auto r = rule(false, "169.254.169.254");
  EXPECT_EQ(r.prefix, 128);
  EXPECT_EQ(r.net, wire::Ip6::mapped(wire::Ip4(169, 254, 169, 254)));
  EXPECT_EQ(r.port_lo, 0);
  EXPECT_EQ(r.port_hi, 65535);
  r = rule(true, "10.0.0.0/8");
  EXPECT_EQ(r.prefix, 96 + 8);
  EXPECT_TRUE(r.allow);
  r = rule(false, "192.168.1.0/24:22");
  EXPECT_EQ(r.port_lo, 22);
  EXPECT_EQ(r.port_hi, 22);
  r = rule(false, "0.0.0.0/0:1-1023");
  EXPECT_EQ(r.prefix, 96);
  EXPECT_EQ(r.port_lo, 1);
  EXPECT_EQ(r.port_hi, 1023);
  r = rule(false, "127.0.0.1:8080");
  EXPECT_EQ(r.prefix, 128);
  EXPECT_EQ(r.port_lo, 8080);
}

TEST(PolicyParse, Ipv6Forms) {
  auto r = rule(false, "2001:db8::/32");
  EXPECT_EQ(r.prefix, 32);
  EXPECT_EQ(r.net, v6("2001:db8::"));
  r = rule(false, "2001:db8::/32:443");
  EXPECT_EQ(r.port_lo, 443);
  r = rule(false, "[2001:db8::1]:443");
  EXPECT_EQ(r.prefix, 128);
  EXPECT_EQ(r.port_lo, 443);
  r = rule(false, "[fd00::]/8:80-90");
  EXPECT_EQ(r.prefix, 8);
  EXPECT_EQ(r.port_hi, 90);
  r = rule(false, "::1");
  EXPECT_EQ(r.net, v6("::1"));
  r = rule(false, "::ffff:0:0/96");
  EXPECT_EQ(r.prefix, 96);
}

TEST(PolicyParse, ErrorsNameTheRuleAndTheProblem) {
  std::string e = error_of("10.0.0.1/8");
  EXPECT_NE(e.find("--deny 10.0.0.1/8"), std::string::npos) << e;
  EXPECT_NE(e.find("host bits"), std::string::npos) << e;
  EXPECT_NE(error_of("10.0.0.0/33").find("prefix length must be 0-32"), std::string::npos);
  EXPECT_NE(error_of("::/129").find("prefix length must be 0-128"), std::string::npos);
  EXPECT_NE(error_of("example.com").find("'example.com' is not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(error_of("10.0.0.0/8:0").find("port must be 1-65535"), std::string::npos);
  EXPECT_NE(error_of("10.0.0.0/8:70000").find("port must be 1-65535"), std::string::npos);
  EXPECT_NE(error_of("10.0.0.0/8:90-80").find("A <= B"), std::string::npos);
  EXPECT_NE(error_of("10.0.0.0/8:1-").find("PORT or A-B"), std::string::npos);
  EXPECT_NE(error_of("[::1").find("']'"), std::string::npos);
  EXPECT_NE(error_of("[::1]x").find("ADDR[/PREFIX][:PORTS]"), std::string::npos);
  error_of("");
  error_of("1.2.3.4/");
  error_of("1.2.3.4/8x");
  error_of("1.2.3.4:");
  EXPECT_NE(core::parse_policy_rule(true, "x").error().find("--allow x"), std::string::npos);
}

TEST(Policy, EmptyAllowsEverything) {
  core::Policy p;
  EXPECT_TRUE(p.allows(wire::Ip4(1, 2, 3, 4), 80));
  EXPECT_TRUE(p.allows(v6("2001:db8::1"), 80));
}

TEST(Policy, DenyListDefaultAllows) {
  core::Policy p;
  ASSERT_TRUE(p.add(false, "169.254.169.254/32"));
  EXPECT_FALSE(p.allows(wire::Ip4(169, 254, 169, 254), 80));
  EXPECT_FALSE(p.allows(wire::Ip4(169, 254, 169, 254), 0)) << "ICMP too";
  EXPECT_TRUE(p.allows(wire::Ip4(169, 254, 169, 253), 80));
  EXPECT_TRUE(p.allows(v6("::a9fe:a9fe"), 80)) << "an IPv4 rule does not match an unrelated IPv6 address";
}

TEST(Policy, FirstMatchWinsAndAnyAllowMakesDefaultDeny) {
  core::Policy p;
  ASSERT_TRUE(p.add(false, "10.1.0.0/16"));
  ASSERT_TRUE(p.add(true, "10.0.0.0/8"));
  ASSERT_TRUE(p.add(true, "2001:db8::/32:443"));
  EXPECT_FALSE(p.allows(wire::Ip4(10, 1, 2, 3), 80));
  EXPECT_TRUE(p.allows(wire::Ip4(10, 2, 2, 3), 80));
  EXPECT_FALSE(p.allows(wire::Ip4(192, 0, 2, 1), 80)) << "an allow-list: no match is denied";
  EXPECT_TRUE(p.allows(v6("2001:db8::5"), 443));
  EXPECT_FALSE(p.allows(v6("2001:db8::5"), 444));
  core::Policy q;  // the other order: the broad allow shadows the deny
  ASSERT_TRUE(q.add(true, "10.0.0.0/8"));
  ASSERT_TRUE(q.add(false, "10.1.0.0/16"));
  EXPECT_TRUE(q.allows(wire::Ip4(10, 1, 2, 3), 80));
}

TEST(Policy, PortRulesDoNotMatchIcmp) {
  core::Policy p;
  ASSERT_TRUE(p.add(true, "0.0.0.0/0:1-65535"));
  EXPECT_TRUE(p.allows(wire::Ip4(192, 0, 2, 1), 53));
  EXPECT_FALSE(p.allows(wire::Ip4(192, 0, 2, 1), 0)) << "ICMP echo is judged with port 0";
}

TEST(Policy, PrefixEdges) {
  core::Policy p;
  ASSERT_TRUE(p.add(false, "192.0.2.128/25"));
  EXPECT_TRUE(p.allows(wire::Ip4(192, 0, 2, 127), 1));
  EXPECT_FALSE(p.allows(wire::Ip4(192, 0, 2, 128), 1));
  EXPECT_FALSE(p.allows(wire::Ip4(192, 0, 2, 255), 1));
  core::Policy all;
  ASSERT_TRUE(all.add(false, "::/0"));
  EXPECT_FALSE(all.allows(wire::Ip4(1, 1, 1, 1), 1)) << "::/0 covers the IPv4-mapped range too";
  core::Policy v4all;
  ASSERT_TRUE(v4all.add(false, "0.0.0.0/0"));
  EXPECT_FALSE(v4all.allows(wire::Ip4(1, 1, 1, 1), 1));
  EXPECT_TRUE(v4all.allows(v6("2001:db8::1"), 1));
}

TEST(Policy, LoopbackAliasIsJudgedAsLoopback) {
  core::Policy p;
  ASSERT_TRUE(p.add(false, "127.0.0.0/8"));
  p.set_loopback_alias(wire::Ip4(169, 254, 1, 2));
  EXPECT_FALSE(p.allows(wire::Ip4(169, 254, 1, 2), 80));
  EXPECT_TRUE(p.allows(wire::Ip4(169, 254, 1, 3), 80));
}

// --- The hook: packet scripts ----------------------------------------------------

const wire::Ip4 kGuest(10, 0, 2, 100), kGw(10, 0, 2, 2), kDns(10, 0, 2, 3), kMeta(169, 254, 169, 254),
    kRemote(192, 0, 2, 7);

class PolicyStackTest : public StackFixture {
 protected:
  void start(std::initializer_list<std::pair<bool, const char*>> rules) {
    for (auto [allow, spec] : rules) ASSERT_TRUE(cfg.egress.add(allow, spec));
    make_stack();
  }
  uint64_t denied() const { return stack->counters().dropped(wire::Drop::policy_denied); }
};

TEST_F(PolicyStackTest, DeniedSynIsRefusedWithRstAndNoSocket) {
  start({{false, "169.254.169.254/32"}});
  in(fb.tcp(kGuest, kMeta, 40000, 80, 100, 0, wire::TcpHdr::kSyn, 65535));
  EXPECT_TRUE(host.socks.empty());
  ASSERT_EQ(tap.frames.size(), 1u);
  Seen r = parse_out(tap.pop(), false);
  ASSERT_TRUE(r.tcp);
  EXPECT_TRUE(r.tcp->has(wire::TcpHdr::kRst));
  EXPECT_EQ(r.tcp->ack, 101u);
  EXPECT_EQ(r.ip.src, kMeta);
  EXPECT_EQ(denied(), 1u);
  // Another destination still connects.
  in(fb.tcp(kGuest, kRemote, 40001, 80, 100, 0, wire::TcpHdr::kSyn, 65535));
  ASSERT_EQ(host.socks.size(), 1u);
  EXPECT_EQ(host.sock(host.last_fd()).dst.addr, kRemote);
}

TEST_F(PolicyStackTest, DeniedUdpAndIcmpAreDroppedAndCounted) {
  start({{false, "169.254.169.254"}});
  in(fb.udp(kGuest, kMeta, 5000, 53, "q"));
  in(fb.udp(kGuest, kMeta, 5000, 53, "q"));
  in(fb.echo(kGuest, kMeta, 7, 1, "ping"));
  EXPECT_TRUE(host.socks.empty());
  EXPECT_TRUE(tap.frames.empty());
  EXPECT_EQ(denied(), 3u);
  EXPECT_EQ(stack->dgram().active(), 0u);
}

TEST_F(PolicyStackTest, PortRangesApplyPerProtocolPort) {
  start({{true, "192.0.2.0/24:1000-2000"}});
  in(fb.udp(kGuest, kRemote, 5000, 1500, "ok"));
  EXPECT_EQ(host.socks.size(), 1u);
  in(fb.udp(kGuest, kRemote, 5000, 2001, "no"));
  in(fb.tcp(kGuest, kRemote, 40000, 80, 1, 0, wire::TcpHdr::kSyn, 65535));
  in(fb.echo(kGuest, kRemote, 7, 1, "ping"));
  EXPECT_EQ(host.socks.size(), 1u);
  EXPECT_EQ(denied(), 3u);
}

TEST_F(PolicyStackTest, GatewayIsJudgedAsHostLoopback) {
  start({{false, "127.0.0.1/32:22"}});
  in(fb.tcp(kGuest, kGw, 40000, 22, 1, 0, wire::TcpHdr::kSyn, 65535));
  EXPECT_TRUE(host.socks.empty());
  EXPECT_EQ(denied(), 1u);
  in(fb.tcp(kGuest, kGw, 40000, 8080, 1, 0, wire::TcpHdr::kSyn, 65535));
  ASSERT_EQ(host.socks.size(), 1u);
  EXPECT_EQ(host.sock(host.last_fd()).dst.addr, wire::Ip4(127, 0, 0, 1));
  // Ping to the gateway is answered by ferry itself, never judged.
  in(fb.echo(kGuest, kGw, 1, 1, "x"));
  EXPECT_EQ(denied(), 1u);
}

TEST_F(PolicyStackTest, DnsUpstreamIsExemptEvenFromAnAllowList) {
  start({{true, "192.0.2.0/24"}});
  host.dns = wire::Ip4(127, 0, 0, 53);
  in(fb.udp(kGuest, kDns, 5000, 53, "query"));
  ASSERT_EQ(host.socks.size(), 1u);
  EXPECT_EQ(host.sock(host.last_fd()).dst.addr, wire::Ip4(127, 0, 0, 53));
  EXPECT_EQ(denied(), 0u);
  in(fb.udp(kGuest, wire::Ip4(198, 51, 100, 1), 5000, 53, "query"));
  EXPECT_EQ(denied(), 1u) << "other resolvers are judged like any destination";
}

TEST_F(PolicyStackTest, HostLoopbackDisabledStillRefusesBeforePolicy) {
  cfg.disable_host_loopback = true;
  start({{true, "0.0.0.0/0"}});
  in(fb.tcp(kGuest, kGw, 40000, 22, 1, 0, wire::TcpHdr::kSyn, 65535));
  in(fb.udp(kGuest, kGw, 5000, 53, "q"));
  EXPECT_TRUE(host.socks.empty());
  EXPECT_EQ(stack->counters().dropped(wire::Drop::host_loopback_disabled), 2u);
  EXPECT_EQ(denied(), 0u);
}

}  // namespace
