// The plugin commands; see plugin.hpp.
#include "plugin.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include "common/log.hpp"
#include "firewall.hpp"
#include "netlink.hpp"
#include "plan.hpp"
#include "state.hpp"

namespace json = boost::json;

namespace ferry::bridge {

namespace {

// Undo actions of a setup in progress; run in reverse unless committed.
class Undo {
 public:
  void add(std::function<void()> f) { steps_.push_back(std::move(f)); }
  void commit() { steps_.clear(); }
  ~Undo() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }

 private:
  std::vector<std::function<void()>> steps_;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

template <class T>
Result<T> fail(std::string msg) {
  return ferry::unexpected(std::move(msg));
}

// Parses the setup/teardown input and completes its network.
Result<NetworkPluginExec> parse_exec(const json::value& in) {
  auto x = parse_plugin_exec(in);
  if (!x) return x;
  auto n = complete_network(x->network);
  if (!n) return fail<NetworkPluginExec>("network." + n.error());
  x->network = *n;
  return x;
}

}  // namespace

bool is_rootful() {
  std::ifstream in("/proc/self/uid_map");
  unsigned long inside = 1, outside = 1, count = 0;
  in >> inside >> outside >> count;
  return geteuid() == 0 && inside == 0 && outside == 0 && count == 4294967295UL;
}

json::value info_json() {
  return json::object{{"version", "0.1.0"}, {"api_version", "1.0.0"}, {"driver", kDriverName}};
}

Result<json::value> cmd_create(const json::value& in) {
  auto parsed = parse_network(in);
  if (!parsed) return fail<json::value>(parsed.error());
  auto n = complete_network(*parsed);
  if (!n) return fail<json::value>(n.error());
  // Write back only what was completed; everything else stays as given.
  json::object out = in.as_object();
  out["network_interface"] = *n->network_interface;
  out["ipv6_enabled"] = n->ipv6_enabled;
  json::array& subnets = out["subnets"].as_array();
  for (size_t i = 0; i < subnets.size(); ++i) subnets[i].as_object()["gateway"] = n->subnets[i].gateway->str();
  return json::value(std::move(out));
}

Result<StatusBlock> execute_setup(const NetworkPluginExec& x, const SetupPlan& p, NetworkState state, SetupEnv& env) {
  Links& h = env.host;
  Links& c = env.ctr;
  if (c.ifindex(p.container_if))
    return ferry::unexpected("network_options.interface_name: " + p.container_if + " already exists in the container's network namespace");
  if (auto k = h.kind(p.bridge); !k.empty() && k != "bridge")
    return ferry::unexpected("network.network_interface: " + p.bridge + " exists and is a " + k + ", not a bridge");
  // A host veth of this very name is left from a crashed setup of the same
  // container: the name is derived from the network and container ids.
  if (auto r = h.delete_link(p.host_veth); !r) return ferry::unexpected(r.error());

  Undo undo;
  auto created = h.ensure_bridge(p.bridge, p.mtu);
  if (!created) return ferry::unexpected(created.error());
  if (*created) {
    spdlog::debug("created bridge {}", p.bridge);
    undo.add([&h, &p] {
      auto n = h.port_count(p.bridge);
      if (n && *n == 0) (void)h.delete_link(p.bridge);
    });
  }
  for (const auto& a : p.bridge_addresses)
    if (auto r = h.add_address(p.bridge, a); !r) return ferry::unexpected(r.error());
  if (auto r = h.set_up(p.bridge, 0); !r) return ferry::unexpected(r.error());
  if (p.nat) {
    // Forwarding between the bridge and the host's other links.
    std::vector<Sysctl> fwd = {{"net/ipv4/ip_forward", "1", false}};
    if (p.ipv6) fwd.push_back({"net/ipv6/conf/all/forwarding", "1", true});
    if (auto r = env.host_sysctls(fwd); !r) return ferry::unexpected(r.error());
  }

  if (auto r = h.add_veth(p.host_veth, p.container_if, env.netns_fd, p.mac, p.mtu); !r) return ferry::unexpected(r.error());
  undo.add([&h, &p] { (void)h.delete_link(p.host_veth); });
  auto br_idx = h.ifindex(p.bridge);
  if (!br_idx) return ferry::unexpected("bridge " + p.bridge + " disappeared");
  if (auto r = h.set_up(p.host_veth, *br_idx); !r) return ferry::unexpected(r.error());

  // Announce the address on link up (gratuitous ARP) so that peers with a
  // stale neighbour entry learn the new MAC; no SLAAC on a static network.
  std::vector<Sysctl> ctl = {{"net/ipv4/conf/" + p.container_if + "/arp_notify", "1", true}};
  if (p.ipv6) ctl.push_back({"net/ipv6/conf/" + p.container_if + "/autoconf", "0", true});
  if (auto r = env.ctr_sysctls(ctl); !r) return ferry::unexpected(r.error());
  for (const auto& a : p.container_addresses)
    if (auto r = c.add_address(p.container_if, a.ipnet); !r) return ferry::unexpected(r.error());
  if (!c.is_up("lo")) {
    if (auto r = c.set_up("lo", 0); !r) return ferry::unexpected(r.error());
    undo.add([&c] { (void)c.set_down("lo"); });
  }
  if (auto r = c.set_up(p.container_if, 0); !r) return ferry::unexpected(r.error());
  for (const auto& rt : p.routes)
    if (auto r = c.add_route(p.container_if, rt); !r) return ferry::unexpected(r.error());
  auto mac = c.mac(p.container_if);
  if (!mac) return ferry::unexpected(mac.error());

  NetworkState before = state;
  Member m;
  m.interface_name = p.container_if;
  for (const auto& a : p.container_addresses) m.ips.push_back(a.ipnet.addr);
  m.ports = x.port_mappings;
  state.bridge = p.bridge;
  state.subnets.clear();
  if (p.nat)
    for (const auto& s : x.network.subnets) state.subnets.push_back(s.subnet);
  state.members[x.container_id] = m;
  if (env.firewall) {
    if (auto r = env.firewall(state); !r) return ferry::unexpected(r.error());
    undo.add([&env, before] { (void)env.firewall(before); });
  }
  if (auto r = env.save(state); !r) return ferry::unexpected(r.error());
  undo.commit();

  StatusBlock sb;
  sb.interface_name = p.container_if;
  sb.mac_address = *mac;
  sb.subnets = p.container_addresses;
  return sb;
}

Result<json::value> cmd_setup(const std::string& netns_path, const json::value& in) {
  auto xr = parse_exec(in);
  if (!xr) return ferry::unexpected(xr.error());
  const NetworkPluginExec& x = *xr;
  const Network& net = x.network;
  bool rootful = is_rootful();

  Fd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) return ferry::unexpected("cannot open network namespace " + netns_path + ": " + std::strerror(errno));

