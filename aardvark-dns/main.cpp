// ferry-dns: the command line and process life of the aardvark-dns drop-in.
//
//   ferry-dns --config DIR -p PORT [-f DOMAIN] run
//
// Start-up, as netavark expects of aardvark-dns (contracts section 4):
//  1. close every inherited fd >= 3 (netavark's lock files among them);
//  2. fork. The parent waits on a pipe. The child calls setsid(), loads the
//     config and opens every listener, installs the signal handlers, writes
//     DIR/aardvark.pid, then writes "ok" to the pipe. The parent exits 0 on
//     "ok", or prints the child's error (e.g. the port is in use) and exits 1.
//     So when the parent returns, the server already listens.
//  3. The child points stdin/stdout/stderr at /dev/null (netavark may be
//     reading the parent's stdout/stderr until EOF) and logs to syslog, and
//     also to $FERRY_DNS_LOG_FILE when set.
//  4. SIGHUP reloads DIR; when no network file is left the server removes
//     its pid file and exits 0. SIGTERM/SIGINT do the same.
//  5. Before reporting "ok", the child enters the sandbox (common/sandbox.hpp,
//     docs/sandbox.md): it sees only DIR (writable: aardvark.pid), the
//     folder of resolv.conf, netavark's aardvark.lock and /dev/log; no
//     capability but CAP_NET_BIND_SERVICE (port 53 on networks added by a
//     reload); the system calls of sandbox_policy() below. --no-sandbox is
//     for debugging.
// Host resolvers come from /etc/resolv.conf, or from --resolv-conf PATH /
// $FERRY_DNS_RESOLV_CONF (tests point it at a file of their own).
#include "server.hpp"

#include "common/log.hpp"
#include "common/sandbox.hpp"

#include <fcntl.h>
#include <getopt.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0"
#endif

namespace {

using namespace ferry::dns;

constexpr const char* kProgram = "ferry-dns";

void usage(std::FILE* out) {
  std::fprintf(out,
               "%s %s: container name server, a drop-in for aardvark-dns\n\n"
               "USAGE:\n"
               "    %s [OPTIONS] <SUBCOMMAND>\n\n"
               "OPTIONS:\n"
               "    -c, --config <DIR>                 configuration directory (one file per network)\n"
               "    -p, --port <PORT>                  port to listen on, default 5533\n"
               "    -f, --filter-search-domain <DOM>   search domain stripped from queries, default .dns.podman\n"
               "        --resolv-conf <PATH>           host resolvers, default /etc/resolv.conf\n"
               "                                       (or $FERRY_DNS_RESOLV_CONF)\n"
               "        --no-sandbox                   for debugging: no seccomp filter, mount namespace\n"
               "                                       or capability drop (docs/sandbox.md)\n"
               "    -h, --help                         print this help\n"
               "    -V, --version                      print the version\n\n"
               "SUBCOMMANDS:\n"
               "    run        serve the networks of the configuration directory\n"
               "    version    print the version\n"
               "    help       print this help\n",
               kProgram, FERRY_VERSION, kProgram);
}

void close_inherited_fds() {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  long max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = 3; fd < (max > 0 ? max : 1024); ++fd) ::close(static_cast<int>(fd));
}

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Writes the pid file atomically (temporary file + rename) so netavark never
// reads half a number.
bool write_pid_file(const std::filesystem::path& path) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << ::getpid();
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

void remove_pid_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  long pid = 0;
  if (in >> pid && pid == ::getpid()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
}

std::shared_ptr<spdlog::sinks::dist_sink_mt> g_sinks;
int g_null_fd = -1;
std::shared_ptr<spdlog::sinks::sink> g_stderr_sink;

