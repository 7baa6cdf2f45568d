// Unit tests for create's validation/completion and setup's plan (plan.hpp):
// what ferry-bridge decides to do, without a kernel.
#include <gtest/gtest.h>

#include "plan.hpp"

using namespace ferry::bridge;
namespace json = boost::json;

namespace {

IpAddr ip(const char* s) { return *parse_ip(s); }

Network network(const char* text) {
  auto n = parse_network(*parse_json(text));
  EXPECT_TRUE(n) << n.error();
  return *n;
}

std::string create_error(const char* text) {
  auto n = complete_network(network(text));
  return n ? "" : n.error();
}

NetworkPluginExec exec(const char* net, const char* opts) {
  std::string text = std::string(R"({"container_id":"c1","container_name":"a","network":)") + net +
                     R"(,"network_options":)" + opts + "}";
  auto x = parse_plugin_exec(*parse_json(text));
  EXPECT_TRUE(x) << x.error();
  auto n = complete_network(x->network);
  EXPECT_TRUE(n) << n.error();
  x->network = *n;
  return *x;
}

const char* kNet = R"({"name":"n","id":"0123456789abcdef","driver":"ferry-bridge",
  "subnets":[{"subnet":"10.9.0.0/24"},{"subnet":"fd09::/64","gateway":"fd09::fe"}]})";

}  // namespace

TEST(Create, CompletesBridgeGatewayAndIpv6) {
  auto n = complete_network(network(kNet));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(n->name, "n");
  EXPECT_EQ(n->id, "0123456789abcdef");
  EXPECT_EQ(n->driver, "ferry-bridge");
  EXPECT_EQ(n->network_interface, "fbr0123456789ab");
  EXPECT_EQ(n->subnets[0].gateway->str(), "10.9.0.1");
  EXPECT_EQ(n->subnets[1].gateway->str(), "fd09::fe");  // given gateways are kept
  EXPECT_TRUE(n->ipv6_enabled);
}

TEST(Create, RejectsBadInputByName) {
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d"})"), "subnets: at least one subnet is required");
  EXPECT_EQ(create_error(R"({"name":"","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/8"}]})"), "name: must not be empty");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/31"}]})").rfind("subnets[0].subnet: 10.0.0.0/31: prefix /31", 0), 0u);
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24","gateway":"10.0.1.1"}]})"),
            "subnets[0].gateway: 10.0.1.1 is not in subnet 10.0.0.0/24");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24","gateway":"10.0.0.255"}]})"),
            "subnets[0].gateway: 10.0.0.255 is the broadcast address of 10.0.0.0/24");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/16"},{"subnet":"10.0.5.0/24"}]})"),
            "subnets[1].subnet: 10.0.5.0/24 overlaps subnets[0] 10.0.0.0/16");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24","lease_range":{"start_ip":"10.0.0.50","end_ip":"10.0.0.40"}}]})"),
            "subnets[0].lease_range: start_ip 10.0.0.50 is after end_ip 10.0.0.40");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24","lease_range":{"start_ip":"10.1.0.50"}}]})"),
            "subnets[0].lease_range.start_ip: 10.1.0.50 is not in subnet 10.0.0.0/24");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24"}],"options":{"isolate":"true"}})"),
            "options.isolate: unsupported option (ferry-bridge supports: mtu)");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24"}],"options":{"mtu":"40"}})"),
            "options.mtu: \"40\" is not an MTU (68-65535)");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24"}],"ipam_options":{"driver":"dhcp"}})"),
            "ipam_options.driver: \"dhcp\" is not supported (ferry-bridge supports: host-local)");
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24"}],"network_interface":"a/b"})").rfind("network_interface:", 0), 0u);
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24"}],"dns_enabled":true})").rfind("dns_enabled:", 0), 0u);
  EXPECT_EQ(create_error(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.0.0.0/24"}],"routes":[{"destination":"10.5.0.0/16","gateway":"10.6.0.1"}]})"),
            "routes[0].gateway: 10.6.0.1 is not in any subnet of the network");
}

TEST(Plan, AllocatesFirstFreeAddressesAndDefaultRoutes) {
  auto x = exec(kNet, R"({"interface_name":"eth0"})");
  auto p = plan_setup(x, {ip("10.9.0.2")}, true);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->bridge, "fbr0123456789ab");
  EXPECT_EQ(p->container_if, "eth0");
  EXPECT_EQ(p->host_veth, host_veth_name("0123456789abcdef", "c1", "eth0"));
  EXPECT_EQ(p->host_veth.size(), 15u);
  ASSERT_EQ(p->container_addresses.size(), 2u);
  EXPECT_EQ(p->container_addresses[0].ipnet.str(), "10.9.0.3/24");  // .1 gateway, .2 used
  EXPECT_EQ(p->container_addresses[0].gateway->str(), "10.9.0.1");
  EXPECT_EQ(p->container_addresses[1].ipnet.str(), "fd09::1/64");  // gateway is ::fe here
  ASSERT_EQ(p->bridge_addresses.size(), 2u);
  EXPECT_EQ(p->bridge_addresses[0].str(), "10.9.0.1/24");
  EXPECT_EQ(p->bridge_addresses[1].str(), "fd09::fe/64");
  ASSERT_EQ(p->routes.size(), 2u);
  EXPECT_EQ(p->routes[0].destination.str(), "0.0.0.0/0");
  EXPECT_EQ(p->routes[1].destination.str(), "::/0");
  EXPECT_TRUE(p->ipv6);
  EXPECT_TRUE(p->nat);
}

