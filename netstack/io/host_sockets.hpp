// The real Host (core/host.hpp): non-blocking sockets in the host's network
// namespace, readiness through the io_uring Loop. System calls per method are
// listed with each, for the seccomp allow-list (docs/security.md, later).
#pragma once

#include "netstack/core/host.hpp"
#include "netstack/io/loop.hpp"

#include <sys/uio.h>

#include <optional>
#include <string>

namespace ferry::io {

// Sends up to 64 datagrams on one connected UDP socket in order, in one
// call: as one UDP GSO send (UDP_SEGMENT) when `gso` is set and the sizes
// allow it (all but the last of one size, 64 KiB in all), else sendmmsg.
// Returns how many went out, or -errno for the first. Clears `gso` when the
// kernel refuses segmentation on this socket (see core::Host::dgram_send_many).
int send_datagrams(int fd, const iovec* dgrams, size_t count, bool& gso);

class RealHost : public core::Host {
 public:
  RealHost(Loop& loop, std::string resolv_conf) : loop_(loop), resolv_conf_(std::move(resolv_conf)) {}

  // --outbound-addr[6]: sockets of container flows bind to this source
  // address before they connect; those to the host's loopback do not.
  // The resolv.conf re-read from now on (the same file seen from inside the
  // sandbox: its path with symbolic links followed).
  void set_resolv_conf(std::string path) { resolv_conf_ = std::move(path); }
  void set_outbound4(std::optional<wire::Ip4> a) { outbound4_ = a; }
  void set_outbound6(std::optional<wire::Ip6> a) { outbound6_ = a; }

  int tcp_connect(core::SockAddr dst) override;     // socket, setsockopt, [bind], connect
  int adopt_tcp(int fd) override;                    // setsockopt
  int connect_result(int fd) override;               // getsockopt(SO_ERROR)
  ssize_t send(int fd, const uint8_t* p, size_t n) override;  // send
  ssize_t peek(int fd, uint8_t* p, size_t n) override;        // recv(MSG_PEEK)
  void rewind_peek(int fd) override;                           // setsockopt(SO_PEEK_OFF)
  void discard(int fd, size_t n) override;                     // recv(MSG_TRUNC)
  size_t send_space(int fd) override;                          // getsockopt(SO_MEMINFO)
  void shutdown_write(int fd) override;                        // shutdown
  void close(int fd, bool reset) override;                     // setsockopt(SO_LINGER), close
  int udp_open(core::SockAddr dst) override;                  // socket, [bind], connect
  int icmp_open(const wire::Ip6& dst) override;                // socket, [bind], connect
  ssize_t dgram_send(int fd, const uint8_t* p, size_t n) override;  // send
  int dgram_recv_many(int fd, std::span<MsgBuf> bufs) override;     // recvmmsg
  int dgram_send_many(int fd, std::span<const MsgBuf> msgs, bool& gso) override;  // sendmsg(UDP_SEGMENT) | sendmmsg
  bool dns_upstream(wire::Ip4& out) override;                  // stat, open, read
  void watch(int fd, uint64_t token, bool in, bool out) override { loop_.watch(fd, token, in, out); }

  // Parses nameserver lines of a resolv.conf text; first IPv4 one wins.
  static bool first_ipv4_nameserver(const std::string& text, wire::Ip4& out);

 private:
  // 0 or -errno; nothing to do without --outbound-addr or towards loopback.
  int bind_outbound(int fd, const core::SockAddr& dst, bool tcp);  // setsockopt, bind

  Loop& loop_;
  std::string resolv_conf_;
  std::optional<wire::Ip4> outbound4_;
  std::optional<wire::Ip6> outbound6_;
  bool warned_bind_ = false;
  uint64_t resolv_checked_ms_ = 0;
  int64_t resolv_mtime_ns_ = -1;
  bool have_upstream_ = false;
  wire::Ip4 upstream_;
};

}  // namespace ferry::io
