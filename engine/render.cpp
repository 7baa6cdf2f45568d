// Pure renderers for ferryctl; see render.hpp.
#include "engine/render.hpp"

#include <algorithm>

namespace ferry::engine {
namespace json = boost::json;

std::string render_resolv_conf(const std::string& nameserver, bool search_dns_podman) {
  std::string s = "# written by ferryctl\n";
  if (search_dns_podman) s += "search dns.podman\n";
  s += "nameserver " + nameserver + "\n";
  return s;
}

std::string render_hosts(const std::string& ip, const std::vector<std::string>& names, bool host_gateway) {
  std::string s = "# written by ferryctl\n127.0.0.1\tlocalhost\n::1\tlocalhost\n";
  if (!ip.empty() && !names.empty()) {
    s += ip;
    for (const auto& n : names) s += "\t" + n;
    s += "\n";
  }
  if (host_gateway) s += "10.0.2.2\thost.containers.internal\n";
  return s;
}

std::string render_dns_config(const std::string& gateway, const std::vector<ContainerRecord>& members) {
  std::string s = gateway + "\n";
  for (const auto& c : members) {
    if (c.ip.empty()) continue;
    std::string names = c.name;
    for (const auto& a : c.aliases) names += "," + a;
    names += "," + c.id.substr(0, 12);
    s += c.id + " " + c.ip + "  " + names + "\n";
  }
  return s;
}

json::object plugin_network(const std::string& name, const std::string& id, const std::string& subnet,
                            bool internal) {
  return json::object{{"name", name},
                      {"id", id},
                      {"driver", "ferry-bridge"},
                      {"network_interface", ""},
                      {"subnets", json::array{json::object{{"subnet", subnet}}}},
                      {"ipv6_enabled", false},
                      {"internal", internal},
                      {"dns_enabled", false},
                      {"ipam_options", json::object{{"driver", "host-local"}}},
                      {"options", json::object{}}};
}

json::object plugin_setup_request(const ContainerRecord& c, const json::object& network) {
  json::array aliases;
  for (const auto& a : c.aliases) aliases.emplace_back(a);
  return json::object{{"container_id", c.id},
                      {"container_name", c.name},
                      {"port_mappings", json::array{}},
                      {"network", network},
                      {"network_options", json::object{{"aliases", aliases}, {"interface_name", "eth0"}}}};
}

Expected<Attachment, std::string> parse_status_block(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return unexpected("ferry-bridge answered with no JSON: " + text);
  const auto* ifs = v.as_object().if_contains("interfaces");
  if (!ifs || !ifs->is_object()) return unexpected(std::string("StatusBlock without interfaces"));
  const auto* eth = ifs->as_object().if_contains("eth0");
  if (!eth || !eth->is_object()) return unexpected(std::string("StatusBlock without eth0"));
  const auto* subnets = eth->as_object().if_contains("subnets");
  if (!subnets || !subnets->is_array()) return unexpected(std::string("StatusBlock: eth0 has no subnets"));
  for (const auto& s : subnets->as_array()) {
    if (!s.is_object()) continue;
    const auto* ipnet = s.as_object().if_contains("ipnet");
    if (!ipnet || !ipnet->is_string()) continue;
    std::string ip(ipnet->as_string());
    if (ip.find(':') != std::string::npos) continue;  // IPv6
    ip = ip.substr(0, ip.find('/'));
    std::string gw;
    if (const auto* g = s.as_object().if_contains("gateway"); g && g->is_string()) gw = std::string(g->as_string());
    return Attachment{ip, gw};
  }
  return unexpected(std::string("StatusBlock: eth0 has no IPv4 address"));
}

Expected<std::string, std::string> pick_subnet(const std::vector<std::string>& used) {
  for (int n = 0; n < 256; ++n) {
    const std::string s = "10.89." + std::to_string(n) + ".0/24";
    if (std::find(used.begin(), used.end(), s) == used.end()) return s;
  }
  return unexpected(std::string("no free subnet in 10.89.0.0/16; give one with --subnet"));
}

std::vector<std::string> network_subnets(const json::object& net) {
  std::vector<std::string> out;
  if (const auto* s = net.if_contains("subnets"); s && s->is_array())
    for (const auto& e : s->as_array())
      if (e.is_object())
        if (const auto* sn = e.as_object().if_contains("subnet"); sn && sn->is_string())
          out.emplace_back(sn->as_string());
  return out;
}

std::string network_gateway(const json::object& net) {
  if (const auto* s = net.if_contains("subnets"); s && s->is_array())
    for (const auto& e : s->as_array())
      if (e.is_object())
        if (const auto* g = e.as_object().if_contains("gateway"); g && g->is_string())
          return std::string(g->as_string());
  return {};
}

bool network_internal(const json::object& net) {
  const auto* i = net.if_contains("internal");
  return i && i->is_bool() && i->as_bool();
}

}  // namespace ferry::engine
