// ferryctl: a minimal rootless container engine driving ferry, ferry-bridge
// and ferry-dns (docs/engine.md).
//
//   ferryctl run [-d] [--name N] [--network ferry|host|none|NET] [-p [IP:]H:C]...
//                [--network-alias A]... [--rootfs DIR] [--env K=V]... -- CMD...
//   ferryctl ps [-a] | stop [-t SECONDS] REF... | rm [-f] REF... | logs REF | inspect REF
//   ferryctl network create NAME [--subnet CIDR] [--internal] | network ls | network rm NAME
//
// `run` forks a monitor that does the work under the state lock (state.hpp):
// checks (name, network, rootfs, ports), spawns the container (process.hpp),
// connects it (network.hpp), records it, lets it go, and reports "started"
// or the error on a pipe; on any error everything made so far is undone. The
// monitor then waits for the container and, when it exits, tears its network
// down and records the exit code. With -d the caller prints the id and
// returns; without it, it waits and returns the container's exit status.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <thread>

#include "common/log.hpp"
#include "engine/cli.hpp"
#include "engine/network.hpp"
#include "engine/process.hpp"
#include "engine/render.hpp"
#include "engine/state.hpp"

namespace json = boost::json;
using namespace ferry::engine;
using ferry::Expected;
using ferry::unexpected;

namespace {

constexpr const char* kUsage =
    "usage: ferryctl run [-d] [--name N] [--network ferry|host|none|NET] [-p [IP:]HOST:CTR]...\n"
    "                    [--network-alias A]... [--rootfs DIR] [--env K=V]... -- CMD...\n"
    "       ferryctl ps [-a]\n"
    "       ferryctl stop [-t SECONDS] CONTAINER...\n"
    "       ferryctl rm [-f] CONTAINER...\n"
    "       ferryctl logs CONTAINER\n"
    "       ferryctl inspect CONTAINER|NETWORK\n"
    "       ferryctl network create NAME [--subnet CIDR] [--internal]\n"
    "       ferryctl network ls\n"
    "       ferryctl network rm NAME...\n";

int fail(const std::string& msg, int code = 125) {
  std::fprintf(stderr, "ferryctl: %s\n", msg.c_str());
  return code;
}

std::string random_id() {
  unsigned char b[32];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, b, sizeof b) != ssize_t(sizeof b)) {
    for (auto& c : b) c = static_cast<unsigned char>(std::rand());
  }
  if (fd >= 0) close(fd);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_bridge(const std::string& network) { return network != "ferry" && network != "host" && network != "none"; }

volatile sig_atomic_t g_init_pid = 0;
void on_stop_signal(int) {
  if (g_init_pid > 0) kill(g_init_pid, SIGKILL);
}

// What a container holds while it runs, to be undone at exit or on error.
struct Live {
  ContainerRecord rec;
  Spawned sp;
  FerryHandle ferry;
  std::optional<InfraRecord> infra;
  std::optional<json::object> net;
  bool bridged = false;
  int log_fd = -1;  // ctr.log
  int out_rd = -1;  // foreground: the container's output
};

// Undoes the network part. Called under the lock.
void teardown_network(const Store& st, const Binaries& bins, Live& l) {
  stop_container_ferry(l.ferry);
  if (l.infra && l.net) {
    for (auto id : l.rec.forward_ids) api_remove_forward(l.infra->api_socket, id);
    l.rec.forward_ids.clear();
    if (l.bridged) bridge_teardown(st, bins, *l.infra, *l.net, l.rec);
    l.bridged = false;
  }
}

