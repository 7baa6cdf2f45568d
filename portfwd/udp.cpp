#include "portfwd/udp.hpp"

#include "netstack/io/host_sockets.hpp"

#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::portfwd {

namespace {
constexpr uint8_t kRoleListener = 0, kRoleHost = 1, kRoleCtr = 2;
constexpr size_t kBufLen = 65536;

uint8_t token_role(uint64_t t) { return uint8_t(t >> 48); }
uint32_t token_gen16(uint64_t t) { return uint32_t(t >> 32) & 0xffff; }
uint32_t token_slot(uint64_t t) { return uint32_t(t); }

std::string client_key(uint32_t listener_id, const Endpoint& peer) {
  std::string k(reinterpret_cast<const char*>(&listener_id), sizeof listener_id);
  k.append(reinterpret_cast<const char*>(&peer.ss), peer.len);
  return k;
}

// The address a datagram was sent to, from IP_PKTINFO / IPV6_PKTINFO.
bool local_of(const msghdr& mh, Endpoint& local, uint16_t port) {
  for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&mh)); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&mh), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      local = Endpoint::v4(wire::Ip4(ntohl(pi.ipi_addr.s_addr)), port);
      return true;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      uint8_t b[16];
      std::memcpy(b, &pi.ipi6_addr, 16);
      local = Endpoint::v6(b, port);
      return true;
    }
  }
  return false;
}
}  // namespace

UdpForwarder::UdpForwarder(io::Loop& loop, io::NsAgent& agent) : loop_(loop), agent_(agent) {
  loop_.add_sink(kKind, this);
}

UdpForwarder::~UdpForwarder() {
  for (uint32_t i = 0; i < flows_.size(); ++i)
    if (flows_[i].used) close_flow(i);
  for (auto& l : listeners_)
    if (l.used) {
      loop_.forget(l.fd);
      close(l.fd);
    }
}

void UdpForwarder::ensure_buffers() {
  if (!bufs_.empty()) return;
  // Not zeroed: pages become resident only when a datagram of that size uses them.
  for (size_t i = 0; i < kBatch; ++i) bufs_.emplace_back(new uint8_t[kBufLen]);
  msgs_.resize(kBatch);
  iovs_.resize(kBatch);
  names_.resize(kBatch);
  ctrl_.resize(kBatch);
}

uint64_t UdpForwarder::token(uint32_t slot, uint8_t role) const {
  const uint32_t gen = role == kRoleListener ? 0 : flows_[slot].gen;
  return uint64_t(kKind) << 56 | uint64_t(role) << 48 | uint64_t(gen & 0xffff) << 32 | slot;
}

