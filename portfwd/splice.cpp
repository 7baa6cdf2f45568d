#include "portfwd/splice.hpp"

#include "netstack/core/config.hpp"
#include "portfwd/udp.hpp"

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::portfwd {

namespace {
constexpr uint8_t kRoleListener = 0, kRoleHost = 1, kRoleCtr = 2;
constexpr int kPipeWanted = 1 << 20;

uint8_t token_role(uint64_t t) { return uint8_t(t >> 48); }
uint32_t token_gen16(uint64_t t) { return uint32_t(t >> 32) & 0xffff; }
uint32_t token_slot(uint64_t t) { return uint32_t(t); }

void close_socket(io::Loop& loop, int fd, bool reset) {
  if (fd < 0) return;
  loop.forget(fd);
  if (reset) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close(fd);
}

// Set on listeners, as accepted sockets inherit it (the listener's tcp_sock
// is cloned), and on the container-side sockets before they connect: no
// setsockopt per accepted connection.
void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool make_pipe(int& r, int& w) {
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return false;
  r = p[0];
  w = p[1];
  fcntl(w, F_SETPIPE_SZ, kPipeWanted);  // best effort: limited for unprivileged users
  return true;
}
}  // namespace

SpliceForwarder::SpliceForwarder(io::Loop& loop, io::NsAgent& agent)
    : loop_(loop), agent_(agent), spare_fd_(eventfd(0, EFD_CLOEXEC)) {
  loop_.add_sink(kKind, this);
}

SpliceForwarder::~SpliceForwarder() {
  for (uint32_t i = 0; i < conns_.size(); ++i)
    if (conns_[i].used) close_conn(i, false);
  for (auto& l : listeners_)
    if (l.used) close_socket(loop_, l.fd, false);
  drop_pipe_pool();
  if (spare_fd_ >= 0) close(spare_fd_);
}

uint64_t SpliceForwarder::token(uint32_t slot, uint8_t role) const {
  const uint32_t gen = role == kRoleListener ? 0 : conns_[slot].gen;
  return uint64_t(kKind) << 56 | uint64_t(role) << 48 | uint64_t(gen & 0xffff) << 32 | slot;
}

Expected<uint32_t, std::string> SpliceForwarder::add_tcp(const Endpoint& bind, bool v6only, std::vector<Endpoint> targets,
                                                         bool tap_ok) {
  const std::string where = bind.str();
  int fd = socket(bind.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected("socket: " + std::string(strerror(errno)));
  int one = 1, v6 = v6only ? 1 : 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
  set_nodelay(fd);  // accepted connections inherit it
  if (::bind(fd, bind.sa(), bind.len) < 0 || listen(fd, 512) < 0) {
    const std::string err = "bind " + where + ": " + strerror(errno);
    close(fd);
    return unexpected(err);
  }
  uint32_t slot = 0;
  while (slot < listeners_.size() && listeners_[slot].used) ++slot;
  if (slot == listeners_.size()) listeners_.emplace_back();
  Listener& l = listeners_[slot];
  l.used = true;
  l.id = next_id_++;
  l.fd = fd;
  l.tap_ok = tap_ok;
  l.targets = std::move(targets);
  loop_.watch(fd, token(slot, kRoleListener), true, false);
  spdlog::debug("forwarding tcp {} -> container {}", where, l.targets.empty() ? "?" : l.targets.back().str());
  return l.id;
}

uint32_t SpliceForwarder::add_tcp_outbound(int listen_fd, std::vector<Endpoint> host_targets) {
  uint32_t slot = 0;
  while (slot < listeners_.size() && listeners_[slot].used) ++slot;
  if (slot == listeners_.size()) listeners_.emplace_back();
  Listener& l = listeners_[slot];
  l = Listener{};
  l.used = true;
  l.outbound = true;
  l.id = next_id_++;
  l.fd = listen_fd;
  l.targets = std::move(host_targets);
  set_nodelay(listen_fd);
  loop_.watch(listen_fd, token(slot, kRoleListener), true, false);
  return l.id;
}

bool SpliceForwarder::remove(uint32_t id) {
  for (auto& l : listeners_) {
    if (l.used && l.id == id) {
      close_socket(loop_, l.fd, false);
      l = Listener{};
      return true;
    }
  }
  return false;
}

void SpliceForwarder::on_event(uint64_t tok, uint32_t events, uint64_t /*now_ms*/) {
  const uint8_t role = token_role(tok);
  const uint32_t slot = token_slot(tok);
  if (role == kRoleListener) {
    if (slot < listeners_.size() && listeners_[slot].used) accept_all(listeners_[slot]);
    return;
  }
  if (slot >= conns_.size() || !conns_[slot].used || (conns_[slot].gen & 0xffff) != token_gen16(tok)) return;
  on_conn_event(slot, role, events);
}

// Accepts until the queue is empty: the listener's poll reports new
// arrivals only, so connections left in the queue would wait forever.
void SpliceForwarder::accept_all(Listener& l) {
  if (spare_fd_ < 0) spare_fd_ = eventfd(0, EFD_CLOEXEC);  // lost to a race for the freed slot
  while (true) {
    Endpoint peer, local;
    peer.len = local.len = sizeof peer.ss;
    int fd = accept4(l.fd, peer.sa(), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: the idle pipes give theirs up first, and only
      // then is a connection turned away.
      if ((errno == EMFILE || errno == ENFILE) && (drop_pipe_pool() || turn_away_one(l))) continue;
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        spdlog::warn("accept on a forwarded port: {}", strerror(errno));
      return;
    }
    core::SockAddr peer_sa, local_sa;
    if (tap_path_ && l.tap_ok && !l.outbound && !peer.is_loopback() && peer.to_sockaddr(peer_sa) &&
        getsockname(fd, local.sa(), &local.len) == 0 && local.to_sockaddr(local_sa)) {
      if (tap_path_(fd, peer_sa, local_sa, l.targets.back().port())) continue;
    }
    start_conn(fd, l);
  }
}

bool SpliceForwarder::turn_away_one(Listener& l) {
  if (spare_fd_ < 0) return false;
  const int err = errno;
  close(spare_fd_);
  const int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  const int accept_err = errno;
  if (fd >= 0) {
    linger lg{1, 0};  // a reset: the client learns at once
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    if (turned_away_++ % 1000 == 0)
      spdlog::warn("descriptor limit reached ({}): forwarded connections are reset on arrival ({} so far)",
                   strerror(err), turned_away_);
  }
  spare_fd_ = eventfd(0, EFD_CLOEXEC);
  errno = fd >= 0 ? err : accept_err;  // EAGAIN: the queue is empty
  return fd >= 0;
}

bool SpliceForwarder::connect_ctr(Conn& c, uint32_t slot) {
  while (c.next_target < c.targets.size()) {
    const Endpoint& t = c.targets[c.next_target++];
    int fd;
    if (c.outbound) {  // a host socket, from ferry's own namespace
      fd = ::socket(t.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      if (::connect(fd, t.sa(), t.len) < 0 && errno != EINPROGRESS) {
        close(fd);
        continue;
      }
    } else {
      auto r = agent_.stream_connect(t.sa(), t.len);
      if (!r) continue;
      fd = *r;
    }
    set_nodelay(fd);
    c.ctr = fd;
    if (connected_now(fd)) {
      established(c, slot);
      return true;
    }
    c.connecting = true;
    loop_.watch(c.ctr, token(slot, kRoleCtr), false, true);
    return true;
  }
  return false;
}

// A connect to a local address (the container's loopback, or the host's
// for an outbound forward) runs the whole handshake inside connect(): the
// SYN, SYN-ACK and ACK are delivered by the loopback device in the caller's
// context, and the socket is established when connect() returns
// EINPROGRESS. Seeing that at once lets the first splice of the request
// follow in the same loop turn: the server, woken by the handshake, finds
// the request when it looks, instead of sleeping once more for it, and the
// loop arms no poll for the completion. A peer further away (a slow
// handshake, or a refusal) is left to the poll as before.
bool SpliceForwarder::connected_now(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && p.revents == POLLOUT;
}

void SpliceForwarder::established(Conn& c, uint32_t slot) {
  c.connecting = false;
  loop_.watch(c.ctr, token(slot, kRoleCtr), true, false);
  loop_.watch(c.host, token(slot, kRoleHost), true, false);
  if (!c.want) dirty_.push_back(slot);
  c.want |= kToCtr | kToHost;
}

void SpliceForwarder::start_conn(int host_fd, const Listener& l) {
  uint32_t slot = 0;
  while (slot < conns_.size() && conns_[slot].used) ++slot;
  if (slot == conns_.size()) conns_.emplace_back();
  Conn& c = conns_[slot];
  const uint32_t gen = c.gen;
  c = Conn{};
  c.gen = gen;
  c.used = true;
  c.host = host_fd;
  c.outbound = l.outbound;
  c.targets = l.targets;
  ++active_conns_;
  if (!take_pipe(c.to_ctr) || !take_pipe(c.to_host)) {
    spdlog::warn("forwarded connection dropped: pipe2: {}", strerror(errno));
    close_conn(slot, true);
    return;
  }
  if (!connect_ctr(c, slot)) close_conn(slot, true);
}

void SpliceForwarder::on_conn_event(uint32_t slot, uint8_t role, uint32_t events) {
  Conn& c = conns_[slot];
  if (c.connecting) {
    if (role != kRoleCtr) return;
    // A failed connect reports POLLERR; only then is SO_ERROR worth asking.
    int err = 0;
    if (events & (core::kEvErr | core::kEvHup)) {
      socklen_t len = sizeof err;
      getsockopt(c.ctr, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) err = ECONNRESET;
    }
    if (err == 0) {
      established(c, slot);
      return;
    }
    close_socket(loop_, c.ctr, false);
    c.ctr = -1;
    if (err == ECONNREFUSED && connect_ctr(c, slot)) return;
    close_conn(slot, true);
    return;
  }
  // Which direction the event concerns: readable host or writable
  // container socket moves host -> container, and the other way round;
  // errors and hang-ups look at both. The pumping itself waits for flush(),
  // so that several completions for one socket in a loop turn cost one
  // pump, and the idle direction of a one-way transfer costs nothing.
  const bool bad = events & (core::kEvErr | core::kEvHup);
  const bool in = events & (core::kEvIn | core::kEvRdHup);
  const bool out = events & core::kEvOut;
  uint8_t want = bad ? kToCtr | kToHost : 0;
  if (role == kRoleHost) want |= (in ? kToCtr : 0) | (out ? kToHost : 0);
  else want |= (in ? kToHost : 0) | (out ? kToCtr : 0);
  if (!want) want = kToCtr | kToHost;  // the connection just completed
  if (!c.want) dirty_.push_back(slot);
  c.want |= want;
}

void SpliceForwarder::flush() {
  // pump_wanted may close connections (their slots stay in conns_), never
  // open new ones, so the list is stable while it runs.
  for (size_t i = 0; i < dirty_.size(); ++i) pump_wanted(dirty_[i]);
  dirty_.clear();
}

void SpliceForwarder::pump_wanted(uint32_t slot) {
  Conn& c = conns_[slot];
  const uint8_t want = c.want;
  c.want = 0;
  if (!c.used || c.connecting || !want) return;
  if (((want & kToCtr) && !pump(c.host, c.to_ctr, c.ctr, c.host_eof, c.ctr_shut, c.host_shut, slot, kRoleCtr)) ||
      ((want & kToHost) && !pump(c.ctr, c.to_host, c.host, c.ctr_eof, c.host_shut, c.ctr_shut, slot, kRoleHost))) {
    close_conn(slot, true);
    return;
  }
  if (c.host_shut && c.ctr_shut) close_conn(slot, false);
}

bool SpliceForwarder::pump(int in, Pipe& p, int out, bool& in_eof, bool& out_shut, bool other_shut, uint32_t slot,
                           uint8_t out_role) {
  while (true) {
    while (p.pending > 0) {
      const ssize_t n = splice(p.r, nullptr, out, nullptr, p.pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        p.pending -= size_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        loop_.watch(out, token(slot, out_role), false, true);  // tell us when `out` drains
        return true;
      }
      return false;
    }
    if (in_eof) {
      // The end of the second direction closes both sockets next
      // (pump_wanted), and close() sends the FIN: no shutdown for it.
      if (!out_shut) {
        if (!other_shut) shutdown(out, SHUT_WR);
        out_shut = true;
      }
      return true;
    }
    const ssize_t n = splice(in, nullptr, p.w, nullptr, size_t(kPipeWanted), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      p.pending += size_t(n);
      loop_.moved(uint64_t(n));
      continue;
    }
    if (n == 0) {
      in_eof = true;
      continue;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN;
  }
}

bool SpliceForwarder::take_pipe(Pipe& p) {
  if (!pipe_pool_.empty()) {
    p = pipe_pool_.back();
    pipe_pool_.pop_back();
    return true;
  }
  return make_pipe(p.r, p.w);
}

bool SpliceForwarder::drop_pipe_pool() {
  if (pipe_pool_.empty()) return false;
  for (const Pipe& p : pipe_pool_) {
    close(p.r);
    close(p.w);
  }
  pipe_pool_.clear();
  return true;
}

void SpliceForwarder::close_conn(uint32_t slot, bool reset) {
  Conn& c = conns_[slot];
  close_socket(loop_, c.host, reset);
  close_socket(loop_, c.ctr, reset);
  for (Pipe* p : {&c.to_ctr, &c.to_host}) {
    if (p->r < 0) continue;
    // Only a pipe known to be empty (every byte spliced in was spliced
    // out) may serve another connection.
    if (p->pending == 0 && p->w >= 0 && pipe_pool_.size() < kPipePool) {
      pipe_pool_.push_back(Pipe{p->r, p->w, 0});
    } else {
      close(p->r);
      if (p->w >= 0) close(p->w);
    }
  }
  const uint32_t gen = c.gen + 1;
  c = Conn{};
  c.gen = gen;
  --active_conns_;
}

std::vector<Endpoint> forward_targets(const Listener& l, wire::Ip4 guest4, const wire::Ip6& guest6) {
  const uint16_t port = l.guest_port;
  const bool to_guest4 = l.guest_addr.is_v4() && l.guest_addr.to_v4().to_uint() == guest4.v;
  const bool to_guest6 = l.guest_addr.is_v6() && std::memcmp(l.guest_addr.to_v6().to_bytes().data(), guest6.b, 16) == 0;
  if (!to_guest4 && !to_guest6) return {Endpoint::from(l.guest_addr, port)};
  std::vector<Endpoint> t;
  if (l.host_addr.is_v6() || to_guest6) {
    static constexpr uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    t.push_back(Endpoint::v6(kLoop6, port));
  }
  t.push_back(Endpoint::v4(wire::Ip4(127, 0, 0, 1), port));
  t.push_back(Endpoint::v4(guest4, port));
  return t;
}

// Handles: the TCP forwarder's ids as they are, the UDP forwarder's with
// bit 32 set.
constexpr Binder::Handle kUdpHandle = Binder::Handle(1) << 32;

Expected<Binder::Handle, std::string> SpliceBinder::open(const portfwd::Listener& l) {
  const Endpoint bind = Endpoint::from(l.host_addr, l.host_port);
  // The tap path serves forwards to the guest itself (its IPv4 address, or
  // the IPv6 address the API shows for it), not to other addresses.
  const bool tap_ok =
      (l.guest_addr.is_v4() && l.guest_addr.to_v4().to_uint() == guest4_.v) ||
      (l.guest_addr.is_v6() && std::memcmp(l.guest_addr.to_v6().to_bytes().data(), guest6_.b, 16) == 0);
  if (l.proto == Proto::udp) {
    auto id = udp_.add(bind, l.v6only, forward_targets(l, guest4_, guest6_), tap_ok);
    if (!id) return unexpected(id.error());
    return kUdpHandle | *id;
  }
  auto id = tcp_.add_tcp(bind, l.v6only, forward_targets(l, guest4_, guest6_), tap_ok);
  if (!id) return unexpected(id.error());
  return Binder::Handle(*id);
}

void SpliceBinder::close(Handle h) {
  if (h & kUdpHandle) udp_.remove(uint32_t(h));
  else tcp_.remove(uint32_t(h));
}

}  // namespace ferry::portfwd
