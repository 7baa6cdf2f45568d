// The start-up shared by ferry's personalities: see run.hpp.
#include "netstack/cli/run.hpp"

#include "common/log.hpp"
#include "common/sandbox.hpp"
#include "netstack/cli/sandbox_policy.hpp"
#include "netstack/core/stack.hpp"
#include "netstack/io/host_sockets.hpp"
#include "netstack/io/limits.hpp"
#include "netstack/io/loop.hpp"
#include "portfwd/api.hpp"
#include "portfwd/api_server.hpp"
#include "portfwd/splice.hpp"
#include "portfwd/auto.hpp"
#include "portfwd/udp.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <csignal>
#include <cstring>
#include <memory>
#include <random>

namespace ferry::cli {

bool parse_int(const char* s, long lo, long hi, long& out) {
  const char* end = s + std::strlen(s);
  auto [p, ec] = std::from_chars(s, end, out);
  return ec == std::errc() && p == end && out >= lo && out <= hi;
}

namespace {

class SystemRandom : public core::Random {
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

class TapWriter : public core::TapOut {
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

// The host's sockets, with one destination address rewritten to the host's
// 127.0.0.1 (pasta's --map-guest-addr). The translator keeps the address the
// container used in its flows, so replies still come from that address.
class MappingHost : public core::Host {
 public:
  MappingHost(core::Host& inner, wire::Ip4 from) : in_(inner), from_(wire::Ip6::mapped(from)) {}
  int tcp_connect(core::SockAddr dst) override { return in_.tcp_connect(map(dst)); }
  int adopt_tcp(int fd) override { return in_.adopt_tcp(fd); }
  int connect_result(int fd) override { return in_.connect_result(fd); }
  ssize_t send(int fd, const uint8_t* p, size_t n) override { return in_.send(fd, p, n); }
  ssize_t peek(int fd, uint8_t* p, size_t n) override { return in_.peek(fd, p, n); }
  void rewind_peek(int fd) override { in_.rewind_peek(fd); }
  void discard(int fd, size_t n) override { in_.discard(fd, n); }
  size_t send_space(int fd) override { return in_.send_space(fd); }
  void shutdown_write(int fd) override { in_.shutdown_write(fd); }
  void close(int fd, bool reset) override { in_.close(fd, reset); }
  int udp_open(core::SockAddr dst) override { return in_.udp_open(map(dst)); }
  int icmp_open(const wire::Ip6& dst) override { return in_.icmp_open(map({dst, 0}).addr); }
  ssize_t dgram_send(int fd, const uint8_t* p, size_t n) override { return in_.dgram_send(fd, p, n); }
  int dgram_recv_many(int fd, std::span<MsgBuf> bufs) override { return in_.dgram_recv_many(fd, bufs); }
  int dgram_send_many(int fd, std::span<const MsgBuf> msgs, bool& gso) override {
    return in_.dgram_send_many(fd, msgs, gso);
  }
  bool dns_upstream(wire::Ip4& out) override { return in_.dns_upstream(out); }
  void watch(int fd, uint64_t token, bool in, bool out) override { in_.watch(fd, token, in, out); }

