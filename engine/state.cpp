// Records as JSON (Boost.JSON) and the state folder; see state.hpp.
#include "engine/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ferry::engine {
namespace json = boost::json;

namespace {

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// Typed getters that tolerate a missing field (defaults) but not a wrong type.
struct Reader {
  const json::object& o;
  std::string err;
  std::string str(const char* k) {
    auto* v = o.if_contains(k);
    if (!v) return {};
    if (!v->is_string()) { err = std::string(k) + " is not a string"; return {}; }
    return std::string(v->as_string());
  }
  std::int64_t num(const char* k, std::int64_t def = 0) {
    auto* v = o.if_contains(k);
    if (!v) return def;
    if (v->is_uint64() && v->as_uint64() <= std::uint64_t(INT64_MAX)) return std::int64_t(v->as_uint64());
    if (!v->is_int64()) { err = std::string(k) + " is not an integer"; return def; }
    return v->as_int64();
  }
  std::vector<std::string> strs(const char* k) {
    std::vector<std::string> out;
    auto* v = o.if_contains(k);
    if (!v) return out;
    if (!v->is_array()) { err = std::string(k) + " is not an array"; return out; }
    for (const auto& e : v->as_array()) {
      if (!e.is_string()) { err = std::string(k) + " holds a non-string"; return out; }
      out.emplace_back(e.as_string());
    }
    return out;
  }
};

}  // namespace

json::object to_json(const ContainerRecord& r) {
  json::array ports;
  for (const auto& p : r.ports)
    ports.push_back(json::object{{"host_ip", p.host_ip}, {"host_port", std::int64_t(p.host_port)},
                                 {"container_port", std::int64_t(p.ctr_port)}, {"protocol", p.proto}});
  json::array fwd;
  for (auto id : r.forward_ids) fwd.emplace_back(id);
  return json::object{
      {"id", r.id}, {"name", r.name}, {"network", r.network}, {"aliases", strings(r.aliases)},
      {"ports", ports}, {"rootfs", r.rootfs}, {"env", strings(r.env)}, {"cmd", strings(r.cmd)},
      {"status", r.status}, {"pid", r.pid}, {"monitor_pid", r.monitor_pid}, {"ferry_pid", r.ferry_pid},
      {"exit_code", r.exit_code}, {"created", r.created}, {"ip", r.ip}, {"gateway", r.gateway},
      {"forward_ids", fwd}};
}

Expected<ContainerRecord, std::string> container_from_json(const json::value& v) {
  if (!v.is_object()) return unexpected(std::string("container record is not an object"));
  Reader rd{v.as_object(), {}};
  ContainerRecord r;
  r.id = rd.str("id");
  r.name = rd.str("name");
  r.network = rd.str("network");
  r.aliases = rd.strs("aliases");
  r.rootfs = rd.str("rootfs");
  r.env = rd.strs("env");
  r.cmd = rd.strs("cmd");
  r.status = rd.str("status");
  r.pid = pid_t(rd.num("pid"));
  r.monitor_pid = pid_t(rd.num("monitor_pid"));
  r.ferry_pid = pid_t(rd.num("ferry_pid"));
  r.exit_code = int(rd.num("exit_code", -1));
  r.created = rd.str("created");
  r.ip = rd.str("ip");
  r.gateway = rd.str("gateway");
  if (auto* p = v.as_object().if_contains("ports"); p && p->is_array()) {
    for (const auto& e : p->as_array()) {
      if (!e.is_object()) return unexpected(std::string("ports holds a non-object"));
      Reader pr{e.as_object(), {}};
      PortMap m;
      m.host_ip = pr.str("host_ip");
      m.host_port = std::uint16_t(pr.num("host_port"));
      m.ctr_port = std::uint16_t(pr.num("container_port"));
      m.proto = pr.str("protocol");
      if (!pr.err.empty()) return unexpected("ports: " + pr.err);
      r.ports.push_back(m);
    }
  }
  if (auto* f = v.as_object().if_contains("forward_ids"); f && f->is_array())
    for (const auto& e : f->as_array())
      if (e.is_int64()) r.forward_ids.push_back(e.as_int64());
  if (!rd.err.empty()) return unexpected(rd.err);
  if (r.id.empty()) return unexpected(std::string("container record has no id"));
  return r;
}

json::object to_json(const InfraRecord& r) {
  return json::object{{"holder_pid", r.holder_pid}, {"ferry_pid", r.ferry_pid}, {"api_socket", r.api_socket}};
}

