// Container networking for ferryctl; see network.hpp for the layout.
#include "engine/network.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/log.hpp"
#include "engine/process.hpp"

namespace ferry::engine {
namespace json = boost::json;

namespace {

bool executable(const std::string& p) { return !p.empty() && access(p.c_str(), X_OK) == 0; }

std::string pick(const char* env, const std::vector<std::string>& candidates) {
  if (const char* e = getenv(env); e && *e) return e;
  for (const auto& c : candidates)
    if (executable(c)) return c;
  return candidates.empty() ? std::string() : candidates.back();
}

std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// ferry-bridge's message: {"error":"..."} on stdout, else stderr.
std::string plugin_error(const ProgramResult& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.out, ec);
  if (!ec && v.is_object())
    if (auto* e = v.as_object().if_contains("error"); e && e->is_string()) return std::string(e->as_string());
  return last_line(r.err.empty() ? r.out : r.err);
}

std::string dns_dir(const Store& st) { return st.root() + "/dns"; }

pid_t dns_pid(const Store& st) {
  auto t = read_file(dns_dir(st) + "/aardvark.pid");
  if (!t) return 0;
  try {
    return pid_t(std::stol(*t));
  } catch (...) {
    return 0;
  }
}

std::vector<std::string> bridge_env(const Store& st) {
  return {"FERRY_BRIDGE_STATE_DIR=" + st.root() + "/bridge"};
}

}  // namespace

Binaries find_binaries() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = ".";
  if (n > 0) {
    self[n] = 0;
    dir = self;
    dir = dir.substr(0, dir.rfind('/'));
  }
  const std::string top = dir + "/..";
  Binaries b;
  b.ferry = pick("FERRY_BIN", {top + "/ferry", dir + "/ferry", "/usr/local/bin/ferry", "/usr/bin/ferry"});
  b.dns = pick("FERRY_DNS_BIN", {top + "/aardvark-dns/ferry-dns", dir + "/ferry-dns",
                                 "/usr/local/libexec/ferry/ferry-dns", "/usr/libexec/ferry/ferry-dns"});
  b.bridge = pick("FERRY_BRIDGE_BIN", {top + "/netavark-plugin/ferry-bridge", dir + "/ferry-bridge",
                                       "/usr/local/libexec/netavark/ferry-bridge", "/usr/libexec/netavark/ferry-bridge"});
  return b;
}

Expected<void, std::string> check_ports_free(const std::vector<PortMap>& ports) {
  for (const auto& p : ports) {
    const bool udp = p.proto == "udp";
    const std::string addr = p.host_ip.empty() ? "0.0.0.0" : p.host_ip;
    const bool v6 = addr.find(':') != std::string::npos;
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(p.host_port);
      inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(p.host_port);
      inet_pton(AF_INET, addr.c_str(), &a->sin_addr);
      len = sizeof *a;
    }
    int s = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (s < 0) return unexpected(std::string("socket: ") + strerror(errno));
    const int r = bind(s, reinterpret_cast<sockaddr*>(&ss), len);
    const int e = errno;
    close(s);
    if (r != 0)
      return unexpected("cannot publish port " + std::to_string(p.host_port) + "/" + p.proto + " on " +
                        (v6 ? "[" + addr + "]" : addr) + ": " + strerror(e));
  }
  return {};
}

Expected<FerryHandle, std::string> start_container_ferry(const Binaries& b, pid_t init,
                                                         const std::vector<PortMap>& ports,
                                                         const std::string& log_path) {
  int ready[2], ex[2];
  if (pipe2(ready, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)) return unexpected(std::string("pipe: ") + strerror(errno));
  std::vector<std::string> argv{b.ferry, "--configure", "--mtu", "65520", "--ready-fd", "3", "--exit-fd", "4"};
  for (const auto& p : ports) {
    argv.push_back(p.proto == "udp" ? "-u" : "-t");
    argv.push_back(pasta_spec(p));
  }
  argv.push_back(std::to_string(init));
  argv.push_back("eth0");
  pid_t pid = fork();
  if (pid < 0) return unexpected(std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) signal(sig, SIG_DFL);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    int null = open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0) _exit(127);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    dup2(ready[1], 3);
    dup2(ex[0], 4);
    syscall(SYS_close_range, 5, ~0U, 0);
    exec_or_die(argv);
  }
  close(ready[1]);
  close(ex[0]);
  FerryHandle h{pid, ex[1]};
  if (!wait_ready(ready[0], 15000)) {
    stop_container_ferry(h);
    return unexpected("ferry did not start: " + last_line(read_file(log_path).value_or("")));
  }
  return h;
}

