// The JSON shapes of netavark's plugin API 1.0.0 (contracts.md section 3;
// field names and optionality follow netavark's src/network/types.rs) and
// their checked conversion from and to Boost.JSON.
//
// How it works: parse_network() and parse_plugin_exec() walk a parsed JSON
// value field by field. Every problem is returned as an error string that
// names the field by its path ("network.subnets[1].gateway: ..."); nothing
// here throws to the caller or aborts on any input (the fuzz target feeds it
// arbitrary bytes). Fields netavark marks optional may be absent or null.
// Unknown fields are ignored on input, as netavark's serde types do; create
// keeps them in its output by editing the caller's JSON object rather than
// re-serialising the struct (see plugin.cpp).
#pragma once

#include <boost/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/expected.hpp"
#include "ipam.hpp"

namespace ferry::bridge {

// A value or an error message naming what is wrong (common/expected.hpp).
template <class T>
using Result = ferry::Expected<T, std::string>;

struct LeaseRange {
  std::optional<IpAddr> start_ip;
  std::optional<IpAddr> end_ip;
};

struct Subnet {
  IpNet subnet;
  std::optional<IpAddr> gateway;
  std::optional<LeaseRange> lease_range;
};

struct Route {
  IpNet destination;
  IpAddr gateway;
  std::optional<uint32_t> metric;
};

struct Network {
  std::string name;
  std::string id;
  std::string driver;
  std::optional<std::string> network_interface;
  std::vector<Subnet> subnets;
  bool ipv6_enabled = false;
  bool internal = false;
  bool dns_enabled = false;
  std::map<std::string, std::string> options;
  std::map<std::string, std::string> ipam_options;
  std::vector<Route> routes;
  std::vector<IpAddr> network_dns_servers;
};

struct PortMapping {
  uint16_t container_port = 0;
  std::string host_ip;  // empty: all addresses
  uint16_t host_port = 0;
  std::vector<std::string> protocols;  // "tcp", "udp", "sctp"
  uint16_t range = 1;
};

struct PerNetworkOptions {
  std::vector<std::string> aliases;
  std::string interface_name;
  std::vector<IpAddr> static_ips;
  std::optional<std::array<uint8_t, 6>> static_mac;
  std::map<std::string, std::string> options;
};

struct NetworkPluginExec {
  std::string container_id;
  std::string container_name;
  std::vector<PortMapping> port_mappings;
  Network network;
  PerNetworkOptions network_options;
};

struct NetAddress {
  IpNet ipnet;
  std::optional<IpAddr> gateway;
};

struct StatusBlock {
  std::string interface_name;
  std::string mac_address;
  std::vector<NetAddress> subnets;
  std::vector<IpAddr> dns_server_ips;
};

// Parses JSON text; the error names the offset of a syntax error.
Result<boost::json::value> parse_json(std::string_view text);

// Field-by-field conversion; `where` prefixes field paths in errors.
Result<Network> parse_network(const boost::json::value& v, const std::string& where = "");
Result<NetworkPluginExec> parse_plugin_exec(const boost::json::value& v);

boost::json::value to_json(const StatusBlock& s);
boost::json::value error_json(std::string_view message);

// A Linux interface name: 1..15 bytes, not "." or "..", no '/', ':' or space.
bool valid_ifname(std::string_view s);

}  // namespace ferry::bridge