Expected<uint32_t, std::string> UdpForwarder::add(const Endpoint& bind, bool v6only, std::vector<Endpoint> targets,
                                                  bool tap_ok) {
  const std::string where = bind.str();
  int fd = socket(bind.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected("socket: " + std::string(strerror(errno)));
  int one = 1, v6 = v6only ? 1 : 0;
  if (bind.family() == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  } else {
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  }
  if (::bind(fd, bind.sa(), bind.len) < 0) {
    const std::string err = "bind " + where + ": " + strerror(errno);
    close(fd);
    return unexpected(err);
  }
  // Set after bind(), so that bind() still finds the port in use by anyone
  // else; each flow's socket then binds the same address and port.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ensure_buffers();
  uint32_t slot = 0;
  while (slot < listeners_.size() && listeners_[slot].used) ++slot;
  if (slot == listeners_.size()) listeners_.emplace_back();
  Listener& l = listeners_[slot];
  l = Listener{};
  l.used = true;
  l.id = next_id_++;
  l.fd = fd;
  l.bind = bind;
  l.tap_ok = tap_ok;
  l.targets = std::move(targets);
  loop_.watch(fd, token(slot, kRoleListener), true, false);
  spdlog::debug("forwarding udp {} -> container {}", where, l.targets.empty() ? "?" : l.targets.back().str());
  return l.id;
}

uint32_t UdpForwarder::add_outbound(int listen_fd, const Endpoint& bind, std::vector<Endpoint> host_targets) {
  int one = 1;
  if (bind.family() == AF_INET6) setsockopt(listen_fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  else setsockopt(listen_fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  ensure_buffers();
  uint32_t slot = 0;
  while (slot < listeners_.size() && listeners_[slot].used) ++slot;
  if (slot == listeners_.size()) listeners_.emplace_back();
  Listener& l = listeners_[slot];
  l = Listener{};
  l.used = true;
  l.outbound = true;
  l.id = next_id_++;
  l.fd = listen_fd;
  l.bind = bind;
  l.targets = std::move(host_targets);
  loop_.watch(listen_fd, token(slot, kRoleListener), true, false);
  return l.id;
}

bool UdpForwarder::remove(uint32_t id) {
  for (auto& l : listeners_) {
    if (l.used && l.id == id) {
      loop_.forget(l.fd);
      close(l.fd);
      l = Listener{};
      return true;
    }
  }
  return false;
}

void UdpForwarder::on_event(uint64_t tok, uint32_t events, uint64_t now_ms) {
  const uint8_t role = token_role(tok);
  const uint32_t slot = token_slot(tok);
  if (role == kRoleListener) {
    if (slot < listeners_.size() && listeners_[slot].used) read_listener(slot);
    return;
  }
  if (slot >= flows_.size() || !flows_[slot].used || (flows_[slot].gen & 0xffff) != token_gen16(tok)) return;
  Flow& f = flows_[slot];
  f.last_active_ms = now_ms;
  const bool ctr_side = role == kRoleCtr;
  if (ctr_side && (events & core::kEvErr)) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(f.ctr, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) on_ctr_error(f, slot, err);
    if (!flows_[slot].used) return;
  }
  // Writability of one side: its backlog first, then what waits on the other.
  if (events & core::kEvOut) {
    if (!send_backlog(f, slot, ctr_side)) return;
    relay(slot, !ctr_side);
  }
  if (events & (core::kEvIn | core::kEvErr)) relay(slot, !ctr_side);
}

void UdpForwarder::read_listener(uint32_t slot) {
  int budget = kBudget;
  while (budget > 0) {
    Listener& l = listeners_[slot];
    const unsigned want = unsigned(std::min<int>(budget, int(kBatch)));
    for (unsigned i = 0; i < want; ++i) {
      iovs_[i] = iovec{bufs_[i].get(), kBufLen};
      msgs_[i] = mmsghdr{};
      msgs_[i].msg_hdr.msg_iov = &iovs_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      msgs_[i].msg_hdr.msg_name = &names_[i];
      msgs_[i].msg_hdr.msg_namelen = sizeof names_[i];
      msgs_[i].msg_hdr.msg_control = ctrl_[i].data();
      msgs_[i].msg_hdr.msg_controllen = ctrl_[i].size();
    }
    const int n = recvmmsg(l.fd, msgs_.data(), want, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    const uint32_t id = l.id;
    const Endpoint bind = l.bind;
    const uint64_t now = io::monotonic_ms();
    for (int i = 0; i < n; ++i) {
      Endpoint peer;
      std::memcpy(&peer.ss, &names_[size_t(i)], sizeof peer.ss);
      peer.len = msgs_[size_t(i)].msg_hdr.msg_namelen;
      Endpoint local = bind;
      local_of(msgs_[size_t(i)].msg_hdr, local, bind.port());
      to_flow(id, peer, local, {bufs_[size_t(i)].get(), msgs_[size_t(i)].msg_len}, now);
    }
    // Served last, so a stolen datagram's flow sees its own earlier ones first.
    for (size_t k = 0; k < stolen_.size() && k < 64; ++k) {
      Stolen s = std::move(stolen_[k]);
      to_flow(s.listener_id, s.peer, s.local, s.data, now);
    }
    stolen_.clear();
    budget -= n;
    if (unsigned(n) < want) return;
    if (!listeners_[slot].used) return;
  }
  if (!listeners_[slot].pending) {
    listeners_[slot].pending = true;
    pending_.push_back(token(slot, kRoleListener));
  }
}

int UdpForwarder::open_client_socket(uint32_t listener_id, const Endpoint& local, const Endpoint& peer,
                                     bool outbound) {
  int fd;
  if (outbound) {  // the client is in the container: so is its socket
    auto r = agent_.socket(SOCK_DGRAM, local.sa(), local.len, false, peer.sa(), peer.len);
    if (!r) return -r.error();
    fd = *r;
  } else {
    fd = socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, local.sa(), local.len) < 0 || ::connect(fd, peer.sa(), peer.len) < 0) {
      const int err = errno;
      close(fd);
      return -err;
    }
  }
  // Between bind() and connect() the socket took any client's datagrams:
  // give those back to the listener's path.
  while (stolen_.size() < 64) {
    Stolen s;
    s.data.resize(kBufLen);
    s.peer.len = sizeof s.peer.ss;
    const ssize_t n = recvfrom(fd, s.data.data(), s.data.size(), MSG_DONTWAIT, s.peer.sa(), &s.peer.len);
    if (n < 0) break;
    s.data.resize(size_t(n));
    s.local = local;
    s.listener_id = listener_id;
    stolen_.push_back(std::move(s));
  }
  return fd;
}

void UdpForwarder::to_flow(uint32_t listener_id, const Endpoint& peer, const Endpoint& local,
                           std::span<const uint8_t> payload, uint64_t now_ms) {
  const Listener* l = nullptr;
  for (const auto& x : listeners_)
    if (x.used && x.id == listener_id) l = &x;
  const std::string key = client_key(listener_id, peer);
  uint32_t slot;
  if (auto it = by_client_.find(key); it != by_client_.end()) {
    slot = it->second;
  } else {
    if (!l) return;  // the forward was removed meanwhile
    core::SockAddr peer_sa, local_sa;
    if (tap_path_ && l->tap_ok && !l->outbound && !peer.is_loopback() && peer.to_sockaddr(peer_sa) &&
        local.to_sockaddr(local_sa) &&
        tap_path_(peer_sa, local_sa, l->targets.back().port(), payload,
                  [this, listener_id, local, peer] { return open_client_socket(listener_id, local, peer, false); }))
      return;
    if (active_ >= kMaxFlows) {
      spdlog::debug("udp forward {}: flow table full, datagram from {} dropped", l->bind.str(), peer.str());
      return;
    }
    const int host = open_client_socket(listener_id, local, peer, l->outbound);
    if (host < 0) {
      spdlog::debug("udp forward {}: socket for {}: {}", l->bind.str(), peer.str(), strerror(-host));
      return;
    }
    slot = 0;
    while (slot < flows_.size() && flows_[slot].used) ++slot;
    if (slot == flows_.size()) flows_.emplace_back();
    Flow& f = flows_[slot];
    const uint32_t gen = f.gen;
    f = Flow{};
    f.gen = gen;
    f.used = true;
    f.host = host;
    f.outbound = l->outbound;
    f.key = key;
    f.targets = l->targets;
    f.last_active_ms = now_ms;
    by_client_.emplace(key, slot);
    ++active_;
    if (!connect_next(f, slot)) {
      close_flow(slot);
      return;
    }
    loop_.watch(f.host, token(slot, kRoleHost), true, false);
  }
  Flow& f = flows_[slot];
  f.last_active_ms = now_ms;
  if (!f.replied && f.held.size() < kHold) f.held.emplace_back(payload.begin(), payload.end());
  if (!f.backlog[0].empty()) {
    f.backlog[0].emplace_back(payload.begin(), payload.end());
    return;
  }
  if (send(f.ctr, payload.data(), payload.size(), MSG_DONTWAIT) < 0 && errno == EAGAIN) {
    f.backlog[0].emplace_back(payload.begin(), payload.end());
    loop_.watch(f.ctr, token(slot, kRoleCtr), false, true);
  }
}

bool UdpForwarder::connect_next(Flow& f, uint32_t slot) {
  while (f.next_target < f.targets.size()) {
    const Endpoint& t = f.targets[f.next_target++];
    int fd;
    if (f.outbound) {  // a host socket
      fd = ::socket(t.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      if (::connect(fd, t.sa(), t.len) < 0) {
        close(fd);
        continue;
      }
    } else {
      auto r = agent_.connect(SOCK_DGRAM, t.sa(), t.len);
      if (!r) continue;
      fd = *r;
    }
    f.ctr = fd;
    loop_.watch(f.ctr, token(slot, kRoleCtr), true, false);
    return true;
  }
  return false;
}

void UdpForwarder::on_ctr_error(Flow& f, uint32_t slot, int err) {
  // "Port unreachable" before any answer: nothing is bound at this address;
  // try the next one with what was held back.
  if (err != ECONNREFUSED || f.replied || f.next_target >= f.targets.size()) return;
  loop_.forget(f.ctr);
  close(f.ctr);
  f.ctr = -1;
  f.backlog[0].clear();
  if (!connect_next(f, slot)) {
    close_flow(slot);
    return;
  }
  for (const auto& d : f.held) f.backlog[0].push_back(d);
  send_backlog(f, slot, true);
}

bool UdpForwarder::send_backlog(Flow& f, uint32_t slot, bool to_ctr) {
  auto& q = f.backlog[to_ctr ? 0 : 1];
  const int out = to_ctr ? f.ctr : f.host;
  size_t done = 0;
  while (done < q.size()) {
    if (send(out, q[done].data(), q[done].size(), MSG_DONTWAIT) < 0) {
      if (errno == EAGAIN) break;
      if (to_ctr && errno == ECONNREFUSED && !f.replied) {
        q.erase(q.begin(), q.begin() + long(done));
        on_ctr_error(f, slot, errno);
        return false;
      }
    }
    ++done;  // sent, or an error that sending again would not cure
  }
  q.erase(q.begin(), q.begin() + long(done));
  if (q.empty()) return true;
  loop_.watch(out, token(slot, to_ctr ? kRoleCtr : kRoleHost), false, true);
  return false;
}

void UdpForwarder::relay(uint32_t slot, bool from_host) {
  int budget = kBudget;
  while (budget > 0) {
    Flow& f = flows_[slot];
    if (!f.used) return;
    const int in = from_host ? f.host : f.ctr, out = from_host ? f.ctr : f.host;
    if (!f.backlog[from_host ? 0 : 1].empty()) return;  // wait for `out` to drain
    const unsigned want = unsigned(std::min<int>(budget, int(kBatch)));
    for (unsigned i = 0; i < want; ++i) {
      iovs_[i] = iovec{bufs_[i].get(), kBufLen};
      msgs_[i] = mmsghdr{};
      msgs_[i].msg_hdr.msg_iov = &iovs_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(in, msgs_.data(), want, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (!from_host && errno == ECONNREFUSED) {
        on_ctr_error(f, slot, errno);
        continue;  // the flow may have moved on: read its new socket
      }
      if (errno == ECONNREFUSED || errno == EINTR) continue;  // a client gone away; read on
      return;
    }
    if (n == 0) return;
    if (!from_host && !f.replied) {
      f.replied = true;
      f.held.clear();
      f.held.shrink_to_fit();
    }
    for (int i = 0; i < n; ++i) {
      iovs_[size_t(i)].iov_len = msgs_[size_t(i)].msg_len;
      loop_.moved(msgs_[size_t(i)].msg_len);
      if (from_host && !f.replied && f.held.size() < kHold)
        f.held.emplace_back(bufs_[size_t(i)].get(), bufs_[size_t(i)].get() + msgs_[size_t(i)].msg_len);
    }
    int sent = 0;
    while (sent < n) {
      // One UDP GSO send for a run of equal sizes, else sendmmsg.
      const int r = io::send_datagrams(out, iovs_.data() + sent, size_t(n - sent), f.gso[from_host ? 0 : 1]);
      if (r > 0) {
        sent += r;
        continue;
      }
      if (r == -EINTR) continue;
      if (r == -EAGAIN) {
        // Keep the rest, in order, until `out` can take it.
        auto& q = f.backlog[from_host ? 0 : 1];
        for (int i = sent; i < n; ++i)
          q.emplace_back(bufs_[size_t(i)].get(), bufs_[size_t(i)].get() + msgs_[size_t(i)].msg_len);
        loop_.watch(out, token(slot, from_host ? kRoleCtr : kRoleHost), false, true);
        return;
      }
      ++sent;  // this datagram cannot be sent (e.g. refused): skip it
    }
    budget -= n;
    if (unsigned(n) < want) return;
  }
  Flow& f = flows_[slot];
  const uint8_t bit = from_host ? 1 : 2;
  if (!(f.pending_dirs & bit)) {
    f.pending_dirs |= bit;
    pending_.push_back(token(slot, from_host ? kRoleHost : kRoleCtr));
  }
}

void UdpForwarder::close_flow(uint32_t slot) {
  Flow& f = flows_[slot];
  for (int fd : {f.host, f.ctr})
    if (fd >= 0) {
      loop_.forget(fd);
      close(fd);
    }
  by_client_.erase(f.key);
  const uint32_t gen = f.gen + 1;
  f = Flow{};
  f.gen = gen;
  --active_;
}

void UdpForwarder::flush() {
  if (!pending_.empty()) {
    pending_now_.swap(pending_);
    for (uint64_t tok : pending_now_) {
      const uint32_t slot = token_slot(tok);
      const uint8_t role = token_role(tok);
      if (role == kRoleListener) {
        if (slot < listeners_.size() && listeners_[slot].used) {
          listeners_[slot].pending = false;
          read_listener(slot);
        }
        continue;
      }
      if (slot >= flows_.size() || !flows_[slot].used || (flows_[slot].gen & 0xffff) != token_gen16(tok)) continue;
      flows_[slot].pending_dirs &= uint8_t(~(role == kRoleHost ? 1 : 2));
      relay(slot, role == kRoleHost);
    }
    pending_now_.clear();
  }
  if (active_ == 0) return;
  const uint64_t now = io::monotonic_ms();
  if (now < next_expiry_) return;
  next_expiry_ = now + 1000;
  for (uint32_t i = 0; i < flows_.size(); ++i)
    if (flows_[i].used && now - flows_[i].last_active_ms >= kIdleMs) close_flow(i);
}

}  // namespace ferry::portfwd
