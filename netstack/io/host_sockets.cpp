#include "netstack/io/host_sockets.hpp"

#include "netstack/core/config.hpp"

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ferry::io {

namespace {
// The socket address of either family for a core address (IPv4-mapped:
// AF_INET); returns its length.
socklen_t to_sockaddr(const core::SockAddr& a, sockaddr_storage& ss) {
  ss = sockaddr_storage{};
  if (a.is_v4()) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(a.port);
    sa->sin_addr.s_addr = htonl(a.addr.v4().v);
    return sizeof(sockaddr_in);
  }
  auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
  sa->sin6_family = AF_INET6;
  sa->sin6_port = htons(a.port);
  std::memcpy(&sa->sin6_addr, a.addr.b, 16);
  return sizeof(sockaddr_in6);
}
ssize_t neg_errno(ssize_t r) { return r < 0 ? -errno : r; }
}  // namespace

int RealHost::adopt_tcp(int fd) {
  int zero = 0, one = 1;
  // Peek offsets make MSG_PEEK continue after what was already sent to the
  // container (Linux >= 6.10 for TCP); the translator depends on it.
  if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) < 0) {
    spdlog::error("SO_PEEK_OFF is not supported on TCP sockets by this kernel: {}", strerror(errno));
    return -errno;
  }
  // Segments from the container are already sized by its own Nagle logic.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return 0;
}

int RealHost::bind_outbound(int fd, const core::SockAddr& dst, bool tcp) {
  const bool v4 = dst.is_v4();
  if (v4 ? (!outbound4_ || dst.addr.v4().is_loopback()) : (!outbound6_ || dst.addr.is_loopback())) return 0;
  // Let connect() pick the port, so that the 4-tuple, not the address
  // alone, must be unique: bound connections do not exhaust ports sooner.
  int one = 1;
  if (tcp) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_storage sa;
  const socklen_t len =
      to_sockaddr(v4 ? core::SockAddr::v4(*outbound4_, 0) : core::SockAddr{*outbound6_, 0}, sa);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) < 0) {
    const int e = errno;
    if (!warned_bind_) {
      warned_bind_ = true;
      spdlog::warn("--outbound-addr{}: cannot bind to {}: {}; container connections fail", v4 ? "" : "6",
                   v4 ? core::to_string(*outbound4_) : core::to_string(*outbound6_), strerror(e));
    }
    return -e;
  }
  return 0;
}

int RealHost::tcp_connect(core::SockAddr dst) {
  int fd = socket(dst.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (int r = adopt_tcp(fd); r < 0) {
    ::close(fd);
    return r;
  }
  if (int r = bind_outbound(fd, dst, true); r < 0) {
    ::close(fd);
    return r;
  }
  sockaddr_storage sa;
  const socklen_t len = to_sockaddr(dst, sa);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), len) < 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

int RealHost::connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  return -err;
}

ssize_t RealHost::send(int fd, const uint8_t* p, size_t n) {
  return neg_errno(::send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL));
}

ssize_t RealHost::peek(int fd, uint8_t* p, size_t n) {
  ssize_t r = recv(fd, p, n, MSG_PEEK | MSG_DONTWAIT);
  if (r < 0 && errno == EWOULDBLOCK) return -EAGAIN;
  return neg_errno(r);
}

void RealHost::rewind_peek(int fd) {
  int zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero);
}

void RealHost::discard(int fd, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, nullptr, n, MSG_TRUNC | MSG_DONTWAIT);
    if (r <= 0) return;
    n -= size_t(r);
  }
}

// The socket takes writes while its queued memory (sk_wmem_queued, payload
// plus per-buffer overhead) is below SO_SNDBUF. The window must be in payload
// bytes, so the free memory is scaled by the payload share of what is queued
// now (SIOCOUTQ / queued memory), and an eighth is kept back: advertising too
// much costs a short write and a fast retransmit, too little only a little
// throughput.
size_t RealHost::send_space(int fd) {
  uint32_t mem[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof mem;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0) return 0;
  const uint64_t sndbuf = mem[SK_MEMINFO_SNDBUF], queued = mem[SK_MEMINFO_WMEM_QUEUED];
  if (sndbuf <= queued) return 0;
  uint64_t space = sndbuf - queued;
  int outq = 0;
  if (queued >= 65536 && ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0 && uint64_t(outq) < queued)
    space = space * uint64_t(outq) / queued;
  return size_t(space - space / 8);
}

void RealHost::shutdown_write(int fd) { shutdown(fd, SHUT_WR); }

void RealHost::close(int fd, bool reset) {
  loop_.forget(fd);
  if (reset) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
}

int RealHost::udp_open(core::SockAddr dst) {
  int fd = socket(dst.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (int r = bind_outbound(fd, dst, false); r < 0) {
    ::close(fd);
    return r;
  }
  sockaddr_storage sa;
  const socklen_t len = to_sockaddr(dst, sa);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), len) < 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

