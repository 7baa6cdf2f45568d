#include "netstack/io/tap.hpp"

#include "common/sandbox.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ferry::io {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + strerror(errno); }

ferry::Expected<void, std::string> join_namespaces(const TapRequest& req) {
  std::string userns = req.userns_path;
  if (userns.empty() && req.pid) userns = "/proc/" + std::to_string(req.pid) + "/ns/user";
  std::string netns = req.netns_path.empty() ? "/proc/" + std::to_string(req.pid) + "/ns/net" : req.netns_path;
  if (!userns.empty()) {
    struct stat ours{}, theirs{};
    if (stat("/proc/self/ns/user", &ours) < 0) return ferry::unexpected(errno_text("/proc/self/ns/user"));
    if (stat(userns.c_str(), &theirs) < 0) return ferry::unexpected(errno_text(userns));
    if (ours.st_ino != theirs.st_ino || ours.st_dev != theirs.st_dev) {
      int fd = open(userns.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return ferry::unexpected(errno_text(userns));
      if (setns(fd, CLONE_NEWUSER) < 0) return ferry::unexpected(errno_text("setns(CLONE_NEWUSER) " + userns));
      close(fd);
    }
  }
  int fd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ferry::unexpected(errno_text(netns));
  if (setns(fd, CLONE_NEWNET) < 0) return ferry::unexpected(errno_text("setns(CLONE_NEWNET) " + netns));
  close(fd);
  return {};
}

ferry::Expected<Tap, std::string> open_tap(const std::string& name) {
  Tap tap;
  tap.fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (tap.fd < 0) return ferry::unexpected(errno_text("open /dev/net/tun"));
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(tap.fd, TUNSETIFF, &ifr) < 0) return ferry::unexpected(errno_text("TUNSETIFF " + name));
  tap.vnet = true;
  int hdrlen = 10;  // struct virtio_net_hdr
  if (ioctl(tap.fd, TUNSETVNETHDRSZ, &hdrlen) < 0) return ferry::unexpected(errno_text("TUNSETVNETHDRSZ"));
  // Checksum offload and TSO both ways (anchors.md: works rootless here).
  if (ioctl(tap.fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0) tap.offload = true;
  return tap;
}

ferry::Expected<void, std::string> nl_check(int err, const char* what) {
  if (err < 0) return ferry::unexpected(std::string(what) + ": " + nl_geterror(err));
  return {};
}

// ip link set lo up; ip link set TAP mtu M address MAC up; ip addr add
// GUEST/PREFIX dev TAP; ip route add default via GATEWAY dev TAP.
ferry::Expected<void, std::string> configure(const std::string& name, const core::NetConfig& cfg) {
  nl_sock* sk = nl_socket_alloc();
  if (!sk) return ferry::unexpected("nl_socket_alloc failed");
  struct Guard {
    nl_sock* sk;
    ~Guard() { nl_socket_free(sk); }
  } guard{sk};
  if (auto r = nl_check(nl_connect(sk, NETLINK_ROUTE), "netlink connect"); !r) return r;

  auto link_up = [&](const std::string& ifname, bool set_params) -> ferry::Expected<int, std::string> {
    rtnl_link* orig = nullptr;
    if (auto r = nl_check(rtnl_link_get_kernel(sk, 0, ifname.c_str(), &orig), ("link " + ifname).c_str()); !r)
      return ferry::unexpected(r.error());
    rtnl_link* change = rtnl_link_alloc();
    rtnl_link_set_flags(change, IFF_UP);
    nl_addr* mac = nullptr;
    if (set_params) {
      rtnl_link_set_mtu(change, cfg.mtu);
      if (cfg.guest_mac) {
        mac = nl_addr_build(AF_LLC, cfg.guest_mac->b, 6);
        rtnl_link_set_addr(change, mac);
      }
    }
    int err = rtnl_link_change(sk, orig, change, 0);
    int ifindex = rtnl_link_get_ifindex(orig);
    if (mac) nl_addr_put(mac);
    rtnl_link_put(change);
    rtnl_link_put(orig);
    if (auto r = nl_check(err, ("set link " + ifname).c_str()); !r) return ferry::unexpected(r.error());
    return ifindex;
  };
  if (auto r = link_up("lo", false); !r) return ferry::unexpected(r.error());
  auto ifindex = link_up(name, true);
  if (!ifindex) return ferry::unexpected(ifindex.error());

  uint8_t guest[4], gw[4], any[4] = {0, 0, 0, 0};
  cfg.guest.store(guest);
  cfg.gateway.store(gw);
  rtnl_addr* addr = rtnl_addr_alloc();
  nl_addr* local = nl_addr_build(AF_INET, guest, 4);
  nl_addr_set_prefixlen(local, cfg.prefix);
  rtnl_addr_set_ifindex(addr, *ifindex);
  rtnl_addr_set_local(addr, local);
  int err = rtnl_addr_add(sk, addr, 0);
  nl_addr_put(local);
  rtnl_addr_put(addr);
  if (auto r = nl_check(err, "add address"); !r) return r;

  rtnl_route* route = rtnl_route_alloc();
  nl_addr* dst = nl_addr_build(AF_INET, any, 4);
  nl_addr_set_prefixlen(dst, 0);
  rtnl_route_set_dst(route, dst);
  rtnl_route_set_family(route, AF_INET);
  rtnl_route_set_table(route, RT_TABLE_MAIN);
  rtnl_route_set_protocol(route, RTPROT_BOOT);
  rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route, RTN_UNICAST);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  nl_addr* via = nl_addr_build(AF_INET, gw, 4);
  rtnl_route_nh_set_gateway(nh, via);
  rtnl_route_nh_set_ifindex(nh, *ifindex);
  rtnl_route_add_nexthop(route, nh);
  err = rtnl_route_add(sk, route, NLM_F_CREATE);
  nl_addr_put(via);
  nl_addr_put(dst);
  rtnl_route_put(route);
  return nl_check(err, "add default route");
}

