// Validation, completion and setup planning; see plan.hpp.
#include "plan.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace ferry::bridge {

namespace {

template <class T>
Result<T> fail(std::string msg) {
  return ferry::unexpected(std::move(msg));
}

std::string sub(size_t i) { return "subnets[" + std::to_string(i) + "]"; }

std::optional<uint32_t> parse_u32(const std::string& s) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// FNV-1a, 64 bit: stable across runs and builds (std::hash is not).
uint64_t fnv1a(const std::string& s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::optional<uint32_t> network_mtu(const Network& n) {
  auto it = n.options.find("mtu");
  if (it == n.options.end()) return std::nullopt;
  return parse_u32(it->second);
}

Result<Network> complete_network(Network n) {
  if (n.name.empty()) return fail<Network>("name: must not be empty");
  if (n.id.empty()) return fail<Network>("id: must not be empty");
  if (n.driver.empty()) return fail<Network>("driver: must not be empty");

  if (n.network_interface && !n.network_interface->empty()) {
    if (!valid_ifname(*n.network_interface))
      return fail<Network>("network_interface: \"" + *n.network_interface +
                           "\" is not a valid interface name (1-15 characters, no '/', ':' or spaces)");
  } else {
    // A name podman's own bridge never uses, unique per network id.
    std::string id;
    for (char c : n.id)
      if (std::isalnum(static_cast<unsigned char>(c))) id += c;
    if (id.empty()) return fail<Network>("id: \"" + n.id + "\" has no letters or digits to name the bridge after");
    n.network_interface = "fbr" + id.substr(0, 12);
  }

  for (const auto& [k, v] : n.options) {
    if (k == "mtu") {
      auto m = parse_u32(v);
      if (!m || *m < 68 || *m > 65535) return fail<Network>("options.mtu: \"" + v + "\" is not an MTU (68-65535)");
    } else {
      return fail<Network>("options." + k + ": unsupported option (ferry-bridge supports: mtu)");
    }
  }
  for (const auto& [k, v] : n.ipam_options) {
    if (k == "driver") {
      if (v != "host-local")
        return fail<Network>("ipam_options.driver: \"" + v + "\" is not supported (ferry-bridge supports: host-local)");
    } else {
      return fail<Network>("ipam_options." + k + ": unsupported option");
    }
  }
  if (n.dns_enabled)
    return fail<Network>("dns_enabled: ferry-bridge does not run a DNS server for its networks; set it to false");

  if (n.subnets.empty()) return fail<Network>("subnets: at least one subnet is required");
  bool any_v6 = false;
  for (size_t i = 0; i < n.subnets.size(); ++i) {
    auto& s = n.subnets[i];
    if (auto p = subnet_problem(s.subnet); !p.empty()) return fail<Network>(sub(i) + ".subnet: " + s.subnet.str() + ": " + p);
    for (size_t j = 0; j < i; ++j) {
      const auto& o = n.subnets[j].subnet;
      if (contains(o, s.subnet.addr) || contains(s.subnet, o.addr))
        return fail<Network>(sub(i) + ".subnet: " + s.subnet.str() + " overlaps " + sub(j) + " " + o.str());
    }
    any_v6 |= s.subnet.addr.v6;
    if (!s.gateway) s.gateway = first_host(s.subnet);
    if (auto p = host_problem(s.subnet, *s.gateway); !p.empty()) return fail<Network>(sub(i) + ".gateway: " + p);
    if (s.lease_range) {
      auto& lr = *s.lease_range;
      if (lr.start_ip) {
        if (auto p = host_problem(s.subnet, *lr.start_ip); !p.empty())
          return fail<Network>(sub(i) + ".lease_range.start_ip: " + p);
      }
      if (lr.end_ip) {
        if (auto p = host_problem(s.subnet, *lr.end_ip); !p.empty())
          return fail<Network>(sub(i) + ".lease_range.end_ip: " + p);
      }
      IpAddr start = lr.start_ip.value_or(first_host(s.subnet));
      IpAddr end = lr.end_ip.value_or(last_host(s.subnet));
      if (end < start) return fail<Network>(sub(i) + ".lease_range: start_ip " + start.str() + " is after end_ip " + end.str());
    }
  }
  if (any_v6) n.ipv6_enabled = true;

  for (size_t i = 0; i < n.routes.size(); ++i) {
    const auto& r = n.routes[i];
    std::string p = "routes[" + std::to_string(i) + "]";
    if (r.destination.addr != network_of(r.destination.addr, r.destination.prefix))
      return fail<Network>(p + ".destination: " + r.destination.str() + " has host bits set");
    if (r.destination.addr.v6 != r.gateway.v6) return fail<Network>(p + ".gateway: " + r.gateway.str() + " is not of the destination's address family");
    bool reachable = false;
    for (const auto& s : n.subnets) reachable |= contains(s.subnet, r.gateway);
    if (!reachable) return fail<Network>(p + ".gateway: " + r.gateway.str() + " is not in any subnet of the network");
  }
  return n;
}

std::string host_veth_name(const std::string& network_id, const std::string& container_id,
                           const std::string& interface_name) {
  uint64_t h = fnv1a(interface_name, fnv1a(std::string(1, '\0'), fnv1a(container_id, fnv1a(network_id))));
  char buf[16];
  std::snprintf(buf, sizeof buf, "veth%011llx", static_cast<unsigned long long>(h & 0xfffffffffffULL));
  return buf;
}

std::string port_conflict(const std::vector<PortMapping>& want, const std::vector<PortMapping>& held) {
  auto overlaps = [](const PortMapping& a, const PortMapping& b) {
    // An empty host_ip means every address, so it meets any other.
    bool same_ip = a.host_ip.empty() || b.host_ip.empty() || a.host_ip == b.host_ip;
    bool ports = a.host_port < b.host_port + b.range && b.host_port < a.host_port + a.range;
    if (!same_ip || !ports) return std::string();
    for (const auto& pa : a.protocols)
      for (const auto& pb : b.protocols)
        if (pa == pb) return pa;
    return std::string();
  };
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& w = want[i];
    std::string where = "port_mappings[" + std::to_string(i) + "]: ";
    for (size_t j = 0; j < i; ++j)
      if (auto proto = overlaps(w, want[j]); !proto.empty())
        return where + proto + " host port " + std::to_string(w.host_port) + " overlaps port_mappings[" + std::to_string(j) + "]";
    for (const auto& h : held)
      if (auto proto = overlaps(w, h); !proto.empty())
        return where + proto + " host port " + std::to_string(w.host_port) + " is already forwarded to another container";
  }
  return {};
}

Result<SetupPlan> plan_setup(const NetworkPluginExec& x, const std::set<IpAddr>& used, bool rootful) {
  const Network& n = x.network;
  const auto& opts = x.network_options;
  SetupPlan p;
  p.bridge = n.network_interface.value_or("");
  p.host_veth = host_veth_name(n.id, x.container_id, opts.interface_name);
  p.container_if = opts.interface_name;
  p.mac = opts.static_mac;
  p.mtu = network_mtu(n);
  p.nat = rootful && !n.internal;

  if (!opts.options.empty())
    return fail<SetupPlan>("network_options.options." + opts.options.begin()->first + ": unsupported option (ferry-bridge has no per-container options)");

  // Each static IP must fall in exactly one subnet, at most one per subnet.
  std::vector<std::optional<IpAddr>> chosen(n.subnets.size());
  for (size_t i = 0; i < opts.static_ips.size(); ++i) {
    const IpAddr& ip = opts.static_ips[i];
    std::string path = "network_options.static_ips[" + std::to_string(i) + "]";
    bool placed = false;
    for (size_t s = 0; s < n.subnets.size(); ++s) {
      const auto& sn = n.subnets[s];
      if (!contains(sn.subnet, ip)) continue;
      if (auto prob = host_problem(sn.subnet, ip); !prob.empty()) return fail<SetupPlan>(path + ": " + prob);
      if (sn.gateway && *sn.gateway == ip) return fail<SetupPlan>(path + ": " + ip.str() + " is the gateway of " + sn.subnet.str());
      if (used.contains(ip)) return fail<SetupPlan>(path + ": " + ip.str() + " is already in use by another container");
      if (chosen[s]) return fail<SetupPlan>(path + ": a second address in subnet " + sn.subnet.str());
      chosen[s] = ip;
      placed = true;
    }
    if (!placed) return fail<SetupPlan>(path + ": " + ip.str() + " is not in any subnet of network " + n.name);
  }

  bool have_default_v4 = false, have_default_v6 = false;
  for (size_t s = 0; s < n.subnets.size(); ++s) {
    const auto& sn = n.subnets[s];
    if (!chosen[s]) {
      IpAddr start = first_host(sn.subnet), end = last_host(sn.subnet);
      if (sn.lease_range && sn.lease_range->start_ip) start = *sn.lease_range->start_ip;
      if (sn.lease_range && sn.lease_range->end_ip) end = *sn.lease_range->end_ip;
      chosen[s] = allocate(start, end, sn.gateway, used);
      if (!chosen[s]) return fail<SetupPlan>(sub(s) + ": no free address left in " + start.str() + " - " + end.str());
    }
    p.container_addresses.push_back({IpNet{*chosen[s], sn.subnet.prefix}, sn.gateway});
    p.ipv6 |= sn.subnet.addr.v6;
    if (sn.gateway) {
      p.bridge_addresses.push_back(IpNet{*sn.gateway, sn.subnet.prefix});
      bool& have = sn.subnet.addr.v6 ? have_default_v6 : have_default_v4;
      if (!n.internal && !have) {
        IpAddr any;
        any.v6 = sn.subnet.addr.v6;
        p.routes.push_back({IpNet{any, 0}, *sn.gateway, std::nullopt});
        have = true;
      }
    }
  }
  for (const auto& r : n.routes) p.routes.push_back({r.destination, r.gateway, r.metric});
  return p;
}

}  // namespace ferry::bridge
