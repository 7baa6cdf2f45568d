// Unit tests for the member state file (state.hpp) and the nftables table
// rendered from it (firewall.hpp).
#include <gtest/gtest.h>

#include "firewall.hpp"
#include "state.hpp"

using namespace ferry::bridge;

namespace {

NetworkState sample() {
  NetworkState s;
  s.bridge = "br0";
  s.subnets = {*parse_ipnet("10.9.0.0/24"), *parse_ipnet("fd09::/64")};
  Member m;
  m.interface_name = "eth0";
  m.ips = {*parse_ip("10.9.0.2"), *parse_ip("fd09::2")};
  PortMapping p;
  p.container_port = 80;
  p.host_port = 8080;
  p.protocols = {"tcp", "udp"};
  p.range = 2;
  m.ports.push_back(p);
  PortMapping q;
  q.container_port = 53;
  q.host_port = 5353;
  q.host_ip = "192.0.2.1";
  q.protocols = {"udp"};
  m.ports.push_back(q);
  s.members["c0ffee0123456789"] = m;
  return s;
}

}  // namespace

TEST(State, RoundTrips) {
  auto s = sample();
  auto back = parse_state(render_state(s));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->bridge, "br0");
  EXPECT_EQ(back->subnets, s.subnets);
  ASSERT_EQ(back->members.size(), 1u);
  const auto& m = back->members.at("c0ffee0123456789");
  EXPECT_EQ(m.ips, s.members.at("c0ffee0123456789").ips);
  ASSERT_EQ(m.ports.size(), 2u);
  EXPECT_EQ(m.ports[0].range, 2);
  EXPECT_EQ(m.ports[0].protocols, (std::vector<std::string>{"tcp", "udp"}));
  EXPECT_EQ(m.ports[1].host_ip, "192.0.2.1");
}

TEST(State, DamagedFileIsAnError) {
  for (const char* t : {"", "[]", R"({"bridge":1})", R"({"bridge":"b"})", R"({"bridge":"b","members":{"c":{"ips":["x"]}}})",
                        R"({"bridge":"b","members":{"c":{"ports":[{"container_port":0}]}}})"})
    EXPECT_FALSE(parse_state(t)) << t;
}

TEST(Firewall, TableHoldsMasqueradeAndPortMappings) {
  std::string r = render_ruleset("0123abcd-x", sample());
  EXPECT_EQ(table_name("0123abcd-x"), "ferry_bridge_0123abcd_x");
  EXPECT_EQ(r.rfind("add table inet ferry_bridge_0123abcd_x\ndelete table inet ferry_bridge_0123abcd_x\ntable inet ferry_bridge_0123abcd_x {", 0), 0u);
  auto has = [&](const std::string& s) { return r.find(s) != std::string::npos; };
  EXPECT_TRUE(has("ip saddr 10.9.0.0/24 ip daddr != { 10.9.0.0/24, 224.0.0.0/4 } masquerade"));
  EXPECT_TRUE(has("ip6 saddr fd09::/64 ip6 daddr != { fd09::/64, ff00::/8 } masquerade"));
  EXPECT_TRUE(has("fib daddr type local tcp dport 8080 dnat ip to 10.9.0.2:80"));
  EXPECT_TRUE(has("fib daddr type local udp dport 8081 dnat ip to 10.9.0.2:81"));  // range 2
  EXPECT_TRUE(has("fib daddr type local tcp dport 8081 dnat ip6 to [fd09::2]:81"));
  EXPECT_TRUE(has("ip daddr 192.0.2.1 udp dport 5353 dnat ip to 10.9.0.2:53"));
  EXPECT_FALSE(has("ip6 daddr 192.0.2.1"));  // host_ip of one family maps only that family
  EXPECT_FALSE(has("dport 8082"));
}

TEST(Firewall, NoMembersRemovesTheTable) {
  NetworkState s = sample();
  s.members.clear();
  EXPECT_EQ(render_ruleset("n1", s), "add table inet ferry_bridge_n1\ndelete table inet ferry_bridge_n1\n");
}
