// Unit tests for the plugin API's JSON conversion (types.hpp): good input
// parses into the expected fields; every bad field is named in the error.
#include <gtest/gtest.h>

#include "types.hpp"

using namespace ferry::bridge;
namespace json = boost::json;

namespace {

json::value J(const char* s) { return *parse_json(s); }

const char* kExec = R"({
  "container_id": "c0ffee", "container_name": "web",
  "port_mappings": [{"container_port": 80, "host_ip": "", "host_port": 8080, "protocol": "tcp,udp", "range": 2}],
  "network": {"name": "n", "id": "abc", "driver": "ferry-bridge", "network_interface": "br9",
              "subnets": [{"subnet": "10.9.0.0/24", "gateway": "10.9.0.1",
                           "lease_range": {"start_ip": "10.9.0.10", "end_ip": "10.9.0.20"}}],
              "ipv6_enabled": false, "internal": false, "dns_enabled": false,
              "options": {"mtu": "1400"}, "ipam_options": {"driver": "host-local"},
              "routes": [{"destination": "10.10.0.0/16", "gateway": "10.9.0.254", "metric": 7}],
              "network_dns_servers": ["10.9.0.53"], "labels": {"x": "y"}, "created": "2023-01-01T00:00:00Z"},
  "network_options": {"aliases": ["w"], "interface_name": "eth0", "static_ips": ["10.9.0.5"],
                      "static_mac": "02:00:00:00:00:05", "options": {}}
})";

std::string exec_error(const std::string& text) {
  auto v = parse_json(text);
  if (!v) return v.error();
  auto x = parse_plugin_exec(*v);
  return x ? "" : x.error();
}

}  // namespace

TEST(Types, ParsesFullSetupInput) {
  auto x = parse_plugin_exec(J(kExec));
  ASSERT_TRUE(x) << x.error();
  EXPECT_EQ(x->container_id, "c0ffee");
  ASSERT_EQ(x->port_mappings.size(), 1u);
  EXPECT_EQ(x->port_mappings[0].protocols, (std::vector<std::string>{"tcp", "udp"}));
  EXPECT_EQ(x->port_mappings[0].range, 2);
  const auto& n = x->network;
  EXPECT_EQ(n.network_interface, "br9");
  ASSERT_EQ(n.subnets.size(), 1u);
  EXPECT_EQ(n.subnets[0].subnet.str(), "10.9.0.0/24");
  EXPECT_EQ(n.subnets[0].lease_range->start_ip->str(), "10.9.0.10");
  EXPECT_EQ(n.routes[0].metric, 7u);
  EXPECT_EQ(n.options.at("mtu"), "1400");
  EXPECT_EQ(x->network_options.static_ips[0].str(), "10.9.0.5");
  EXPECT_EQ(mac_str(*x->network_options.static_mac), "02:00:00:00:00:05");
}

TEST(Types, OptionalFieldsMayBeAbsentOrNull) {
  auto x = parse_plugin_exec(J(R"({"container_id":"c","container_name":"n","port_mappings":null,
    "network":{"name":"n","id":"i","driver":"d","subnets":null,"routes":null,"options":null},
    "network_options":{"interface_name":"eth0","static_ips":null,"static_mac":null}})"));
  ASSERT_TRUE(x) << x.error();
  EXPECT_TRUE(x->port_mappings.empty());
  EXPECT_FALSE(x->network.network_interface);
  EXPECT_EQ(x->port_mappings.size(), 0u);
}