 private:
  core::SockAddr map(core::SockAddr a) const {
    if (a.addr == from_) a.addr = wire::Ip6::mapped(wire::Ip4(127, 0, 0, 1));
    return a;
  }
  core::Host& in_;
  wire::Ip6 from_;
};

// See Loop::GoneWatch: a pidfd for --netns-type=pid, inotify on the netns
// file's folder for --netns-type=path.
io::Loop::GoneWatch watch_target(const io::TapRequest& req) {
  io::Loop::GoneWatch w;
  if (req.pid) {
    w.fd = int(syscall(SYS_pidfd_open, req.pid, 0));
    if (w.fd < 0) spdlog::warn("pidfd_open({}): {}; ferry will not notice when it exits", req.pid, strerror(errno));
    w.gone = [] { return true; };
    return w;
  }
  // The folder with symbolic links followed: the sandbox shows it at that
  // path only (sandbox_policy.cpp), where gone() looks.
  const auto slash = req.netns_path.rfind('/');
  const std::string dir = sandbox::resolved(slash == std::string::npos ? "."
                                            : slash == 0               ? "/"
                                                                       : req.netns_path.substr(0, slash));
  const std::string path = dir + "/" + req.netns_path.substr(slash == std::string::npos ? 0 : slash + 1);
  w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w.fd < 0 || inotify_add_watch(w.fd, dir.c_str(), IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF) < 0) {
    spdlog::warn("cannot watch {}: {}; ferry will not notice when it is removed", dir, strerror(errno));
    if (w.fd >= 0) ::close(w.fd);
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

int run(RunOptions& o) {
  core::NetConfig& cfg = o.cfg;
  o.req.cfg = &cfg;
  o.req.sandbox = o.sandbox;
  signal(SIGPIPE, SIG_IGN);
  // Nothing inherited but what the engine gave on purpose (docs/sandbox.md).
  std::vector<int> keep = o.keep_fds;
  keep.push_back(o.exit_fd);
  keep.push_back(o.ready_fd);
  sandbox::close_inherited_fds(keep);

  auto tap = io::create_tap(o.req);
  if (!tap) {
    spdlog::error("{}", tap.error());
    return 1;
  }
  spdlog::debug("tap {} ready (vnet header, offload {})", o.req.name, tap->offload ? "on" : "off");
  io::NsAgent agent(tap->agent_sock, tap->agent_pid);
  // The tap's own MAC, so the first frame towards the container (e.g. a
  // published port's SYN) need not wait for it to speak or answer ARP.
  if (!cfg.guest_mac && tap->mac) cfg.guest_mac = tap->mac;

  io::Loop loop;
  loop.set_busy_poll_us(o.busy_poll_us);
  io::RealHost real_host(loop, cfg.resolv_conf);
  real_host.set_outbound4(cfg.outbound_addr);
  real_host.set_outbound6(cfg.outbound_addr6);
  std::optional<MappingHost> mapping;
  core::Host* host = &real_host;
  if (o.map_to_loopback) host = &mapping.emplace(real_host, *o.map_to_loopback);
  TapWriter tap_out(tap->fd);
  SystemRandom rng;
  // --map-guest-addr leads to 127.0.0.1 below the translator: the egress
  // policy judges it as 127.0.0.1 (core/policy.hpp).
  if (o.map_to_loopback) cfg.egress.set_loopback_alias(*o.map_to_loopback);
  // The forwarder's share of the descriptors is only kept when a forward can
  // ever exist (core/limits.hpp).
  bool forwards = !o.api_socket.empty() || !o.port_specs.forwards().empty();
  for (char c : {'t', 'u', 'T', 'U'}) {
    const portfwd::Mode m = o.port_specs.mode(c);
    forwards |= m != portfwd::Mode::unset && m != portfwd::Mode::none;
  }
  const auto fwd = forwards ? core::Forwarder::possible : core::Forwarder::none;
  core::Stack stack(cfg, *host, tap_out, rng, tap->vnet, io::fit_limits_to_rlimit(o.limits, fwd));

  // Port forwarding: the spliced TCP forwarder and the UDP forwarder, fed by
  // -t/-u and the API socket.
  portfwd::SpliceForwarder forwarder(loop, agent);
  portfwd::UdpForwarder udp_forwarder(loop, agent);
  auto binder = std::make_shared<portfwd::SpliceBinder>(forwarder, udp_forwarder, cfg.guest, cfg.guest6);
  // Clients not on the host's loopback take the tap path, so the container
  // sees their address; the host itself (on its own address) shows as the
  // gateway, as does anything claiming an address inside the virtual subnet
  // or prefix. IPv6 clients take it once the container's IPv6 address is
  // known (Stack::reaches_guest), else they are spliced or relayed.
  auto seen_as = [&cfg](core::SockAddr peer, const core::SockAddr& local) {
    if (peer.is_v4()) {
      if (peer.addr == local.addr || cfg.in_subnet(peer.addr.v4())) peer.addr = wire::Ip6::mapped(cfg.gateway);
    } else if (peer.addr == local.addr || cfg.in_prefix6(peer.addr)) {
      peer.addr = cfg.gateway6;
    }
    return peer;
  };
  forwarder.set_tap_path([&stack, seen_as](int fd, core::SockAddr peer, core::SockAddr local, uint16_t guest_port) {
    if (!stack.reaches_guest(!peer.is_v4())) return false;
    stack.open_inbound(fd, seen_as(peer, local), guest_port, io::monotonic_ms());
    return true;
  });
  udp_forwarder.set_tap_path([&stack, seen_as](core::SockAddr peer, core::SockAddr local, uint16_t guest_port,
                                               std::span<const uint8_t> payload,
                                               const portfwd::UdpForwarder::MakeSocket& make_socket) {
    if (!stack.reaches_guest(!peer.is_v4())) return false;
    stack.udp_inbound(seen_as(peer, local), guest_port, payload, io::monotonic_ms(), make_socket);
    return true;
  });
  // -T / -U: listeners on the container's loopback (made by the namespace
  // agent), forwarded to the same or the given port on the host's loopback.
  for (const auto& f : o.port_specs.forwards()) {
    if (f.direction != portfwd::Direction::outbound) continue;
    const bool tcp = f.proto == portfwd::Proto::tcp;
    static constexpr uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    for (uint32_t i = 0; i < f.container.size(); ++i) {
      const uint16_t ns_port = uint16_t(f.container.first + i), host_port = uint16_t(f.host.first + i);
      for (bool v6 : {false, true}) {
        if (v6 && !o.ipv6_listeners) break;
        const portfwd::Endpoint local =
            v6 ? portfwd::Endpoint::v6(kLoop6, ns_port) : portfwd::Endpoint::v4(wire::Ip4(127, 0, 0, 1), ns_port);
        std::vector<portfwd::Endpoint> targets;
        if (v6) targets.push_back(portfwd::Endpoint::v6(kLoop6, host_port));
        targets.push_back(portfwd::Endpoint::v4(wire::Ip4(127, 0, 0, 1), host_port));
        auto fd = agent.socket(tcp ? SOCK_STREAM : SOCK_DGRAM, local.sa(), local.len, tcp, nullptr, 0);
        if (!fd) {
          if (v6) {  // the container may have no IPv6 loopback
            spdlog::debug("-{} {}: no IPv6 listener in the container: {}", tcp ? 'T' : 'U', ns_port, strerror(fd.error()));
            continue;
          }
          spdlog::error("-{} {}: bind {} in the container: {}", tcp ? 'T' : 'U', ns_port, local.str(),
                        strerror(fd.error()));
          return 1;
        }
        if (tcp) forwarder.add_tcp_outbound(*fd, std::move(targets));
        else udp_forwarder.add_outbound(*fd, local, std::move(targets));
      }
    }
  }
  for (const auto& f : o.port_specs.forwards()) {
    if (f.direction != portfwd::Direction::inbound) continue;
    const char opt = f.proto == portfwd::Proto::tcp ? 't' : 'u';
    // No address: IPv4 and IPv6 wildcards, the IPv6 one v6-only (as pasta).
    std::vector<std::pair<boost::asio::ip::address, bool>> binds;
    if (f.bind_addr) binds.emplace_back(*f.bind_addr, false);
    else {
      binds.emplace_back(boost::asio::ip::address_v4::any(), false);
      if (o.ipv6_listeners) binds.emplace_back(boost::asio::ip::address_v6::any(), true);
    }
    for (const auto& [addr, v6only] : binds) {
      for (uint32_t i = 0; i < f.host.size(); ++i) {
        portfwd::Listener l;
        l.proto = f.proto;
        l.host_addr = addr;
        l.v6only = v6only;
        l.host_port = uint16_t(f.host.first + i);
        l.guest_addr = boost::asio::ip::address_v4(cfg.guest.v);
        l.guest_port = uint16_t(f.container.first + i);
        if (auto h = binder->open(l); !h) {
          // A host without IPv6 cannot bind "::": the IPv4 listener suffices.
          if (!f.bind_addr && addr.is_v6() && h.error().find("Address family not supported") != std::string::npos) {
            spdlog::debug("-{} {}: no IPv6 listener: {}", opt, l.host_port, h.error());
            break;
          }
          spdlog::error("-{} {}: {}", opt, l.host_port, h.error());
          return 1;
        }
      }
    }
  }
  // -t auto / -u auto: follow what the container binds.
  portfwd::AutoForwarder auto_forwarder(loop, agent, *binder, cfg.guest, o.ipv6_listeners);
  if (o.port_specs.mode('t') == portfwd::Mode::auto_) auto_forwarder.enable(portfwd::Proto::tcp);
  if (o.port_specs.mode('u') == portfwd::Mode::auto_) auto_forwarder.enable(portfwd::Proto::udp);
  auto_forwarder.scan();
  std::atomic<bool> loop_done{false};
  std::unique_ptr<portfwd::ForwardRegistry> registry;
  std::unique_ptr<portfwd::ApiServer> api;
  std::unique_ptr<portfwd::PostingBinder> posting;
  if (!o.api_socket.empty()) {
    // Jobs run on the loop's thread; once the loop has ended (shutdown, the
    // API thread stopped) they run inline on this same thread.
    posting = std::make_unique<portfwd::PostingBinder>(
        binder,
        [&loop, &loop_done](std::function<void()> job) {
          if (loop_done.load()) job();
          else loop.post(std::move(job));
        },
        std::chrono::seconds(5));
    portfwd::ApiConfig api_cfg;
    api_cfg.guest4 = boost::asio::ip::address_v4(cfg.guest.v);
    if (cfg.ipv6) {
      boost::asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), cfg.guest6.b, 16);
      api_cfg.guest6 = boost::asio::ip::address_v6(b);
    }
    registry = std::make_unique<portfwd::ForwardRegistry>(api_cfg, *posting);
    auto server = portfwd::ApiServer::listen(
        {o.api_socket}, [&registry](std::string_view req) { return registry->handle(req); });
    if (!server) {
      spdlog::error("{}", server.error());
      return 1;
    }
    api = std::move(*server);
  }

