// Unit tests of setup's execution (plugin.hpp execute_setup) over an
// in-memory fake of the host's and the container's links: the layout a
// successful setup builds, and - failing each step in turn - that a failed
// setup leaves both namespaces, the firewall and the state exactly as they
// were ("nothing half-made"), with and without a bridge already there.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "plugin.hpp"

using namespace ferry::bridge;

namespace {

struct FakeLink {
  std::string kind;
  int index = 0;
  bool up = false;
  int master = 0;
  std::set<std::string> addrs;
  std::vector<std::string> routes;
  std::string mac = "02:00:00:00:00:99";
  std::string peer;  // veth: name of the other end (in the other fake)
  bool operator==(const FakeLink&) const = default;
};

// Readable failures: gtest prints this instead of the object's bytes.
[[maybe_unused]] void PrintTo(const FakeLink& l, std::ostream* os) {
  *os << "{" << l.kind << " #" << l.index << (l.up ? " up" : " down") << " master=" << l.master << " addrs=";
  for (const auto& a : l.addrs) *os << a << ",";
  *os << " routes=" << l.routes.size() << " mac=" << l.mac << " peer=" << l.peer << "}";
}

// Counts every changing operation across all fakes; the one numbered
// `fail_at` fails (once), the rest succeed.
struct Steps {
  int count = 0;
  int fail_at = -1;
  bool next() { return count++ != fail_at; }
};

class FakeLinks : public Links {
 public:
  FakeLinks(Steps& steps, FakeLinks* other) : steps_(steps), other_(other) {}
  std::map<std::string, FakeLink> links;
  void connect(FakeLinks* other) { other_ = other; }

  std::optional<int> ifindex(const std::string& n) override {
    auto it = links.find(n);
    if (it == links.end()) return std::nullopt;
    return it->second.index;
  }
  std::string kind(const std::string& n) override { return links.contains(n) ? links[n].kind : ""; }
  Result<bool> ensure_bridge(const std::string& n, std::optional<uint32_t>) override {
    if (links.contains(n)) return false;
    if (!steps_.next()) return fail("ensure_bridge");
    add(n, "bridge");
    return true;
  }
  Result<bool> add_veth(const std::string& host, const std::string& peer, int, const std::optional<std::array<uint8_t, 6>>& mac,
                        std::optional<uint32_t>) override {
    if (!steps_.next()) return fail("add_veth");
    if (links.contains(host) || other_->links.contains(peer)) return fail("exists");
    add(host, "veth").peer = peer;
    auto& p = other_->add(peer, "veth");
    p.peer = host;
    if (mac) p.mac = mac_str(*mac);
    return true;
  }
  Result<bool> set_up(const std::string& n, int master) override {
    if (!steps_.next()) return fail("set_up");
    if (!links.contains(n)) return fail("no link");
    links[n].up = true;
    if (master) links[n].master = master;
    return true;
  }
  bool is_up(const std::string& n) override { return links.contains(n) && links[n].up; }
  Result<bool> set_down(const std::string& n) override {
    if (!steps_.next()) return fail("set_down");
    if (links.contains(n)) links[n].up = false;
    return true;
  }
  Result<bool> add_address(const std::string& n, const IpNet& a) override {
    if (!steps_.next()) return fail("add_address");
    if (!links.contains(n)) return fail("no link");
    links[n].addrs.insert(a.str());
    return true;
  }
  Result<bool> add_route(const std::string& n, const PlannedRoute& r) override {
    if (!steps_.next()) return fail("add_route");
    if (!links.contains(n)) return fail("no link");
    links[n].routes.push_back(r.destination.str() + " via " + r.gateway.str());
    return true;
  }
  Result<bool> delete_link(const std::string& n) override {
    if (!links.contains(n)) return true;
    if (!steps_.next()) return fail("delete_link");
    if (!links[n].peer.empty()) other_->links.erase(links[n].peer);
    links.erase(n);
    return true;
  }
  Result<int> port_count(const std::string& br) override {
    int idx = links.contains(br) ? links[br].index : -1, n = 0;
    for (const auto& [name, l] : links) n += l.master == idx;
    return n;
  }
  Result<std::string> mac(const std::string& n) override {
    if (!links.contains(n)) return ferry::unexpected("no link");
    return links[n].mac;
  }

  FakeLink& add(const std::string& n, const std::string& kind) {
    auto& l = links[n];
    l.kind = kind;
    l.index = next_index_++;
    return l;
  }

 private:
  static Result<bool> fail(const std::string& what) { return ferry::unexpected("injected failure: " + what); }
  Steps& steps_;
  FakeLinks* other_;
  int next_index_ = 10;
};

struct World {
  Steps steps;
  FakeLinks host{steps, nullptr};
  FakeLinks ctr{steps, &host};
  std::optional<NetworkState> firewall;  // last applied
  std::optional<NetworkState> saved;
  World() {
    host.connect(&ctr);
    ctr.add("lo", "device");
  }
  SetupEnv env(bool rootful) {
    auto step = [this](const std::string& what) {
      return steps.next() ? Result<bool>(true) : ferry::unexpected("injected failure: " + what);
    };
    SetupEnv e{host, ctr, -1,
               [step](const std::vector<Sysctl>&) { return step("host sysctl"); },
               [step](const std::vector<Sysctl>&) { return step("ctr sysctl"); },
               nullptr,
               [this, step](const NetworkState& s) {
                 auto r = step("save");
                 if (r) saved = s;
                 return r;
               }};
    if (rootful)
      e.firewall = [this, step](const NetworkState& s) {
        auto r = step("firewall");
        if (r) firewall = s;
        return r;
      };
    return e;
  }
};

NetworkPluginExec input() {
  auto v = parse_json(R"({"container_id":"c1","container_name":"a",
    "port_mappings":[{"container_port":80,"host_ip":"","host_port":8080,"protocol":"tcp","range":1}],
    "network":{"name":"n","id":"net1","driver":"ferry-bridge","network_interface":"br0",
      "subnets":[{"subnet":"10.9.0.0/24"},{"subnet":"fd09::/64"}]},
    "network_options":{"interface_name":"eth0","static_mac":"02:00:00:00:00:05"}})");
  auto x = parse_plugin_exec(*v);
  EXPECT_TRUE(x) << x.error();
  auto n = complete_network(x->network);
  x->network = *n;
  return *x;
}

}  // namespace