// The monitor's start-up: everything `run` does before the container goes.
Expected<void, std::string> start(const Store& st, const Binaries& bins, const RunOptions& o, Live& l) {
  auto& rec = l.rec;
  for (const auto& c : st.containers())
    if (c.name == o.name) return unexpected("the name '" + o.name + "' is already in use by container " + c.id.substr(0, 12));
  if (is_bridge(o.network)) {
    l.net = st.network(o.network);
    if (!l.net) return unexpected("unknown network '" + o.network + "' (see ferryctl network ls)");
  }
  if (auto p = check_ports_free(o.ports); !p) return p;
  rec.id = random_id();
  rec.name = o.name.empty() ? rec.id.substr(0, 12) : o.name;
  rec.network = o.network;
  rec.aliases = o.aliases;
  rec.ports = o.ports;
  rec.rootfs = o.rootfs;
  rec.env = o.env;
  rec.cmd = o.cmd;
  rec.created = now_rfc3339();
  rec.monitor_pid = getpid();
  if (auto s = st.save(rec); !s) return s;
  const std::string dir = st.container_dir(rec.id);

  std::vector<std::string> names{rec.name};
  if (rec.name != rec.id.substr(0, 12)) names.push_back(rec.id.substr(0, 12));
  SpawnSpec spec;
  spec.cmd = o.cmd;
  spec.env = o.env;
  spec.rootfs = o.rootfs;
  spec.hostname = rec.name;
  spec.new_netns = o.network != "host";
  if (o.network != "host") {
    spec.resolv_conf = dir + "/resolv.conf";
    spec.hosts = dir + "/hosts";
    std::string ns = "10.0.2.3";
    if (o.network == "ferry") {
      rec.ip = "10.0.2.100";
      rec.gateway = "10.0.2.2";
    }
    write_file_atomic(spec.resolv_conf, render_resolv_conf(ns, false));
    write_file_atomic(spec.hosts, render_hosts(rec.ip, names, o.network == "ferry"));
  }
  // -d: the output goes to ctr.log; in the foreground through a pipe the
  // monitor copies to both the terminal and ctr.log.
  l.log_fd = open((dir + "/ctr.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (l.log_fd < 0) return unexpected("cannot create " + dir + "/ctr.log: " + strerror(errno));
  if (o.detach) {
    spec.out_fd = l.log_fd;
  } else {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return unexpected(std::string("pipe: ") + strerror(errno));
    spec.out_fd = p[1];
    spec.keep_stdin = true;
    l.out_rd = p[0];
  }
  if (l.net) {
    auto infra = ensure_infra(st, bins);
    if (!infra) return unexpected(infra.error());
    l.infra = *infra;
    spec.join_userns_of = infra->holder_pid;
  }
  auto sp = spawn_container(spec);
  if (spec.out_fd >= 0 && spec.out_fd != l.log_fd) close(spec.out_fd);
  if (!sp) return unexpected("cannot create the container: " + sp.error());
  l.sp = *sp;
  rec.pid = sp->init;
  if (auto s = st.save(rec); !s) return s;

  if (o.network == "ferry") {
    auto f = start_container_ferry(bins, rec.pid, o.ports, dir + "/ferry.log");
    if (!f) return unexpected(f.error());
    l.ferry = *f;
    rec.ferry_pid = f->pid;
  } else if (l.net) {
    auto a = bridge_setup(st, bins, *l.infra, *l.net, rec);
    if (!a) return unexpected(a.error());
    l.bridged = true;
    rec.ip = a->ip;
    rec.gateway = a->gateway;
    write_file_atomic(spec.resolv_conf, render_resolv_conf(a->gateway, true));
    write_file_atomic(spec.hosts, render_hosts(rec.ip, names, !network_internal(*l.net)));
    for (const auto& p : o.ports) {
      auto id = api_add_forward(l.infra->api_socket, p, rec.ip);
      if (!id) return unexpected(id.error());
      rec.forward_ids.push_back(*id);
    }
  }
  rec.status = "running";
  if (auto s = st.save(rec); !s) return s;
  if (l.net)
    if (auto d = dns_refresh(st, bins, *l.infra, rec.network); !d) return d;
  return {};
}

// The monitor: starts the container, reports on status_fd, waits, cleans up.
[[noreturn]] void monitor(const Store& st, const Binaries& bins, const RunOptions& o, int status_fd) {
  Live l;
  signal(SIGPIPE, SIG_IGN);
  {
    Lock lk = st.lock();
    auto r = start(st, bins, o, l);
    if (r) {
      if (auto go = release_container(l.sp); !go) r = unexpected("cannot start the container: " + go.error());
    }
    if (!r) {
      kill_container(l.sp);
      teardown_network(st, bins, l);
      if (!l.rec.id.empty()) st.remove(l.rec.id);
      if (l.net && l.infra) dns_refresh(st, bins, *l.infra, o.network);
      if (l.infra) stop_infra_if_unused(st);
      const std::string m = "E" + r.error() + "\n";
      (void)!write(status_fd, m.data(), m.size());
      _exit(125);
    }
  }
  const std::string m = "O" + l.rec.id + "\n";
  (void)!write(status_fd, m.data(), m.size());
  close(status_fd);
  g_init_pid = l.rec.pid;
  signal(SIGTERM, on_stop_signal);
  signal(SIGINT, on_stop_signal);
  signal(SIGHUP, on_stop_signal);
  if (l.out_rd >= 0) {
    // Until the container (and its shim, which holds the pipe) is gone.
    char buf[8192];
    for (;;) {
      ssize_t n = read(l.out_rd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      (void)!write(STDOUT_FILENO, buf, size_t(n));
      (void)!write(l.log_fd, buf, size_t(n));
    }
    close(l.out_rd);
  }
  if (l.log_fd >= 0) close(l.log_fd);
  int st_code = 0;
  while (waitpid(l.sp.shim, &st_code, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(st_code) ? WEXITSTATUS(st_code) : 128 + WTERMSIG(st_code);
  {
    Lock lk = st.lock();
    teardown_network(st, bins, l);
    auto cur = st.find(l.rec.id);
    l.rec.status = "exited";
    l.rec.exit_code = code;
    l.rec.pid = 0;
    l.rec.ferry_pid = 0;
    if (cur) st.save(l.rec);  // else: removed meanwhile
    if (l.net && l.infra) dns_refresh(st, bins, *l.infra, l.rec.network);
    if (l.infra) stop_infra_if_unused(st);
  }
  _exit(code);
}

int cmd_run(const Store& st, const std::vector<std::string>& args) {
  auto o = parse_run(args);
  if (!o) return fail(o.error());
  if (!o->rootfs.empty()) {
    char real[PATH_MAX];
    struct stat sb{};
    if (!realpath(o->rootfs.c_str(), real) || stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode))
      return fail("rootfs '" + o->rootfs + "' is not a folder");
    o->rootfs = real;
  }
  const Binaries bins = find_binaries();
  int sp[2];
  if (pipe2(sp, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + strerror(errno));
  std::fflush(nullptr);
  pid_t m = fork();
  if (m < 0) return fail(std::string("fork: ") + strerror(errno));
  if (m == 0) {
    close(sp[0]);
    if (o->detach) {
      setsid();
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      if (null > 2) close(null);
    }
    monitor(st, bins, *o, sp[1]);
  }
  close(sp[1]);
  std::string line;
  char c;
  while (read(sp[0], &c, 1) == 1 && c != '\n') line += c;
  close(sp[0]);
  if (line.empty() || line[0] != 'O') {
    waitpid(m, nullptr, 0);
    return fail(line.empty() ? "the monitor died while starting the container" : line.substr(1));
  }
  if (o->detach) {
    std::printf("%s\n", line.substr(1).c_str());
    return 0;
  }
  signal(SIGINT, SIG_IGN);  // the monitor stops the container and returns
  signal(SIGTERM, SIG_IGN);
  int status = 0;
  while (waitpid(m, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Stops one container: SIGTERM to its init, SIGKILL after `grace` seconds,
// then waits for its monitor to finish the clean-up.
Expected<void, std::string> stop_one(const Store& st, const std::string& ref, int grace) {
  auto rec = st.find(ref);
  if (!rec) return unexpected("no container '" + ref + "'");
  if (rec->status != "running" && rec->status != "created") return {};
  if (rec->pid > 0) kill(rec->pid, grace > 0 ? SIGTERM : SIGKILL);
  if (grace > 0 && !wait_gone(rec->pid, grace * 1000)) kill(rec->pid, SIGKILL);
  if (!wait_gone(rec->monitor_pid, 20000)) return unexpected("the monitor of " + rec->name + " did not finish");
  if (auto now = st.find(rec->id); now && now->status != "exited") {
    // The monitor died without cleaning up: record what is known.
    Lock lk = st.lock();
    now->status = "exited";
    now->pid = 0;
    st.save(*now);
    stop_infra_if_unused(st);
  }
  return {};
}

int cmd_stop(const Store& st, const std::vector<std::string>& args) {
  int grace = 10;
  std::vector<std::string> refs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-t" || args[i] == "--time") && i + 1 < args.size()) {
      grace = std::atoi(args[++i].c_str());
    } else {
      refs.push_back(args[i]);
    }
  }
  if (refs.empty()) return fail("stop: no container given");
  int rc = 0;
  for (const auto& r : refs) {
    if (auto s = stop_one(st, r, grace); !s) {
      rc = fail(s.error(), 1);
    } else {
      std::printf("%s\n", r.c_str());
    }
  }
  return rc;
}

int cmd_rm(const Store& st, const std::vector<std::string>& args) {
  bool force = false;
  std::vector<std::string> refs;
  for (const auto& a : args) {
    if (a == "-f" || a == "--force") {
      force = true;
    } else {
      refs.push_back(a);
    }
  }
  if (refs.empty()) return fail("rm: no container given");
  int rc = 0;
  for (const auto& r : refs) {
    auto rec = st.find(r);
    if (!rec) {
      rc = fail("no container '" + r + "'", 1);
      continue;
    }
    if (rec->status == "running" || rec->status == "created") {
      if (!force) {
        rc = fail("container " + rec->name + " is running: stop it first or use rm -f", 1);
        continue;
      }
      if (auto s = stop_one(st, rec->id, 0); !s) {
        rc = fail(s.error(), 1);
        continue;
      }
    }
    Lock lk = st.lock();
    st.remove(rec->id);
    std::printf("%s\n", r.c_str());
  }
  return rc;
}

int cmd_ps(const Store& st, const std::vector<std::string>& args) {
  const bool all = !args.empty() && (args[0] == "-a" || args[0] == "--all");
  std::printf("%-12s  %-16s  %-10s  %-12s  %-15s  %-20s  %s\n", "ID", "NAME", "STATUS", "NETWORK", "IP", "PORTS",
              "COMMAND");
  for (const auto& c : st.containers()) {
    if (!all && c.status != "running") continue;
    std::string ports, cmd, status = c.status;
    for (const auto& p : c.ports)
      ports += (ports.empty() ? "" : ",") +
               (p.host_ip.empty() ? ""
                : p.host_ip.find(':') != std::string::npos ? "[" + p.host_ip + "]:"
                                                           : p.host_ip + ":") +
               std::to_string(p.host_port) +
               "->" + std::to_string(p.ctr_port) + "/" + p.proto;
    for (const auto& w : c.cmd) cmd += (cmd.empty() ? "" : " ") + w;
    for (auto& ch : cmd)
      if (ch == '\n' || ch == '\t') ch = ' ';
    if (cmd.size() > 40) cmd = cmd.substr(0, 37) + "...";
    if (c.status == "exited") status += " (" + std::to_string(c.exit_code) + ")";
    std::printf("%-12s  %-16s  %-10s  %-12s  %-15s  %-20s  %s\n", c.id.substr(0, 12).c_str(), c.name.c_str(),
                status.c_str(), c.network.c_str(), c.ip.c_str(), ports.c_str(), cmd.c_str());
  }
  return 0;
}

int cmd_logs(const Store& st, const std::vector<std::string>& args) {
  if (args.size() != 1) return fail("logs: give one container");
  auto rec = st.find(args[0]);
  if (!rec) return fail("no container '" + args[0] + "'", 1);
  auto text = read_file(st.container_dir(rec->id) + "/ctr.log");
  std::fwrite(text ? text->data() : "", 1, text ? text->size() : 0, stdout);
  return 0;
}

int cmd_inspect(const Store& st, const std::vector<std::string>& args) {
  if (args.size() != 1) return fail("inspect: give one container or network");
  if (auto rec = st.find(args[0])) {
    std::printf("%s\n", json::serialize(to_json(*rec)).c_str());
    return 0;
  }
  if (auto net = st.network(args[0])) {
    std::printf("%s\n", json::serialize(*net).c_str());
    return 0;
  }
  return fail("no container or network '" + args[0] + "'", 1);
}

int cmd_network(const Store& st, const std::vector<std::string>& args) {
  if (args.empty()) return fail("network: create, ls or rm");
  const std::string sub = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (sub == "create") {
    auto o = parse_network_create(rest);
    if (!o) return fail(o.error());
    Lock lk = st.lock();
    if (st.network(o->name)) return fail("network '" + o->name + "' already exists");
    std::vector<std::string> used;
    for (const auto& n : st.networks())
      for (auto& s : network_subnets(n)) used.push_back(s);
    std::string subnet = o->subnet;
    if (subnet.empty()) {
      auto p = pick_subnet(used);
      if (!p) return fail(p.error());
      subnet = *p;
    } else {
      for (const auto& u : used)
        if (u == subnet) return fail("subnet " + subnet + " is used by another network");
    }
    auto net = bridge_create(find_binaries(), plugin_network(o->name, random_id(), subnet, o->internal));
    if (!net) return fail(net.error());
    if (auto s = st.save_network(o->name, *net); !s) return fail(s.error());
    std::printf("%s\n", o->name.c_str());
    return 0;
  }
  if (sub == "ls") {
    std::printf("%-16s  %-18s  %-16s  %s\n", "NAME", "SUBNET", "BRIDGE", "INTERNAL");
    std::printf("%-16s  %-18s  %-16s  %s\n", "ferry", "10.0.2.0/24", "-", "false");
    for (const auto& n : st.networks()) {
      auto subs = network_subnets(n);
      std::string bridge;
      if (auto* b = n.if_contains("network_interface"); b && b->is_string()) bridge = std::string(b->as_string());
      std::string name;
      if (auto* x = n.if_contains("name"); x && x->is_string()) name = std::string(x->as_string());
      std::printf("%-16s  %-18s  %-16s  %s\n", name.c_str(), subs.empty() ? "" : subs[0].c_str(), bridge.c_str(),
                  network_internal(n) ? "true" : "false");
    }
    return 0;
  }
  if (sub == "rm") {
    if (rest.empty()) return fail("network rm: no network given");
    int rc = 0;
    Lock lk = st.lock();
    for (const auto& name : rest) {
      auto net = st.network(name);
      if (!net) {
        rc = fail("unknown network '" + name + "'", 1);
        continue;
      }
      bool used = false;
      for (const auto& c : st.containers())
        if (c.network == name) used = true;
      if (used) {
        rc = fail("network '" + name + "' has containers: remove them first", 1);
        continue;
      }
      unlink(st.network_path(name).c_str());
      if (auto* id = net->if_contains("id"); id && id->is_string()) {
        const std::string base = st.root() + "/bridge/" + std::string(id->as_string());
        unlink((base + ".lock").c_str());
        unlink((base + ".json").c_str());
      }
      rmdir((st.root() + "/bridge").c_str());
      std::printf("%s\n", name.c_str());
    }
    return rc;
  }
  return fail("network: unknown command '" + sub + "'");
}

}  // namespace

int main(int argc, char** argv) {
  ferry::log::init("ferryctl", getenv("FERRYCTL_DEBUG") ? ferry::log::Level::debug : ferry::log::Level::normal);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 125 : 0;
  }
  const std::string cmd = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  auto st = Store::open();
  if (!st) return fail(st.error());
  if (cmd == "run") return cmd_run(*st, rest);
  if (cmd == "ps") return cmd_ps(*st, rest);
  if (cmd == "stop") return cmd_stop(*st, rest);
  if (cmd == "rm") return cmd_rm(*st, rest);
  if (cmd == "logs") return cmd_logs(*st, rest);
  if (cmd == "inspect") return cmd_inspect(*st, rest);
  if (cmd == "network") return cmd_network(*st, rest);
  std::fputs(kUsage, stderr);
  return fail("unknown command '" + cmd + "'");
}