TEST(Types, ErrorsNameTheField) {
  struct Case {
    std::string from, to, expect;
  };
  std::vector<Case> cases = {
      {R"("container_id": "c0ffee",)", "", "container_id: missing required field"},
      {R"("container_id": "c0ffee")", R"("container_id": 5)", "container_id: expected a string, got a number"},
      {R"("name": "n",)", "", "network.name: missing required field"},
      {R"("subnet": "10.9.0.0/24")", R"("subnet": "10.9.0.0")", "network.subnets[0].subnet: \"10.9.0.0\" is not"},
      {R"("gateway": "10.9.0.1")", R"("gateway": "10.9.0.x")", "network.subnets[0].gateway: \"10.9.0.x\" is not an IP"},
      {R"("end_ip": "10.9.0.20")", R"("end_ip": 20)", "network.subnets[0].lease_range.end_ip: expected a string"},
      {R"("metric": 7)", R"("metric": -7)", "network.routes[0].metric: expected a non-negative integer"},
      {R"("metric": 7)", R"("metric": 99999999999)", "network.routes[0].metric: 99999999999 is out of range"},
      {R"("mtu": "1400")", R"("mtu": 1400)", "network.options.mtu: expected a string"},
      {R"("interface_name": "eth0")", R"("interface_name": "eth0/../x")", "network_options.interface_name: \"eth0/../x\" is not a valid"},
      {R"("interface_name": "eth0")", R"("interface_name": "")", "network_options.interface_name"},
      {R"("interface_name": "eth0",)", "", "network_options.interface_name: missing required field"},
      {R"("static_ips": ["10.9.0.5"])", R"("static_ips": "10.9.0.5")", "network_options.static_ips: expected an array"},
      {R"("static_mac": "02:00:00:00:00:05")", R"("static_mac": "01:00:00:00:00:05")", "network_options.static_mac:"},
      {R"("container_port": 80)", R"("container_port": 70000)", "port_mappings[0].container_port: 70000 is out of range"},
      {R"("host_port": 8080)", R"("host_port": 0)", "port_mappings[0].host_port: must not be 0"},
      {R"("tcp,udp")", R"("tcp,icmp")", "port_mappings[0].protocol: unsupported protocol \"icmp\""},
      {R"("range": 2)", R"("range": 1.5)", "port_mappings[0].range: expected a non-negative integer"},
      {R"("host_ip": "")", R"("host_ip": "localhost")", "port_mappings[0].host_ip"},
      {R"("internal": false)", R"("internal": "no")", "network.internal: expected a boolean"},
      {R"("network_dns_servers": ["10.9.0.53"])", R"("network_dns_servers": [1])", "network.network_dns_servers[0]: expected a string"},
  };
  for (const auto& c : cases) {
    std::string text = kExec;
    auto pos = text.find(c.from);
    ASSERT_NE(pos, std::string::npos) << c.from;
    text.replace(pos, c.from.size(), c.to);
    std::string err = exec_error(text);
    EXPECT_EQ(err.rfind(c.expect, 0), 0u) << "input change: " << c.from << " -> " << c.to << "\nerror: " << err;
  }
}

TEST(Types, NotJsonOrNotAnObject) {
  EXPECT_FALSE(parse_json("{"));
  EXPECT_FALSE(parse_json(""));
  EXPECT_FALSE(parse_json(std::string(100, '[')));  // deeper than the parser allows
  auto x = parse_plugin_exec(J("[]"));
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error(), "input: expected an object, got an array");
  auto n = parse_network(J(R"({"name":"n","id":"i","driver":"d","subnets":[5]})"));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), "subnets[0]: expected an object, got a number");
}

TEST(Types, StatusBlockShape) {
  StatusBlock s;
  s.interface_name = "eth0";
  s.mac_address = "02:00:00:00:00:05";
  s.subnets.push_back({*parse_ipnet("10.88.0.50/16"), parse_ip("10.88.0.1")});
  EXPECT_EQ(json::serialize(to_json(s)),
            R"({"dns_search_domains":[],"dns_server_ips":[],"interfaces":{"eth0":{"mac_address":"02:00:00:00:00:05",)"
            R"("subnets":[{"ipnet":"10.88.0.50/16","gateway":"10.88.0.1"}]}}})");
  EXPECT_EQ(json::serialize(error_json("bad \"x\"")), R"({"error":"bad \"x\""})");
}

TEST(Types, InterfaceNames) {
  EXPECT_TRUE(valid_ifname("eth0"));
  EXPECT_TRUE(valid_ifname("abcdefghijklmno"));
  EXPECT_FALSE(valid_ifname("abcdefghijklmnop"));
  for (const char* s : {"", ".", "..", "a b", "a/b", "a:b", "a\tb"}) EXPECT_FALSE(valid_ifname(s)) << s;
}
