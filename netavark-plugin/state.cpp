// Per-network member state on disk; see state.hpp.
#include "state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace json = boost::json;

namespace ferry::bridge {

std::string state_dir() {
  if (const char* d = std::getenv("FERRY_BRIDGE_STATE_DIR"); d && *d) return d;
  if (access("/run", W_OK) == 0) return "/run/ferry-bridge";
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/ferry-bridge";
  return "/tmp/ferry-bridge-" + std::to_string(getuid());
}

Result<NetworkState> parse_state(std::string_view text) {
  auto v = parse_json(text);
  if (!v) return ferry::unexpected("state file: " + v.error());
  auto bad = [](const std::string& what) { return ferry::unexpected("state file: " + what); };
  if (!v->is_object()) return bad("not an object");
  const auto& o = v->get_object();
  NetworkState s;
  auto* br = o.if_contains("bridge");
  if (!br || !br->is_string()) return bad("bridge missing");
  s.bridge = std::string(br->get_string());
  if (auto* subs = o.if_contains("subnets"); subs && subs->is_array()) {
    for (const auto& e : subs->get_array()) {
      auto n = e.is_string() ? parse_ipnet(e.get_string()) : std::nullopt;
      if (!n) return bad("bad subnet");
      s.subnets.push_back(*n);
    }
  }
  auto* members = o.if_contains("members");
  if (!members || !members->is_object()) return bad("members missing");
  for (const auto& kv : members->get_object()) {
    if (!kv.value().is_object()) return bad("bad member");
    const auto& mo = kv.value().get_object();
    Member m;
    if (auto* f = mo.if_contains("interface_name"); f && f->is_string()) m.interface_name = std::string(f->get_string());
    if (auto* ips = mo.if_contains("ips"); ips && ips->is_array()) {
      for (const auto& e : ips->get_array()) {
        auto a = e.is_string() ? parse_ip(e.get_string()) : std::nullopt;
        if (!a) return bad("bad address");
        m.ips.push_back(*a);
      }
    }
    if (auto* ports = mo.if_contains("ports"); ports && ports->is_array()) {
      // Stored in the API's own shape, so the API's checked parser reads it.
      json::object fake{{"container_id", "x"}, {"container_name", ""}, {"port_mappings", *ports}};
      fake["network"] = json::object{{"name", "x"}, {"id", "x"}, {"driver", "x"}};
      fake["network_options"] = json::object{{"interface_name", "x"}};
      auto x = parse_plugin_exec(fake);
      if (!x) return bad(x.error());
      m.ports = x->port_mappings;
    }
    s.members[std::string(kv.key())] = m;
  }
  return s;
}

std::string render_state(const NetworkState& s) {
  json::object o;
  o["bridge"] = s.bridge;
  json::array subs;
  for (const auto& n : s.subnets) subs.push_back(json::string(n.str()));
  o["subnets"] = std::move(subs);
  json::object members;
  for (const auto& [id, m] : s.members) {
    json::object mo;
    mo["interface_name"] = m.interface_name;
    json::array ips;
    for (const auto& a : m.ips) ips.push_back(json::string(a.str()));
    mo["ips"] = std::move(ips);
    json::array ports;
    for (const auto& p : m.ports) {
      std::string proto;
      for (const auto& pr : p.protocols) proto += (proto.empty() ? "" : ",") + pr;
      ports.push_back(json::object{{"container_port", p.container_port}, {"host_ip", p.host_ip},
                                   {"host_port", p.host_port}, {"protocol", proto}, {"range", p.range}});
    }
    mo["ports"] = std::move(ports);
    members[id] = std::move(mo);
  }
  o["members"] = std::move(members);
  return json::serialize(o);
}

Result<std::unique_ptr<NetworkLock>> NetworkLock::acquire(const std::string& dir, const std::string& network_id) {
  for (char c : network_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return ferry::unexpected("network.id: \"" + network_id + "\" may hold only letters, digits, '-' and '_'");
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return ferry::unexpected("cannot create state directory " + dir + ": " + std::strerror(errno));
  std::string base = dir + "/" + network_id;
  int fd = open((base + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ferry::unexpected("cannot open " + base + ".lock: " + std::strerror(errno));
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int e = errno;
      close(fd);
      return ferry::unexpected("cannot lock " + base + ".lock: " + std::strerror(e));
    }
  }
  return std::unique_ptr<NetworkLock>(new NetworkLock(fd, base + ".json"));
}

NetworkLock::~NetworkLock() { close(fd_); }

Result<NetworkState> NetworkLock::load() const {
  std::ifstream in(path_);
  if (!in) return NetworkState{};
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = parse_state(ss.str());
  if (!s) return ferry::unexpected(path_ + ": " + s.error());
  return s;
}

Result<bool> NetworkLock::save(const NetworkState& s) const {
  if (s.members.empty()) {
    if (unlink(path_.c_str()) != 0 && errno != ENOENT)
      return ferry::unexpected("cannot remove " + path_ + ": " + std::strerror(errno));
    return true;
  }
  // Write a new file and rename it over the old one: never a torn file.
  std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << render_state(s);
    if (!out.flush()) return ferry::unexpected("cannot write " + tmp);
  }
  if (rename(tmp.c_str(), path_.c_str()) != 0)
    return ferry::unexpected("cannot rename " + tmp + ": " + std::strerror(errno));
  return true;
}

}  // namespace ferry::bridge