void stop_container_ferry(FerryHandle& h) {
  if (h.exit_fd >= 0) close(h.exit_fd);
  h.exit_fd = -1;
  if (h.pid > 0) {
    if (!wait_gone(h.pid, 5000)) {
      kill(h.pid, SIGKILL);
      wait_gone(h.pid, 2000);
    }
  }
  h.pid = 0;
}

Expected<InfraRecord, std::string> ensure_infra(const Store& st, const Binaries& b) {
  if (auto r = st.infra(); r && pid_alive(r->holder_pid) && pid_alive(r->ferry_pid)) return *r;
  stop_infra_if_unused(st);  // leftovers of a dead infra
  InfraRecord r;
  auto holder = spawn_holder();
  if (!holder) return unexpected("cannot make the shared network namespace: " + holder.error());
  r.holder_pid = *holder;
  r.api_socket = st.root() + "/infra.sock";
  const std::string log = st.root() + "/infra-ferry.log";
  int ready = -1;
  auto ferry = spawn_daemon({b.ferry, "--configure", "--mtu", "65520", "--api-socket", r.api_socket, "--ready-fd", "3",
                             std::to_string(r.holder_pid), "tap0"},
                            log, true, ready);
  auto undo = [&](const std::string& msg) -> Expected<InfraRecord, std::string> {
    if (r.ferry_pid > 0) kill(r.ferry_pid, SIGTERM);
    kill(r.holder_pid, SIGKILL);
    wait_gone(r.ferry_pid, 3000);
    wait_gone(r.holder_pid, 3000);
    unlink(log.c_str());
    return unexpected(msg);
  };
  if (!ferry) return undo(ferry.error());
  r.ferry_pid = *ferry;
  if (!wait_ready(ready, 15000)) return undo("ferry for the shared namespace did not start: " + last_line(read_file(log).value_or("")));
  if (auto s = write_sysctl_in(r.holder_pid, "/proc/sys/net/ipv4/ip_forward", "1"); !s) return undo(s.error());
  mkdir((st.root() + "/bridge").c_str(), 0700);
  mkdir(dns_dir(st).c_str(), 0700);
  write_file_atomic(st.root() + "/infra-resolv.conf", "nameserver 10.0.2.3\n");
  if (auto s = st.save_infra(r); !s) return undo(s.error());
  return r;
}

void stop_infra_if_unused(const Store& st) {
  for (const auto& c : st.containers())
    if ((c.status == "running" || c.status == "created") && c.network != "ferry" && c.network != "host" &&
        c.network != "none" && pid_alive(c.monitor_pid))
      return;
  auto r = st.infra();
  if (pid_t d = dns_pid(st); d > 0) {
    kill(d, SIGTERM);
    wait_gone(d, 3000);
  }
  if (r) {
    if (r->holder_pid > 0) kill(r->holder_pid, SIGKILL);
    wait_gone(r->holder_pid, 3000);
    // ferry notices its target is gone (pidfd); TERM in case it did not.
    if (!wait_gone(r->ferry_pid, 3000) && r->ferry_pid > 0) {
      kill(r->ferry_pid, SIGTERM);
      wait_gone(r->ferry_pid, 3000);
    }
  }
  for (const char* f : {"/infra.json", "/infra-ferry.log", "/infra-resolv.conf", "/infra.sock", "/dns.log",
                        "/aardvark.lock", "/dns/aardvark.pid"})
    unlink((st.root() + f).c_str());
  rmdir(dns_dir(st).c_str());
}

Expected<json::object, std::string> bridge_create(const Binaries& b, const json::object& net) {
  auto r = run_program({b.bridge, "create"}, json::serialize(net), {}, 0);
  if (!r) return unexpected(r.error());
  if (r->status != 0) return unexpected("ferry-bridge create: " + plugin_error(*r));
  boost::system::error_code ec;
  auto v = json::parse(r->out, ec);
  if (ec || !v.is_object()) return unexpected("ferry-bridge create answered with no network: " + r->out);
  return v.as_object();
}

Expected<Attachment, std::string> bridge_setup(const Store& st, const Binaries& b, const InfraRecord& infra,
                                               const json::object& net, const ContainerRecord& c) {
  auto r = run_program({b.bridge, "setup", "/proc/" + std::to_string(c.pid) + "/ns/net"},
                       json::serialize(plugin_setup_request(c, net)), bridge_env(st), infra.holder_pid);
  if (!r) return unexpected(r.error());
  if (r->status != 0) return unexpected("ferry-bridge setup: " + plugin_error(*r));
  return parse_status_block(r->out);
}