TEST(Setup, BuildsTheLayout) {
  World w;
  auto x = input();
  auto p = plan_setup(x, {}, true);
  ASSERT_TRUE(p) << p.error();
  auto env = w.env(true);
  auto sb = execute_setup(x, *p, NetworkState{}, env);
  ASSERT_TRUE(sb) << sb.error();
  EXPECT_EQ(sb->mac_address, "02:00:00:00:00:05");
  ASSERT_TRUE(w.host.links.contains("br0"));
  const auto& br = w.host.links["br0"];
  EXPECT_EQ(br.addrs, (std::set<std::string>{"10.9.0.1/24", "fd09::1/64"}));
  EXPECT_TRUE(br.up);
  const auto& veth = w.host.links[p->host_veth];
  EXPECT_EQ(veth.master, br.index);
  EXPECT_TRUE(veth.up);
  const auto& eth0 = w.ctr.links["eth0"];
  EXPECT_EQ(eth0.addrs, (std::set<std::string>{"10.9.0.2/24", "fd09::2/64"}));
  EXPECT_EQ(eth0.routes, (std::vector<std::string>{"0.0.0.0/0 via 10.9.0.1", "::/0 via fd09::1"}));
  EXPECT_TRUE(eth0.up && w.ctr.links["lo"].up);
  ASSERT_TRUE(w.firewall && w.saved);
  EXPECT_EQ(w.saved->members.at("c1").ips.size(), 2u);
  EXPECT_EQ(w.firewall->members.at("c1").ports.size(), 1u);
  EXPECT_EQ(w.saved->subnets.size(), 2u);
}

TEST(Setup, EveryFailureLeavesNothingBehind) {
  for (bool bridge_exists : {false, true}) {
    for (bool rootful : {false, true}) {
      int failures = 0;
      for (int fail_at = 0;; ++fail_at) {
        World w;
        NetworkState before;
        if (bridge_exists) {
          // Another member is already on the bridge.
          auto& br = w.host.add("br0", "bridge");
          br.addrs = {"10.9.0.1/24", "fd09::1/64"};
          br.up = true;
          w.host.add("vethother", "veth").master = br.index;
          before.bridge = "br0";
          before.members["c0"].ips = {*parse_ip("10.9.0.2")};
        }
        auto host0 = w.host.links, ctr0 = w.ctr.links;
        auto x = input();
        std::set<IpAddr> used;
        for (const auto& [id, m] : before.members) used.insert(m.ips.begin(), m.ips.end());
        auto p = plan_setup(x, used, rootful);
        ASSERT_TRUE(p) << p.error();
        w.steps.fail_at = fail_at;
        auto env = w.env(rootful);
        auto sb = execute_setup(x, *p, before, env);
        if (sb) {
          EXPECT_LT(w.steps.count, fail_at + 1) << "a failure was injected but setup succeeded";
          EXPECT_EQ(w.ctr.links["eth0"].addrs.size(), 2u);
          break;
        }
        ++failures;
        SCOPED_TRACE("bridge_exists=" + std::to_string(bridge_exists) + " rootful=" + std::to_string(rootful) +
                     " failing step " + std::to_string(fail_at) + ": " + sb.error());
        EXPECT_EQ(sb.error().rfind("injected failure", 0), 0u);
        EXPECT_EQ(w.host.links, host0);
        EXPECT_EQ(w.ctr.links, ctr0);
        EXPECT_FALSE(w.saved);
        if (w.firewall) {
          EXPECT_FALSE(w.firewall->members.contains("c1"));
        }
        ASSERT_LT(fail_at, 100);
      }
      EXPECT_GT(failures, 10);  // every step was failed once
    }
  }
}

TEST(Setup, RefusesAnExistingInterfaceAndANonBridge) {
  {
    World w;
    w.ctr.add("eth0", "veth");
    auto x = input();
    auto env = w.env(true);
    auto sb = execute_setup(x, *plan_setup(x, {}, true), NetworkState{}, env);
    ASSERT_FALSE(sb);
    EXPECT_EQ(sb.error().rfind("network_options.interface_name: eth0 already exists", 0), 0u);
    EXPECT_FALSE(w.host.links.contains("br0"));
  }
  {
    World w;
    w.host.add("br0", "veth");
    auto x = input();
    auto env = w.env(true);
    auto sb = execute_setup(x, *plan_setup(x, {}, true), NetworkState{}, env);
    ASSERT_FALSE(sb);
    EXPECT_EQ(sb.error(), "network.network_interface: br0 exists and is a veth, not a bridge");
    EXPECT_EQ(w.host.links.size(), 1u);
  }
}