TEST(Plan, LeaseRangeStaticIpAndMac) {
  auto x = exec(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.9.0.0/24","lease_range":{"start_ip":"10.9.0.100","end_ip":"10.9.0.101"}}]})",
                R"({"interface_name":"net1","static_mac":"02:00:00:00:00:01"})");
  auto p = plan_setup(x, {ip("10.9.0.100")}, false);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->container_addresses[0].ipnet.str(), "10.9.0.101/24");
  EXPECT_EQ(mac_str(*p->mac), "02:00:00:00:00:01");
  EXPECT_FALSE(p->nat);  // rootless
  auto full = plan_setup(x, {ip("10.9.0.100"), ip("10.9.0.101")}, false);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), "subnets[0]: no free address left in 10.9.0.100 - 10.9.0.101");

  auto s = exec(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.9.0.0/24"}]})",
                R"({"interface_name":"eth0","static_ips":["10.9.0.77"]})");
  auto ps = plan_setup(s, {}, true);
  ASSERT_TRUE(ps) << ps.error();
  EXPECT_EQ(ps->container_addresses[0].ipnet.str(), "10.9.0.77/24");
}

TEST(Plan, InternalNetworkHasNoDefaultRouteNorNat) {
  auto x = exec(R"({"name":"n","id":"i","driver":"d","internal":true,"subnets":[{"subnet":"10.9.0.0/24"}],
                    "routes":[{"destination":"10.50.0.0/16","gateway":"10.9.0.254","metric":5}]})",
                R"({"interface_name":"eth0"})");
  auto p = plan_setup(x, {}, true);
  ASSERT_TRUE(p) << p.error();
  EXPECT_FALSE(p->nat);
  ASSERT_EQ(p->routes.size(), 1u);
  EXPECT_EQ(p->routes[0].destination.str(), "10.50.0.0/16");
  EXPECT_EQ(p->routes[0].metric, 5u);
}

TEST(Plan, RejectsBadStaticIpsByName) {
  auto err = [](const char* opts, std::set<IpAddr> used = {}) {
    auto x = exec(R"({"name":"n","id":"i","driver":"d","subnets":[{"subnet":"10.9.0.0/24"}]})", opts);
    auto p = plan_setup(x, used, true);
    return p ? std::string() : p.error();
  };
  EXPECT_EQ(err(R"({"interface_name":"eth0","static_ips":["10.8.0.5"]})"),
            "network_options.static_ips[0]: 10.8.0.5 is not in any subnet of network n");
  EXPECT_EQ(err(R"({"interface_name":"eth0","static_ips":["10.9.0.1"]})"),
            "network_options.static_ips[0]: 10.9.0.1 is the gateway of 10.9.0.0/24");
  EXPECT_EQ(err(R"({"interface_name":"eth0","static_ips":["10.9.0.0"]})"),
            "network_options.static_ips[0]: 10.9.0.0 is the network address of 10.9.0.0/24");
  EXPECT_EQ(err(R"({"interface_name":"eth0","static_ips":["10.9.0.5","10.9.0.6"]})"),
            "network_options.static_ips[1]: a second address in subnet 10.9.0.0/24");
  EXPECT_EQ(err(R"({"interface_name":"eth0","static_ips":["10.9.0.5"]})", {ip("10.9.0.5")}),
            "network_options.static_ips[0]: 10.9.0.5 is already in use by another container");
  EXPECT_EQ(err(R"({"interface_name":"eth0","options":{"foo":"1"}})").rfind("network_options.options.foo:", 0), 0u);
}

TEST(Plan, HostVethNameIsStableAndDistinct) {
  EXPECT_EQ(host_veth_name("n", "c", "eth0"), host_veth_name("n", "c", "eth0"));
  EXPECT_NE(host_veth_name("n", "c", "eth0"), host_veth_name("n", "d", "eth0"));
  EXPECT_NE(host_veth_name("n", "c", "eth0"), host_veth_name("m", "c", "eth0"));
  EXPECT_EQ(host_veth_name("n", "c", "eth0").rfind("veth", 0), 0u);
}

TEST(Plan, PortConflicts) {
  auto pm = [](const char* ip, uint16_t port, uint16_t range, std::vector<std::string> protos) {
    PortMapping m;
    m.host_ip = ip;
    m.host_port = port;
    m.container_port = 80;
    m.range = range;
    m.protocols = std::move(protos);
    return m;
  };
  std::vector<PortMapping> held = {pm("", 8080, 3, {"tcp"}), pm("192.0.2.1", 53, 1, {"udp"})};
  EXPECT_EQ(port_conflict({pm("", 9000, 1, {"tcp"})}, held), "");
  EXPECT_EQ(port_conflict({pm("", 8083, 1, {"tcp"})}, held), "");            // just past the range
  EXPECT_EQ(port_conflict({pm("", 8082, 1, {"udp"})}, held), "");            // other protocol
  EXPECT_EQ(port_conflict({pm("192.0.2.2", 53, 1, {"udp"})}, held), "");     // other address
  EXPECT_EQ(port_conflict({pm("", 8082, 1, {"udp", "tcp"})}, held),
            "port_mappings[0]: tcp host port 8082 is already forwarded to another container");
  EXPECT_EQ(port_conflict({pm("", 53, 1, {"udp"})}, held),  // all addresses include 192.0.2.1
            "port_mappings[0]: udp host port 53 is already forwarded to another container");
  EXPECT_EQ(port_conflict({pm("", 7000, 2, {"tcp"}), pm("", 7001, 1, {"tcp"})}, {}),
            "port_mappings[1]: tcp host port 7001 overlaps port_mappings[0]");
}
