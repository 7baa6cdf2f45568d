// `ferry`: user-mode networking for a rootless container, with the command
// line of slirp4netns (contracts.md section 1), so that podman, rootlesskit
// and scripts can call it unchanged:
//
//   ferry [OPTIONS] PID|PATH [TAPNAME]
//
// Start-up: parse options -> create the tap in the target's namespaces (and
// configure it) -> write "1" to --ready-fd -> run the io_uring loop until
// --exit-fd closes, SIGTERM/SIGINT, or the namespace goes away.
#include "common/log.hpp"
#include "netstack/core/config.hpp"
#include "netstack/core/stack.hpp"
#include "netstack/io/host_sockets.hpp"
#include "netstack/io/loop.hpp"
#include "netstack/io/tap.hpp"
#include "portfwd/api.hpp"
#include "portfwd/api_server.hpp"
#include "portfwd/spec.hpp"
#include "portfwd/splice.hpp"

#include <fcntl.h>
#include <getopt.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

namespace {

using ferry::core::NetConfig;

constexpr const char* kVersion = "0.1.0";

// Podman greps this text for flags before passing them: list only flags that
// ferry really implements.
void print_help(const char* argv0) {
  std::printf(
      "Usage: %s [OPTION]... PID|PATH [TAPNAME]\n"
      "User-mode networking for unprivileged network namespaces (slirp4netns-compatible).\n"
      "\n"
      "-c, --configure          bring up the interface\n"
      "-e, --exit-fd=FD         specify the FD for terminating ferry\n"
      "-r, --ready-fd=FD        specify the FD to write to when the network is configured\n"
      "-m, --mtu=MTU            specify MTU (default=1500, max=65521)\n"
      "--cidr=CIDR              specify network address CIDR (default=10.0.2.0/24)\n"
      "--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host namespace\n"
      "--netns-type=TYPE        specify network namespace type ([path|pid], default=pid)\n"
      "--userns-path=PATH       specify user namespace path\n"
      "--disable-dns            disable built-in DNS (10.0.2.3 by default)\n"
      "--macaddress=MAC         specify the MAC address of the TAP (only valid with -c)\n"
      "--target-type=TYPE       specify the target type ([netns], default=netns)\n"
      "-a, --api-socket=PATH    specify API socket path\n"
      "-t, --tcp-ports=SPEC     (ferry) publish container TCP ports, pasta syntax: 8080:80, 127.0.0.1/2222:22,\n"
      "                         1000-1010, ~1005 (IPv4 listeners for now)\n"
      "--resolv-conf=PATH       (ferry) read upstream DNS servers from PATH (default=/etc/resolv.conf)\n"
      "--debug                  (ferry) log debug messages\n"
      "-h, --help               show this help and exit\n"
      "-v, --version            show version and exit\n"
      "\n"
      "Send SIGUSR1 to print counters (frames, flows, drops by reason) to stderr.\n",
      argv0);
}

void print_version() {
  std::printf(
      "ferry version %s\n"
      "slirp4netns version 1.2.0 (compatible command line; ferry netstack, no libslirp)\n"
      "SLIRP_CONFIG_VERSION_MAX: 4\n",
      kVersion);
}

[[noreturn]] void usage_error(const char* argv0, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", argv0, msg.c_str());
  std::fprintf(stderr, "Try '%s --help' for more information.\n", argv0);
  std::exit(1);
}

bool parse_int(const char* s, long lo, long hi, long& out) {
  const char* end = s + std::strlen(s);
  auto [p, ec] = std::from_chars(s, end, out);
  return ec == std::errc() && p == end && out >= lo && out <= hi;
}

class SystemRandom : public ferry::core::Random {
 public:
  SystemRandom() {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = uint64_t(getpid()) * 0x9e3779b97f4a7c15ull;
    gen_.seed(seed);
  }
  uint32_t next() override { return uint32_t(gen_()); }

 private:
  std::mt19937_64 gen_;
};

class TapWriter : public ferry::core::TapOut {
 public:
  explicit TapWriter(int fd) : fd_(fd) {}
  void send_frame(std::span<const uint8_t> f) override {
    // The tap queues into the container's stack and does not block; a full
    // backlog drops the frame, which TCP recovers from like any loss.
    while (write(fd_, f.data(), f.size()) < 0 && errno == EINTR) {
    }
  }