void init_logging() {
  ferry::log::init(kProgram, ferry::log::Level::normal);
  auto level = spdlog::default_logger()->level();
  g_sinks = std::make_shared<spdlog::sinks::dist_sink_mt>();
  g_stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  g_sinks->add_sink(g_stderr_sink);
  std::shared_ptr<spdlog::sinks::sink> file_sink;
  if (const char* f = std::getenv("FERRY_DNS_LOG_FILE"); f && *f) {
    try {
      file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(f);
    } catch (const spdlog::spdlog_ex& e) {
      std::fprintf(stderr, "%s: cannot open log file %s: %s\n", kProgram, f, e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>(kProgram, g_sinks);
  logger->set_pattern("%n: %v");
  if (file_sink) {  // the file gets timestamps and pids (parent and daemon share it)
    file_sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %n[%P]: %v");
    g_sinks->add_sink(file_sink);
  }
  logger->set_level(std::getenv("FERRY_DNS_DEBUG") ? spdlog::level::debug : level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

// What the server does once started (server.cpp, upstream.cpp, the code
// below), measured with strace -f over tests/dns and sandbox.sh: Boost.Asio's
// epoll reactor (accept, then ioctl FIONBIO), UDP and TCP listeners (a
// reload may add some) and upstream sockets, reloads of DIR and resolv.conf
// (directory_iterator, ifstream), removing the pid file (written before
// the sandbox), detach_stdio()'s dup2, syslog over /dev/log.
ferry::sandbox::Policy sandbox_policy(const ServerOptions& opts) {
  ferry::sandbox::Policy p;
  p.visible.push_back({opts.config_dir.string(), true});
  if (auto dir = ferry::sandbox::folder_of(opts.resolv_conf.string()); !dir.empty()) p.visible.push_back({dir, false});
  // netavark's lock, taken (flock LOCK_SH) around each reload (config.cpp):
  // the file itself, when it exists at start (netavark creates it first).
  if (auto lock = opts.config_dir / ".." / "aardvark.lock"; ::access(lock.c_str(), F_OK) == 0)
    p.visible.push_back({ferry::sandbox::resolved(lock.string()), false});
  // syslog(3) reconnects to /dev/log when its connection breaks.
  if (auto log = ferry::sandbox::resolved("/dev/log"); ::access(log.c_str(), F_OK) == 0) p.visible.push_back({log, false});
  p.syscalls = ferry::sandbox::base_syscalls();
  for (const char* s : {"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "timerfd_create",
                        "timerfd_settime", "poll", "ppoll", "socket", "connect", "bind", "listen", "accept4",
                        "accept", "setsockopt", "getsockopt", "getsockname", "getpeername", "shutdown", "sendto",
                        "recvfrom", "sendmsg", "recvmsg", "openat", "getdents64", "statx", "unlink", "unlinkat",
                        "pipe2", "dup2", "dup3", "flock"})
    p.syscalls.emplace_back(s);
  p.ioctls = {FIONBIO, FIONREAD};
  p.keep_caps = {CAP_NET_BIND_SERVICE};
  return p;
}

// After start-up: no more stderr (it may be netavark's pipe), syslog instead.
void detach_stdio() {
  g_sinks->remove_sink(g_stderr_sink);
  try {
    auto sys = std::make_shared<spdlog::sinks::syslog_sink_mt>(kProgram, LOG_PID, LOG_DAEMON, false);
    sys->set_pattern("%v");
    g_sinks->add_sink(sys);
  } catch (const spdlog::spdlog_ex&) {
  }
  const int null = g_null_fd;
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
}

// The daemon child. `ready_fd` gets "ok" or an error message.
int run_child(ServerOptions opts, int ready_fd) {
  ::setsid();
  // Paths were made absolute in main(): do not keep the caller's directory busy.
  if (::chdir("/") != 0) spdlog::warn("chdir /: {}", std::strerror(errno));
  auto pid_path = opts.config_dir / "aardvark.pid";
  boost::asio::io_context io;
  Server server(io, opts);
  auto fail = [&](const std::string& msg) {
    write_all(ready_fd, msg);
    ::close(ready_fd);
    return 1;
  };
  if (auto err = server.load(true)) return fail(*err);
  if (!server.has_networks()) return fail("no network configuration in " + opts.config_dir.string());

  boost::asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          spdlog::info("SIGHUP: reloading {}", opts.config_dir.string());
          server.load(false);
          if (!server.has_networks()) {
            spdlog::info("no network left: exiting");
            server.close_all();
            io.stop();
            return;
          }
        } else {
          spdlog::info("signal {}: exiting", sig);
          server.close_all();
          io.stop();
          return;
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  if (!write_pid_file(pid_path)) return fail("cannot write " + pid_path.string() + ": " + std::strerror(errno));
  // /dev/null is opened for detach_stdio() while it is still visible.
  g_null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (opts.sandbox) {
    if (auto r = ferry::sandbox::apply(sandbox_policy(opts)); !r) {
      remove_pid_file(pid_path);
      return fail(r.error() + " (docs/sandbox.md; --no-sandbox runs without it, for debugging)");
    }
  }
  write_all(ready_fd, "ok");
  ::close(ready_fd);
  detach_stdio();
  spdlog::info("serving (pid {})", ::getpid());
  io.run();
  remove_pid_file(pid_path);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  close_inherited_fds();
  ::signal(SIGPIPE, SIG_IGN);

  ServerOptions opts;
  opts.port = 5533;  // aardvark-dns's default
  if (const char* rc = std::getenv("FERRY_DNS_RESOLV_CONF"); rc && *rc) opts.resolv_conf = rc;
  std::string config_dir;

  enum { kOptResolvConf = 1000, kOptNoSandbox };
  static const option longopts[] = {
      {"config", required_argument, nullptr, 'c'},
      {"port", required_argument, nullptr, 'p'},
      {"filter-search-domain", required_argument, nullptr, 'f'},
      {"resolv-conf", required_argument, nullptr, kOptResolvConf},
      {"no-sandbox", no_argument, nullptr, kOptNoSandbox},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = ::getopt_long(argc, argv, "c:p:f:hV", longopts, nullptr)) != -1) {
    switch (c) {
      case 'c': config_dir = optarg; break;
      case 'p': {
        char* end = nullptr;
        errno = 0;
        long v = std::strtol(optarg, &end, 10);
        if (errno || !end || *end || v < 0 || v > 65535) {
          std::fprintf(stderr, "%s: invalid port '%s'\n", kProgram, optarg);
          return 2;
        }
        opts.port = static_cast<uint16_t>(v);
        break;
      }
      case 'f': opts.search_domain = optarg; break;
      case kOptResolvConf: opts.resolv_conf = optarg; break;
      case kOptNoSandbox: opts.sandbox = false; break;
      case 'h': usage(stdout); return 0;
      case 'V': std::printf("%s %s\n", kProgram, FERRY_VERSION); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind >= argc) {
    std::fprintf(stderr, "%s: a subcommand is required\n\n", kProgram);
    usage(stderr);
    return 2;
  }
  std::string sub = argv[optind];
  if (optind + 1 < argc) {
    std::fprintf(stderr, "%s: unexpected argument '%s'\n", kProgram, argv[optind + 1]);
    return 2;
  }
  if (sub == "help") {
    usage(stdout);
    return 0;
  }
  if (sub == "version") {
    std::printf("%s %s\n", kProgram, FERRY_VERSION);
    return 0;
  }
  if (sub != "run") {
    std::fprintf(stderr, "%s: unknown subcommand '%s'\n", kProgram, sub.c_str());
    return 2;
  }
  if (config_dir.empty()) {
    std::fprintf(stderr, "%s: run needs --config <DIR>\n", kProgram);
    return 2;
  }
  std::error_code abs_ec;
  opts.config_dir = std::filesystem::absolute(config_dir, abs_ec);
  if (abs_ec) opts.config_dir = config_dir;
  if (auto rc = std::filesystem::absolute(opts.resolv_conf, abs_ec); !abs_ec) opts.resolv_conf = rc;
  // Inside the sandbox only the file's own folder is visible, links followed.
  opts.resolv_conf = ferry::sandbox::resolved(opts.resolv_conf.string());

  init_logging();
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    spdlog::error("pipe: {}", std::strerror(errno));
    return 1;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    spdlog::error("fork: {}", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    ::close(pipefd[0]);
    int rc = run_child(opts, pipefd[1]);
    spdlog::default_logger()->flush();
    std::_Exit(rc);
  }
  ::close(pipefd[1]);
  std::string msg;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  if (msg == "ok") return 0;
  if (msg.empty()) msg = "server exited during start-up";
  spdlog::error("failed to start: {}", msg);
  return 1;
}
