// Text and JSON ferryctl hands to others, built without touching the system
// (pure, unit-tested): the container's /etc/resolv.conf and /etc/hosts, the
// aardvark-dns config file ferry-dns reads (contracts.md 4), the netavark
// plugin requests ferry-bridge takes (contracts.md 3) and the reading of its
// StatusBlock, and the choice of a free subnet for `network create`.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "common/expected.hpp"
#include "engine/state.hpp"

namespace ferry::engine {

// resolv.conf: the default network asks ferry's DNS forwarder (10.0.2.3); a
// bridge network asks ferry-dns on its gateway, with the dns.podman search.
std::string render_resolv_conf(const std::string& nameserver, bool search_dns_podman);

// hosts: localhost, the container's own address and names, and
// host.containers.internal (10.0.2.2, the host's loopback through ferry)
// unless the network is internal or none.
std::string render_hosts(const std::string& ip, const std::vector<std::string>& names, bool host_gateway);

// One network's ferry-dns config file: "<gateway>" then one line per
// running member: "<id> <ipv4>  <name>,<aliases...>" (no IPv6: empty field).
std::string render_dns_config(const std::string& gateway, const std::vector<ContainerRecord>& members);

// The Network JSON sent to `ferry-bridge create`.
boost::json::object plugin_network(const std::string& name, const std::string& id, const std::string& subnet,
                                   bool internal);
// The stdin of `ferry-bridge setup|teardown`.
boost::json::object plugin_setup_request(const ContainerRecord& c, const boost::json::object& network);

struct Attachment {
  std::string ip;       // 10.89.0.2
  std::string gateway;  // 10.89.0.1
};
// eth0's first IPv4 address and gateway from a StatusBlock.
Expected<Attachment, std::string> parse_status_block(const std::string& text);

// The first 10.89.N.0/24 (N = 0..255) that no given subnet uses.
Expected<std::string, std::string> pick_subnet(const std::vector<std::string>& used);

// The subnets ("10.89.0.0/24") and first gateway of a completed Network.
std::vector<std::string> network_subnets(const boost::json::object& net);
std::string network_gateway(const boost::json::object& net);
bool network_internal(const boost::json::object& net);

}  // namespace ferry::engine