struct AgentRequest {
  uint8_t op;      // kAgentSocket, kAgentListening, kAgentPool
  uint8_t type;    // SOCK_STREAM or SOCK_DGRAM
  uint8_t flags;   // kAgentBind, kAgentListen, kAgentConnect (kAgentSocket)
  uint16_t len;    // of the address in `addr` (connect); kAgentPool: how many sockets
  uint16_t llen;   // of the address in `local` (bind)
  sockaddr_storage addr;
  sockaddr_storage local;
};
constexpr uint8_t kAgentSocket = 1, kAgentListening = 2, kAgentPool = 3;
constexpr uint8_t kAgentBind = 1, kAgentListen = 2, kAgentConnect = 4;

// One message with descriptors attached (SCM_RIGHTS), up to kMaxFds.
constexpr size_t kMaxFds = NsAgent::kPoolBatch;
ssize_t send_with_fds(int sock, const void* data, size_t len, const int* fds, size_t nfds) {
  iovec iov{const_cast<void*>(data), len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  nfds = std::min(nfds, kMaxFds);
  if (nfds > 0) {
    mh.msg_control = cbuf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  return sendmsg(sock, &mh, MSG_NOSIGNAL);
}
// The same with one descriptor; fd < 0 sends none.
ssize_t send_with_fd(int sock, const void* data, size_t len, int fd) {
  return send_with_fds(sock, data, len, &fd, fd >= 0 ? 1 : 0);
}

// Receives one message; the attached descriptors (at most max) land in fds,
// their number in nfds.
ssize_t recv_with_fds(int sock, void* data, size_t len, int* fds, size_t max, size_t& nfds) {
  iovec iov{data, len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  nfds = 0;
  cmsghdr* c = n > 0 ? CMSG_FIRSTHDR(&mh) : nullptr;
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
    const size_t got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int all[kMaxFds];
    std::memcpy(all, CMSG_DATA(c), sizeof(int) * std::min(got, kMaxFds));
    for (size_t i = 0; i < std::min(got, kMaxFds); ++i) {
      if (nfds < max) fds[nfds++] = all[i];
      else close(all[i]);  // more than asked for: not ours to keep
    }
  }
  return n;
}
// The same for at most one descriptor: `fd` gets it or -1.
ssize_t recv_with_fd(int sock, void* data, size_t len, int& fd) {
  size_t nfds = 0;
  fd = -1;
  return recv_with_fds(sock, data, len, &fd, 1, nfds);
}

// Sends an errno (0: success) and, on success, the descriptor.
void send_fd_reply(int sock, int err, int fd) {
  const int32_t e = err;
  send_with_fd(sock, &e, sizeof e, err == 0 ? fd : -1);
}

// The ports with a listening TCP socket (type SOCK_STREAM) or a bound UDP
// socket (SOCK_DGRAM) in this network namespace, IPv4 and IPv6, from
// /proc/net/{tcp,udp}{,6} (the agent's /proc/net is the container's): a
// 65536-bit map, sent as one reply.
void send_listening(int sock, uint8_t type) {
  std::vector<uint8_t> bits(65536 / 8);
  const bool tcp = type == SOCK_STREAM;
  for (const char* file : tcp ? std::array{"/proc/net/tcp", "/proc/net/tcp6"} : std::array{"/proc/net/udp", "/proc/net/udp6"}) {
    FILE* f = fopen(file, "re");
    if (!f) continue;
    char line[512];
    if (!fgets(line, sizeof line, f)) {  // header
      fclose(f);
      continue;
    }
    while (fgets(line, sizeof line, f)) {
      // "  sl  local_address rem_address   st ...": local is HEX:PORT.
      char local[64], remote[64];
      unsigned st = 0;
      if (sscanf(line, " %*u: %63s %63s %x", local, remote, &st) != 3) continue;
      // TCP: LISTEN (0x0a). UDP: unconnected (state 07, CLOSE).
      if (st != (tcp ? 0x0au : 0x07u)) continue;
      const char* colon = strrchr(local, ':');
      if (!colon) continue;
      const unsigned long port = strtoul(colon + 1, nullptr, 16);
      if (port > 0 && port < 65536) bits[port / 8] |= uint8_t(1u << (port % 8));
    }
    fclose(f);
  }
  send_with_fd(sock, bits.data(), bits.size(), -1);
}

// What the agent's loop below does, for its own seccomp filter (it is not in
// ferry's mount namespace: it reads the container's /proc/net): recv and
// sendmsg (SCM_RIGHTS) on its socket; socket, setsockopt, bind, listen,
// connect, close for a request; fopen/fgets/fclose of /proc/net/*; memory.
// Capabilities: none but CAP_NET_BIND_SERVICE in the container's user
// namespace (-T/-U listeners on low ports of the container's loopback).
ferry::sandbox::Policy agent_policy() {
  ferry::sandbox::Policy p;
  p.syscalls = ferry::sandbox::base_syscalls();
  for (const char* s : {"recvfrom", "recvmsg", "sendmsg", "sendto", "socket", "setsockopt", "bind", "listen",
                        "connect", "openat"})
    p.syscalls.emplace_back(s);
  p.keep_caps = {CAP_NET_BIND_SERVICE};
  return p;
}

// The agent's loop, inside the container's namespaces: one request, one
// reply, until ferry goes away.
[[noreturn]] void serve_agent(int sock, bool sandbox) {
  // Set here, after setns(): a change of credentials clears the death signal.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(0);
  // From here on only requests: its own filter (docs/sandbox.md). Without
  // it the agent would be the one unfiltered process of ferry's; it exits,
  // and ferry's requests then fail naming ENOTCONN/EPIPE.
  if (auto r = sandbox ? ferry::sandbox::restrict(agent_policy()) : ferry::Expected<void, std::string>(); !r) {
    std::fprintf(stderr, "ferry: namespace agent: %s\n", r.error().c_str());
    _exit(3);
  }
  while (true) {
    AgentRequest req{};
    const ssize_t n = recv(sock, &req, sizeof req, 0);
    if (n == 0) _exit(0);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(0);
    }
    if (size_t(n) == sizeof req && req.op == kAgentListening) {
      send_listening(sock, req.type);
      continue;
    }
    if (size_t(n) == sizeof req && req.op == kAgentPool) {
      // req.len plain non-blocking sockets of family addr.ss_family.
      const int fam = req.addr.ss_family;
      int fds[kMaxFds];
      size_t made = 0;
      int32_t err = 0;
      if ((fam != AF_INET && fam != AF_INET6) || req.type != SOCK_STREAM || req.len == 0 || req.len > kMaxFds) {
        err = EINVAL;
      } else {
        for (; made < req.len; ++made) {
          fds[made] = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
          if (fds[made] < 0) break;
        }
        if (made == 0) err = errno;
      }
      send_with_fds(sock, &err, sizeof err, fds, made);
      for (size_t i = 0; i < made; ++i) close(fds[i]);
      continue;
    }
    // A socket in the container's namespace: bound (SO_REUSEADDR) to
    // `local`, listening, and/or connected (non-blocking) to `addr`.
    const int family = (req.flags & kAgentBind) ? req.local.ss_family : req.addr.ss_family;
    if (size_t(n) != sizeof req || req.op != kAgentSocket || (family != AF_INET && family != AF_INET6) ||
        (req.type != SOCK_STREAM && req.type != SOCK_DGRAM) || req.len > sizeof req.addr ||
        req.llen > sizeof req.local || !(req.flags & (kAgentBind | kAgentConnect))) {
      send_fd_reply(sock, EINVAL, -1);
      continue;
    }
    int fd = socket(family, req.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      send_fd_reply(sock, errno, -1);
      continue;
    }
    int one = 1, err = 0;
    if (family == AF_INET6 && (req.flags & kAgentBind)) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if ((req.flags & kAgentBind) && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one),
                                     bind(fd, reinterpret_cast<const sockaddr*>(&req.local), req.llen) < 0))
      err = errno;
    if (!err && (req.flags & kAgentListen) && listen(fd, 512) < 0) err = errno;
    if (!err && (req.flags & kAgentConnect) &&
        connect(fd, reinterpret_cast<const sockaddr*>(&req.addr), req.len) < 0 && errno != EINPROGRESS)
      err = errno;
    send_fd_reply(sock, err, err ? -1 : fd);
    close(fd);
  }
}