  auto lock = NetworkLock::acquire(state_dir(), net.id);
  if (!lock) return ferry::unexpected(lock.error());
  auto st = (*lock)->load();
  if (!st) return ferry::unexpected(st.error());
  NetworkState state = *st;
  if (state.members.contains(x.container_id))
    return ferry::unexpected("container " + x.container_id + " is already set up on network " + net.name + "; tear it down first");
  std::set<IpAddr> used;
  for (const auto& [id, m] : state.members) used.insert(m.ips.begin(), m.ips.end());

  std::vector<PortMapping> held;
  for (const auto& [id, m] : state.members) held.insert(held.end(), m.ports.begin(), m.ports.end());
  if (auto c = port_conflict(x.port_mappings, held); !c.empty()) return ferry::unexpected(c);

  auto planned = plan_setup(x, used, rootful);
  if (!planned) return ferry::unexpected(planned.error());
  const SetupPlan& p = *planned;

  auto host = Rtnl::open();
  if (!host) return ferry::unexpected(host.error());
  auto ctr = Rtnl::open_in(ns.get());
  if (!ctr) return ferry::unexpected(ctr.error());
  int ns_fd = ns.get();
  SetupEnv env{**host, **ctr, ns_fd,
               [](const std::vector<Sysctl>& list) -> Result<bool> {
                 for (const auto& s : list)
                   if (auto r = write_sysctl(s); !r) return r;
                 return true;
               },
               [ns_fd](const std::vector<Sysctl>& list) {
                 return run_in_netns(ns_fd, [&]() -> Result<bool> {
                   for (const auto& s : list)
                     if (auto r = write_sysctl(s); !r) return r;
                   return true;
                 });
               },
               nullptr,
               [&lock](const NetworkState& s) { return (*lock)->save(s); }};
  if (rootful) env.firewall = [id = net.id](const NetworkState& s) { return apply_ruleset(id, s); };
  auto sb = execute_setup(x, p, state, env);
  if (!sb) return ferry::unexpected(sb.error());
  return to_json(*sb);
}

Result<bool> cmd_teardown(const std::string& netns_path, const json::value& in) {
  auto xr = parse_exec(in);
  if (!xr) return ferry::unexpected(xr.error());
  const NetworkPluginExec& x = *xr;
  const Network& net = x.network;
  std::string bridge = *net.network_interface;
  std::string veth = host_veth_name(net.id, x.container_id, x.network_options.interface_name);

  auto lock = NetworkLock::acquire(state_dir(), net.id);
  if (!lock) return ferry::unexpected(lock.error());
  auto st = (*lock)->load();
  if (!st) return ferry::unexpected(st.error());
  NetworkState state = *st;

  auto host = Rtnl::open();
  if (!host) return ferry::unexpected(host.error());
  Rtnl& h = **host;
  // Deleting one end of a veth pair deletes the other, wherever it is.
  if (auto r = h.delete_link(veth); !r) return r;
  if (access(netns_path.c_str(), F_OK) != 0) spdlog::debug("netns {} is already gone", netns_path);

  state.members.erase(x.container_id);
  if (is_rootful())
    if (auto r = apply_ruleset(net.id, state); !r) return r;
  if (auto r = (*lock)->save(state); !r) return r;
  if (state.members.empty() && h.kind(bridge) == "bridge") {
    auto ports = h.port_count(bridge);
    if (!ports) return ferry::unexpected(ports.error());
    if (*ports == 0)
      if (auto r = h.delete_link(bridge); !r) return r;
  }
  return true;
}

}  // namespace ferry::bridge