 private:
  int fd_;
};

// See Loop::GoneWatch: a pidfd for --netns-type=pid, inotify on the netns
// file's folder for --netns-type=path.
ferry::io::Loop::GoneWatch watch_target(const ferry::io::TapRequest& req) {
  ferry::io::Loop::GoneWatch w;
  if (req.pid) {
    w.fd = int(syscall(SYS_pidfd_open, req.pid, 0));
    if (w.fd < 0) spdlog::warn("pidfd_open({}): {}; ferry will not notice when it exits", req.pid, strerror(errno));
    w.gone = [] { return true; };
    return w;
  }
  const std::string path = req.netns_path;
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w.fd < 0 || inotify_add_watch(w.fd, dir.c_str(), IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF) < 0) {
    spdlog::warn("cannot watch {}: {}; ferry will not notice when it is removed", dir, strerror(errno));
    if (w.fd >= 0) close(w.fd);
    w.fd = -1;
    return w;
  }
  w.gone = [fd = w.fd, path] {
    alignas(inotify_event) char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    struct stat st{};
    return stat(path.c_str(), &st) < 0 && errno == ENOENT;
  };
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  const char* argv0 = "ferry";
  NetConfig cfg;
  bool configure = false, debug = false;
  long exit_fd = -1, ready_fd = -1;
  std::string netns_type = "pid", userns_path, cidr, macaddress, target_type = "netns", api_socket;
  ferry::portfwd::PortSpecs port_specs;