// configure() in a short-lived child of the agent: libnl's code and heap
// are touched there and leave with it, so the long-lived agent keeps only
// the pages its serving loop uses (0.5 MiB less VmRSS, docs/performance.md).
// Its error message comes back through a pipe.
ferry::Expected<void, std::string> configure_in_child(const std::string& name, const core::NetConfig& cfg) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return ferry::unexpected(errno_text("pipe2"));
  const pid_t pid = fork();
  if (pid < 0) {
    const std::string err = errno_text("fork");
    close(p[0]);
    close(p[1]);
    return ferry::unexpected(err);
  }
  if (pid == 0) {
    close(p[0]);
    auto r = configure(name, cfg);
    if (!r) (void)!write(p[1], r.error().data(), r.error().size());
    _exit(r ? 0 : 1);
  }
  close(p[1]);
  std::string msg;
  char buf[512];
  while (true) {
    const ssize_t n = read(p[0], buf, sizeof buf);
    if (n > 0) msg.append(buf, size_t(n));
    else if (n == 0 || errno != EINTR) break;
  }
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (msg.empty()) msg = "the configuring process ended with status " + std::to_string(status);
  return ferry::unexpected(msg);
}

// Child side: do the work, then send {ok, offload, message} and the fd.
[[noreturn]] void child_main(int sock, const TapRequest& req) {
  // Keep nothing of ferry's but our socket: above all not the --ready-fd or
  // --exit-fd pipes, whose readers and writers must see ferry's alone.
  if (sock > 3) close_range(3, unsigned(sock) - 1, 0);
  close_range(unsigned(sock) + 1, ~0u, 0);
  std::string msg;
  Tap tap;
  auto joined = join_namespaces(req);
  if (!joined) {
    msg = joined.error();
  } else if (auto t = open_tap(req.name); !t) {
    msg = t.error();
  } else {
    tap = *t;
    if (req.configure) {
      if (auto c = configure_in_child(req.name, *req.cfg); !c) msg = "configuring " + req.name + ": " + c.error();
    }
  }
  const bool ok = msg.empty();
  std::string payload = std::string(ok ? "1" : "0") + (tap.offload ? "1" : "0") + msg;
  if (send_with_fd(sock, payload.data(), payload.size(), ok ? tap.fd : -1) < 0 || !ok) _exit(2);
  close(tap.fd);
  serve_agent(sock, req.sandbox);
}

}  // namespace