void bridge_teardown(const Store& st, const Binaries& b, const InfraRecord& infra, const json::object& net,
                     const ContainerRecord& c) {
  // The netns may be gone already; ferry-bridge copes with that.
  const std::string ns = c.pid > 0 ? "/proc/" + std::to_string(c.pid) + "/ns/net" : "/nonexistent";
  auto r = run_program({b.bridge, "teardown", ns}, json::serialize(plugin_setup_request(c, net)), bridge_env(st),
                       infra.holder_pid);
  if (r && r->status != 0) spdlog::warn("ferry-bridge teardown of {}: {}", c.name, plugin_error(*r));
}

Expected<void, std::string> dns_refresh(const Store& st, const Binaries& b, const InfraRecord& infra,
                                        const std::string& network) {
  auto net = st.network(network);
  if (!net) return unexpected("no network " + network);
  std::vector<ContainerRecord> members;
  for (auto& c : st.containers())
    if (c.network == network && c.status == "running" && !c.ip.empty()) members.push_back(c);
  const std::string file = dns_dir(st) + "/" + network + (network_internal(*net) ? "%int" : "");
  const pid_t running = dns_pid(st);
  if (members.empty()) {
    unlink(file.c_str());
    if (running > 0) kill(running, SIGHUP);
    return {};
  }
  if (auto w = write_file_atomic(file, render_dns_config(network_gateway(*net), members)); !w) return w;
  if (running > 0 && pid_alive(running)) {
    kill(running, SIGHUP);
    return {};
  }
  auto r = run_program({b.dns, "--config", dns_dir(st), "-p", "53", "run"}, "",
                       {"FERRY_DNS_RESOLV_CONF=" + st.root() + "/infra-resolv.conf",
                        "FERRY_DNS_LOG_FILE=" + st.root() + "/dns.log"},
                       infra.holder_pid);
  if (!r) return unexpected(r.error());
  if (r->status != 0) return unexpected("ferry-dns did not start: " + last_line(r->err + r->out));
  return {};
}

namespace {

Expected<json::value, std::string> api_call(const std::string& sock, const std::string& req) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return unexpected(std::string("socket: ") + strerror(errno));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock.c_str());
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const std::string e = strerror(errno);
    close(s);
    return unexpected("cannot reach ferry's API socket " + sock + ": " + e);
  }
  if (send(s, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
    close(s);
    return unexpected(std::string("ferry's API socket: short write"));
  }
  shutdown(s, SHUT_WR);
  std::string reply;
  char buf[4096];
  ssize_t n;
  while ((n = read(s, buf, sizeof buf)) > 0) reply.append(buf, size_t(n));
  close(s);
  boost::system::error_code ec;
  auto v = json::parse(reply, ec);
  if (ec) return unexpected("ferry's API answered: " + reply);
  return v;
}

}  // namespace

Expected<std::int64_t, std::string> api_add_forward(const std::string& sock, const PortMap& p,
                                                    const std::string& guest) {
  json::object req{{"execute", "add_hostfwd"},
                   {"arguments", json::object{{"proto", p.proto},
                                              {"host_addr", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
                                              {"host_port", std::int64_t(p.host_port)},
                                              {"guest_addr", guest},
                                              {"guest_port", std::int64_t(p.ctr_port)}}}};
  auto v = api_call(sock, json::serialize(req));
  if (!v) return unexpected(v.error());
  if (v->is_object()) {
    const auto& o = v->as_object();
    if (auto* r = o.if_contains("return"); r && r->is_object())
      if (auto* id = r->as_object().if_contains("id"); id && id->is_int64()) return id->as_int64();
    if (auto* e = o.if_contains("error"); e && e->is_object())
      if (auto* d = e->as_object().if_contains("desc"); d && d->is_string())
        return unexpected("cannot publish port " + std::to_string(p.host_port) + ": " + std::string(d->as_string()));
  }
  return unexpected("ferry's API answered: " + json::serialize(*v));
}

void api_remove_forward(const std::string& sock, std::int64_t id) {
  json::object req{{"execute", "remove_hostfwd"}, {"arguments", json::object{{"id", id}}}};
  (void)api_call(sock, json::serialize(req));
}

}  // namespace ferry::engine