int RealHost::icmp_open(const wire::Ip6& dst) {
  const bool v4 = dst.is_v4_mapped();
  int fd = socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, v4 ? int(IPPROTO_ICMP) : int(IPPROTO_ICMPV6));
  if (fd < 0) return -errno;
  if (int r = bind_outbound(fd, core::SockAddr{dst, 0}, false); r < 0) {
    ::close(fd);
    return r;
  }
  sockaddr_storage sa;
  const socklen_t len = to_sockaddr(core::SockAddr{dst, 0}, sa);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), len) < 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

ssize_t RealHost::dgram_send(int fd, const uint8_t* p, size_t n) {
  return neg_errno(::send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL));
}

int RealHost::dgram_recv_many(int fd, std::span<MsgBuf> bufs) {
  constexpr size_t kMax = 64;
  mmsghdr msgs[kMax];
  iovec iov[kMax];
  const size_t n = std::min(bufs.size(), kMax);
  for (size_t i = 0; i < n; ++i) {
    iov[i] = iovec{bufs[i].data, bufs[i].cap};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const int r = recvmmsg(fd, msgs, unsigned(n), MSG_DONTWAIT, nullptr);
  if (r < 0) return -errno;
  for (int i = 0; i < r; ++i) bufs[size_t(i)].len = msgs[i].msg_len;
  return r;
}

int send_datagrams(int fd, const iovec* dgrams, size_t count, bool& gso) {
  constexpr size_t kMax = 64;          // UDP_MAX_SEGMENTS of older kernels; also the sendmmsg batch
  constexpr size_t kGsoBytes = 65487;  // 65535 minus IPv6 and UDP headers: fits either family
  const size_t n = std::min(count, kMax);
  if (n == 0) return 0;
  const size_t seg = dgrams[0].iov_len;
  bool even = n >= 2 && seg > 0 && dgrams[n - 1].iov_len <= seg;
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    total += dgrams[i].iov_len;
    if (i + 1 < n && dgrams[i].iov_len != seg) even = false;
  }
  if (gso && even && total <= kGsoBytes) {
    msghdr mh{};
    mh.msg_iov = const_cast<iovec*>(dgrams);
    mh.msg_iovlen = n;
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(uint16_t))] = {};
    mh.msg_control = ctrl;
    mh.msg_controllen = sizeof ctrl;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t size = uint16_t(seg);
    std::memcpy(CMSG_DATA(c), &size, sizeof size);
    if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return int(n);
    // EINVAL: a segment above the path's MTU; EIO: no checksum offload on
    // the way out; ENOPROTOOPT/EOPNOTSUPP: a kernel without UDP GSO.
    if (errno != EINVAL && errno != EIO && errno != ENOPROTOOPT && errno != EOPNOTSUPP) return -errno;
    gso = false;
  }
  mmsghdr mm[kMax];
  for (size_t i = 0; i < n; ++i) {
    mm[i] = mmsghdr{};
    mm[i].msg_hdr.msg_iov = const_cast<iovec*>(&dgrams[i]);
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  const int r = sendmmsg(fd, mm, unsigned(n), MSG_DONTWAIT | MSG_NOSIGNAL);
  return r < 0 ? -errno : r;
}

int RealHost::dgram_send_many(int fd, std::span<const MsgBuf> msgs, bool& gso) {
  iovec iov[64];
  const size_t n = std::min<size_t>(msgs.size(), 64);
  for (size_t i = 0; i < n; ++i) iov[i] = iovec{msgs[i].data, msgs[i].len};
  return send_datagrams(fd, iov, n, gso);
}

bool RealHost::first_ipv4_nameserver(const std::string& text, wire::Ip4& out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key, value;
    if (!(ls >> key >> value) || key != "nameserver") continue;
    if (auto a = core::parse_ip4(value)) {
      out = *a;
      return true;
    }
  }
  return false;
}

// Re-reads resolv.conf when its modification time changes, checking at most
// once a second.
bool RealHost::dns_upstream(wire::Ip4& out) {
  const uint64_t now = monotonic_ms();
  if (resolv_mtime_ns_ < 0 || now - resolv_checked_ms_ >= 1000) {
    resolv_checked_ms_ = now;
    struct stat st{};
    int64_t mtime = -2;
    if (stat(resolv_conf_.c_str(), &st) == 0) mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime != resolv_mtime_ns_) {
      resolv_mtime_ns_ = mtime;
      std::ifstream f(resolv_conf_);
      std::stringstream ss;
      ss << f.rdbuf();
      const bool had = have_upstream_;
      have_upstream_ = first_ipv4_nameserver(ss.str(), upstream_);
      if (have_upstream_) spdlog::debug("DNS upstream {}", core::to_string(upstream_));
      else if (had || mtime == -2) spdlog::warn("no IPv4 nameserver in {}: DNS queries are dropped", resolv_conf_);
    }
  }
  out = upstream_;
  return have_upstream_;
}

}  // namespace ferry::io