ferry::Expected<Tap, std::string> create_tap(const TapRequest& req) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return ferry::unexpected(errno_text("socketpair"));
  pid_t child = fork();
  if (child < 0) return ferry::unexpected(errno_text("fork"));
  if (child == 0) {
    close(sv[0]);
    child_main(sv[1], req);
  }
  close(sv[1]);
  char buf[1024];
  int tap_fd = -1;
  const ssize_t n = recv_with_fd(sv[0], buf, sizeof buf, tap_fd);
  auto fail = [&](std::string msg) -> ferry::Expected<Tap, std::string> {
    close(sv[0]);
    int status = 0;
    waitpid(child, &status, 0);
    return ferry::unexpected(std::move(msg));
  };
  if (n < 2) return fail("the namespace helper process failed before reporting");
  if (buf[0] != '1') return fail(std::string(buf + 2, size_t(n) - 2));
  Tap tap;
  tap.vnet = true;
  tap.offload = buf[1] == '1';
  if (tap_fd < 0) return fail("the namespace helper sent no tap descriptor");
  tap.fd = tap_fd;
  ifreq ifr{};
  if (ioctl(tap.fd, SIOCGIFHWADDR, &ifr) == 0) tap.mac = wire::Mac::load(reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data));
  tap.agent_sock = sv[0];
  tap.agent_pid = child;
  return tap;
}