  io::Loop::GoneWatch gone = watch_target(o.req);
  if (o.before_sandbox) o.before_sandbox();
  // Everything is set up and ferry still has one thread (the API server's
  // starts below): from here on, no host file but those the policy names,
  // no capability but CAP_NET_BIND_SERVICE, and only the system calls of
  // ferry_policy() (netstack/cli/sandbox_policy.cpp, docs/sandbox.md).
  if (o.sandbox) {
    std::string resolv_conf = ferry_resolv_conf(cfg);  // links followed while they are visible
    if (auto r = sandbox::apply(ferry_policy(o, api != nullptr)); !r) {
      spdlog::error("{} (docs/sandbox.md; --no-sandbox runs without it, for debugging)", r.error());
      return 1;
    }
    real_host.set_resolv_conf(std::move(resolv_conf));
  } else {
    spdlog::warn("--no-sandbox: running without the process sandbox");
  }
  if (api) {
    if (auto r = api->serve(); !r) {
      spdlog::error("{}", r.error());
      return 1;
    }
  }
  if (o.ready_fd >= 0) {
    if (write(o.ready_fd, "1", 1) != 1) spdlog::warn("cannot write to --ready-fd {}: {}", o.ready_fd, strerror(errno));
    ::close(o.ready_fd);
  }
  if (o.on_ready) o.on_ready();
  const int status = loop.run(stack, tap->fd, 65536 + 256, o.exit_fd, gone);
  // The API thread may still post to the loop: stop it before the loop and
  // the forwarder go away.
  if (api) api->stop();
  loop_done = true;
  registry.reset();
  spdlog::debug("counters:\n{}", stack.stats());
  return status;
}

}  // namespace ferry::cli