Expected<InfraRecord, std::string> infra_from_json(const json::value& v) {
  if (!v.is_object()) return unexpected(std::string("infra record is not an object"));
  Reader rd{v.as_object(), {}};
  InfraRecord r;
  r.holder_pid = pid_t(rd.num("holder_pid"));
  r.ferry_pid = pid_t(rd.num("ferry_pid"));
  r.api_socket = rd.str("api_socket");
  if (!rd.err.empty()) return unexpected(rd.err);
  return r;
}

Lock::~Lock() {
  if (fd_ >= 0) close(fd_);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Expected<void, std::string> write_file_atomic(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return unexpected("cannot write " + tmp + ": " + strerror(errno));
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string e = strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return unexpected("cannot write " + tmp + ": " + e);
    }
    p += n;
    left -= std::size_t(n);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = strerror(errno);
    unlink(tmp.c_str());
    return unexpected("cannot rename " + tmp + ": " + e);
  }
  return {};
}

bool pid_alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

Expected<Store, std::string> Store::open() {
  std::string root;
  if (const char* s = getenv("FERRY_STATE_DIR"); s && *s) {
    root = s;
  } else if (geteuid() == 0) {
    root = "/run/ferry";
  } else if (const char* x = getenv("XDG_RUNTIME_DIR"); x && *x) {
    root = std::string(x) + "/ferry";
  } else {
    return unexpected(std::string("XDG_RUNTIME_DIR is not set; set it (or FERRY_STATE_DIR) to a folder of yours"));
  }
  for (const auto& d : {root, root + "/containers", root + "/networks"}) {
    if (mkdir(d.c_str(), 0700) != 0 && errno != EEXIST)
      return unexpected("cannot create " + d + ": " + strerror(errno));
  }
  return Store(root);
}

Lock Store::lock() const {
  const std::string p = root_ + "/lock";
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  return Lock(fd);
}

std::vector<ContainerRecord> Store::containers() const {
  std::vector<ContainerRecord> out;
  DIR* d = opendir((root_ + "/containers").c_str());
  if (!d) return out;
  while (auto* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto text = read_file(root_ + "/containers/" + e->d_name + "/config.json");
    if (!text) continue;
    boost::system::error_code ec;
    auto v = json::parse(*text, ec);
    if (ec) continue;
    if (auto r = container_from_json(v)) out.push_back(std::move(*r));
  }
  closedir(d);
  return out;
}

std::optional<ContainerRecord> Store::find(const std::string& ref) const {
  std::optional<ContainerRecord> hit;
  int prefix_hits = 0;
  for (auto& c : containers()) {
    if (c.id == ref || c.name == ref) return c;
    if (ref.size() >= 3 && c.id.rfind(ref, 0) == 0) {
      ++prefix_hits;
      hit = c;
    }
  }
  if (prefix_hits == 1) return hit;
  return std::nullopt;
}

Expected<void, std::string> Store::save(const ContainerRecord& r) const {
  const std::string dir = container_dir(r.id);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return unexpected("cannot create " + dir + ": " + strerror(errno));
  return write_file_atomic(dir + "/config.json", json::serialize(to_json(r)) + "\n");
}

void Store::remove(const std::string& id) const {
  const std::string dir = container_dir(id);
  if (DIR* d = opendir(dir.c_str())) {
    while (auto* e = readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      unlink((dir + "/" + e->d_name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

std::optional<json::object> Store::network(const std::string& name) const {
  auto text = read_file(network_path(name));
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

std::vector<json::object> Store::networks() const {
  std::vector<json::object> out;
  DIR* d = opendir((root_ + "/networks").c_str());
  if (!d) return out;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() < 6 || n.substr(n.size() - 5) != ".json") continue;
    if (auto net = network(n.substr(0, n.size() - 5))) out.push_back(std::move(*net));
  }
  closedir(d);
  return out;
}

Expected<void, std::string> Store::save_network(const std::string& name, const json::object& net) const {
  return write_file_atomic(network_path(name), json::serialize(net) + "\n");
}

std::optional<InfraRecord> Store::infra() const {
  auto text = read_file(root_ + "/infra.json");
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*text, ec);
  if (ec) return std::nullopt;
  auto r = infra_from_json(v);
  if (!r) return std::nullopt;
  return *r;
}

Expected<void, std::string> Store::save_infra(const InfraRecord& r) const {
  return write_file_atomic(root_ + "/infra.json", json::serialize(to_json(r)) + "\n");
}

void Store::remove_infra() const { unlink((root_ + "/infra.json").c_str()); }

}  // namespace ferry::engine