NsAgent::~NsAgent() {
  for (int fd : pool4_) close(fd);
  for (int fd : pool6_) close(fd);
  if (sock_ >= 0) close(sock_);  // the agent sees EOF and exits
  if (pid_ > 0) {
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

ferry::Expected<int, int> NsAgent::socket(int type, const sockaddr* local, socklen_t llen, bool listen,
                                          const sockaddr* addr, socklen_t len) {
  if (sock_ < 0) return ferry::unexpected(ENOTCONN);
  AgentRequest req{};
  req.op = kAgentSocket;
  req.type = uint8_t(type);
  if (len > sizeof req.addr || llen > sizeof req.local) return ferry::unexpected(EINVAL);
  if (local) {
    req.flags |= kAgentBind;
    req.llen = uint16_t(llen);
    std::memcpy(&req.local, local, llen);
  }
  if (listen) req.flags |= kAgentListen;
  if (addr) {
    req.flags |= kAgentConnect;
    req.len = uint16_t(len);
    std::memcpy(&req.addr, addr, len);
  }
  if (send(sock_, &req, sizeof req, MSG_NOSIGNAL) != sizeof req) return ferry::unexpected(errno);
  int32_t err = 0;
  int fd = -1;
  const ssize_t n = recv_with_fd(sock_, &err, sizeof err, fd);
  if (n != sizeof err) {
    if (fd >= 0) close(fd);
    return ferry::unexpected(n < 0 ? errno : EPROTO);
  }
  if (err != 0) return ferry::unexpected(int(err));
  if (fd < 0) return ferry::unexpected(EPROTO);
  return fd;
}

ferry::Expected<void, int> NsAgent::refill(std::vector<int>& pool, int family) {
  if (sock_ < 0) return ferry::unexpected(ENOTCONN);
  AgentRequest req{};
  req.op = kAgentPool;
  req.type = SOCK_STREAM;
  req.len = uint16_t(kPoolBatch);
  req.addr.ss_family = sa_family_t(family);
  if (send(sock_, &req, sizeof req, MSG_NOSIGNAL) != sizeof req) return ferry::unexpected(errno);
  int32_t err = 0;
  int fds[kPoolBatch];
  size_t nfds = 0;
  const ssize_t n = recv_with_fds(sock_, &err, sizeof err, fds, kPoolBatch, nfds);
  pool.insert(pool.end(), fds, fds + nfds);
  if (n != sizeof err) return ferry::unexpected(n < 0 ? errno : EPROTO);
  if (nfds == 0) return ferry::unexpected(err ? int(err) : EPROTO);
  return {};
}

ferry::Expected<int, int> NsAgent::stream_connect(const sockaddr* addr, socklen_t len) {
  if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) return ferry::unexpected(EAFNOSUPPORT);
  std::vector<int>& pool = addr->sa_family == AF_INET ? pool4_ : pool6_;
  if (pool.empty())
    if (auto r = refill(pool, addr->sa_family); !r) return ferry::unexpected(r.error());
  const int fd = pool.back();
  pool.pop_back();
  if (::connect(fd, addr, len) < 0 && errno != EINPROGRESS) {
    const int e = errno;
    close(fd);
    return ferry::unexpected(e);
  }
  return fd;
}

ferry::Expected<int, int> NsAgent::tcp_connect(wire::Ip4 addr, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(addr.v);
  return connect(SOCK_STREAM, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

ferry::Expected<std::vector<uint8_t>, int> NsAgent::listening(int type) {
  if (sock_ < 0) return ferry::unexpected(ENOTCONN);
  AgentRequest req{};
  req.op = kAgentListening;
  req.type = uint8_t(type);
  if (send(sock_, &req, sizeof req, MSG_NOSIGNAL) != sizeof req) return ferry::unexpected(errno);
  std::vector<uint8_t> bits(65536 / 8);
  int fd = -1;
  const ssize_t n = recv_with_fd(sock_, bits.data(), bits.size(), fd);
  if (fd >= 0) close(fd);
  if (n != ssize_t(bits.size())) return ferry::unexpected(n < 0 ? errno : EPROTO);
  return bits;
}

}  // namespace ferry::io
