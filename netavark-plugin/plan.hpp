// What ferry-bridge will do, decided before anything is touched: pure logic,
// unit-tested without a kernel (tests/bridge/plan_test.cpp).
//
// How it works: complete_network() validates a Network the way `create`
// must (every problem named by its field) and fills in what the user left
// out: the bridge name, each subnet's gateway (first host), ipv6_enabled.
// setup runs it again on the network it is given, then plan_setup() picks the
// container's addresses (static ones checked, others allocated from the lease
// ranges, avoiding addresses other members hold) and lists the bridge
// addresses, routes and names to create. Only when the whole plan is valid
// does plugin.cpp start changing the kernel, so bad input leaves nothing
// half-made.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "types.hpp"

namespace ferry::bridge {

inline constexpr const char* kDriverName = "ferry-bridge";

// Network options ferry-bridge understands (Network.options).
//   mtu       - MTU of the bridge and both veth ends (68..65535)
// ipam_options: driver "host-local" (the default) only.
Result<Network> complete_network(Network n);

// The MTU from options, if any (complete_network() has checked it).
std::optional<uint32_t> network_mtu(const Network& n);

struct PlannedRoute {
  IpNet destination;
  IpAddr gateway;
  std::optional<uint32_t> metric;
};

struct SetupPlan {
  std::string bridge;         // host bridge, created if absent
  std::string host_veth;      // host end of the veth pair, a port of the bridge
  std::string container_if;   // container end, created in the netns under this name
  std::optional<std::array<uint8_t, 6>> mac;
  std::optional<uint32_t> mtu;
  std::vector<IpNet> bridge_addresses;      // gateway/prefix for each subnet with a gateway
  std::vector<NetAddress> container_addresses;  // address/prefix (+ gateway) for each subnet
  std::vector<PlannedRoute> routes;         // in the container: default routes, then network routes
  bool ipv6 = false;                        // some address is IPv6
  bool nat = false;                         // outbound masquerade and port mappings (rootful, not internal)
};

// The host-side veth name: "veth" + 11 hex digits of a hash of the network
// id, container id and interface name, so teardown finds it without state.
std::string host_veth_name(const std::string& network_id, const std::string& container_id,
                           const std::string& interface_name);

// Why the port mappings `want` cannot be added next to `held` (those of the
// network's other members), or empty: a host address, protocol and port may
// be forwarded to one container only. Errors name port_mappings[i].
std::string port_conflict(const std::vector<PortMapping>& want, const std::vector<PortMapping>& held);

// `x.network` must have been through complete_network(). `used` holds
// addresses other members of the network hold. `rootful` enables NAT.
Result<SetupPlan> plan_setup(const NetworkPluginExec& x, const std::set<IpAddr>& used, bool rootful);

}  // namespace ferry::bridge