  enum { kCidr = 256, kDisableHostLoopback, kNetnsType, kUserns, kDisableDns, kMac, kTarget, kResolv, kDebug,
         kSandbox, kSeccomp, kApi, kIpv6, kOutbound, kOutbound6 };
  static const option opts[] = {
      {"configure", no_argument, nullptr, 'c'},
      {"exit-fd", required_argument, nullptr, 'e'},
      {"ready-fd", required_argument, nullptr, 'r'},
      {"mtu", required_argument, nullptr, 'm'},
      {"cidr", required_argument, nullptr, kCidr},
      {"disable-host-loopback", no_argument, nullptr, kDisableHostLoopback},
      {"netns-type", required_argument, nullptr, kNetnsType},
      {"userns-path", required_argument, nullptr, kUserns},
      {"disable-dns", no_argument, nullptr, kDisableDns},
      {"macaddress", required_argument, nullptr, kMac},
      {"target-type", required_argument, nullptr, kTarget},
      {"resolv-conf", required_argument, nullptr, kResolv},
      {"debug", no_argument, nullptr, kDebug},
      {"enable-sandbox", no_argument, nullptr, kSandbox},
      {"enable-seccomp", no_argument, nullptr, kSeccomp},
      {"api-socket", required_argument, nullptr, 'a'},
      {"tcp-ports", required_argument, nullptr, 't'},
      {"enable-ipv6", no_argument, nullptr, '6'},
      {"outbound-addr", required_argument, nullptr, kOutbound},
      {"outbound-addr6", required_argument, nullptr, kOutbound6},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'v'},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":ce:r:m:a:t:6hv", opts, nullptr)) != -1) {
    switch (c) {
      case 'c': configure = true; break;
      case 'e':
        if (!parse_int(optarg, 0, INT32_MAX, exit_fd)) usage_error(argv0, std::string("invalid --exit-fd: ") + optarg);
        break;
      case 'r':
        if (!parse_int(optarg, 0, INT32_MAX, ready_fd)) usage_error(argv0, std::string("invalid --ready-fd: ") + optarg);
        break;
      case 'm': {
        long mtu;
        if (!parse_int(optarg, 68, 65521, mtu)) usage_error(argv0, std::string("MTU must be 68-65521: ") + optarg);
        cfg.mtu = unsigned(mtu);
        break;
      }
      case kCidr: cidr = optarg; break;
      case kDisableHostLoopback: cfg.disable_host_loopback = true; break;
      case kNetnsType: netns_type = optarg; break;
      case kUserns: userns_path = optarg; break;
      case kDisableDns: cfg.disable_dns = true; break;
      case kMac: macaddress = optarg; break;
      case kTarget: target_type = optarg; break;
      case kResolv: cfg.resolv_conf = optarg; break;
      case kDebug: debug = true; break;
      case kSandbox:
      case kSeccomp:
        std::fprintf(stderr, "%s: warning: %s is not implemented yet and is ignored\n", argv0, argv[optind - 1]);
        break;
      case 'a': api_socket = optarg; break;
      case 't':
        if (auto r = port_specs.add('t', optarg); !r) usage_error(argv0, r.error());
        break;
      case '6': usage_error(argv0, "--enable-ipv6 is not supported by this version of ferry");
      case kOutbound:
      case kOutbound6: usage_error(argv0, std::string(argv[optind - 1]) + " is not supported by this version of ferry");
      case 'h': print_help(argv[0]); return 0;
      case 'v': print_version(); return 0;
      case ':': usage_error(argv0, std::string("option requires an argument: ") + argv[optind - 1]);
      default: usage_error(argv0, std::string("unknown option: ") + argv[optind - 1]);
    }
  }
  if (target_type != "netns") {
    usage_error(argv0, "--target-type=" + target_type + " is not supported (only netns)");
  }
  if (netns_type != "pid" && netns_type != "path") usage_error(argv0, "--netns-type must be pid or path");
  if (!cidr.empty()) {
    if (auto r = ferry::core::apply_cidr(cfg, cidr); !r) usage_error(argv0, r.error());
  }
  if (!macaddress.empty()) {
    if (!configure) usage_error(argv0, "--macaddress can only be used with --configure");
    auto m = ferry::core::parse_mac(macaddress);
    if (!m) usage_error(argv0, "invalid --macaddress: " + macaddress);
    cfg.guest_mac = m;
  }
  const int npos = argc - optind;
  if (npos < 1) usage_error(argv0, "missing PID or PATH of the target");
  ferry::io::TapRequest req;
  const std::string target = argv[optind];
  if (netns_type == "pid") {
    long pid;
    if (!parse_int(target.c_str(), 1, INT32_MAX, pid)) usage_error(argv0, "PID must be a process id: " + target);
    req.pid = pid_t(pid);
  } else {
    req.netns_path = target;
  }
  if (npos >= 2) req.name = argv[optind + 1];
  if (npos > 2) std::fprintf(stderr, "%s: warning: ignoring extra arguments after %s\n", argv0, argv[optind + 1]);
  req.userns_path = userns_path;
  req.configure = configure;
  req.cfg = &cfg;

  ferry::log::init("ferry", debug ? ferry::log::Level::debug : ferry::log::Level::normal);
  signal(SIGPIPE, SIG_IGN);

  auto tap = ferry::io::create_tap(req);
  if (!tap) {
    spdlog::error("{}", tap.error());
    return 1;
  }
  spdlog::debug("tap {} ready (vnet header, offload {})", req.name, tap->offload ? "on" : "off");
  ferry::io::NsAgent agent(tap->agent_sock, tap->agent_pid);

  ferry::io::Loop loop;
  ferry::io::RealHost host(loop, cfg.resolv_conf);
  TapWriter tap_out(tap->fd);
  SystemRandom rng;
  ferry::core::Stack stack(cfg, host, tap_out, rng, tap->vnet);

  // Port forwarding: the spliced TCP forwarder, fed by -t and the API socket.
  ferry::portfwd::SpliceForwarder forwarder(loop, agent, cfg.guest);
  auto binder = std::make_shared<ferry::portfwd::SpliceBinder>(forwarder);
  for (const auto& f : port_specs.forwards()) {
    if (f.direction != ferry::portfwd::Direction::inbound || f.proto != ferry::portfwd::Proto::tcp) continue;
    const auto bind = f.bind_addr.value_or(boost::asio::ip::address(boost::asio::ip::address_v4::any()));
    for (uint32_t i = 0; i < f.host.size(); ++i) {
      ferry::portfwd::Listener l;
      l.host_addr = bind;
      l.host_port = uint16_t(f.host.first + i);
      l.guest_addr = boost::asio::ip::address_v4(cfg.guest.v);
      l.guest_port = uint16_t(f.container.first + i);
      if (auto h = binder->open(l); !h) {
        spdlog::error("-t {}: {}", l.host_port, h.error());
        return 1;
      }
    }
  }
  std::atomic<bool> loop_done{false};
  std::unique_ptr<ferry::portfwd::ForwardRegistry> registry;
  std::unique_ptr<ferry::portfwd::ApiServer> api;
  std::unique_ptr<ferry::portfwd::PostingBinder> posting;
  if (!api_socket.empty()) {
    // Jobs run on the loop's thread; once the loop has ended (shutdown, the
    // API thread stopped) they run inline on this same thread.
    posting = std::make_unique<ferry::portfwd::PostingBinder>(
        binder,
        [&loop, &loop_done](std::function<void()> job) {
          if (loop_done.load()) job();
          else loop.post(std::move(job));
        },
        std::chrono::seconds(5));
    ferry::portfwd::ApiConfig api_cfg;
    api_cfg.guest4 = boost::asio::ip::address_v4(cfg.guest.v);
    registry = std::make_unique<ferry::portfwd::ForwardRegistry>(api_cfg, *posting);
    auto server = ferry::portfwd::ApiServer::start(
        {api_socket}, [&registry](std::string_view req) { return registry->handle(req); });
    if (!server) {
      spdlog::error("{}", server.error());
      return 1;
    }
    api = std::move(*server);
  }

  if (ready_fd >= 0) {
    if (write(int(ready_fd), "1", 1) != 1) spdlog::warn("cannot write to --ready-fd {}: {}", ready_fd, strerror(errno));
    close(int(ready_fd));
  }
  ferry::io::Loop::GoneWatch gone = watch_target(req);
  const int status = loop.run(stack, tap->fd, 65536 + 256, int(exit_fd), gone);
  // The API thread may still post to the loop: stop it before the loop and
  // the forwarder go away.
  if (api) api->stop();
  loop_done = true;
  registry.reset();
  spdlog::debug("counters:\n{}", stack.stats());
  return status;
}
