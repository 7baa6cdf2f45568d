// The ferry-dns server: listeners and per-message plumbing. See server.hpp.
#include "server.hpp"

#include "common/log.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78  // Linux 4.15+, not in every libc header
#endif

namespace ferry::dns {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using asio::ip::tcp;
using asio::ip::udp;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("internal error: {}", ex.what());
  }
}

template <class Socket>
void set_freebind(Socket& s, bool v6) {
  int one = 1;
  if (v6)
    ::setsockopt(s.native_handle(), IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
  else
    ::setsockopt(s.native_handle(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
}

std::string endpoint_text(const IpAddress& a, uint16_t port) {
  // fmt rather than string concatenation: GCC 12 at -O3 flags the latter
  // with a false -Wrestrict.
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), port) : fmt::format("{}:{}", a.to_string(), port);
}
}  // namespace

Server::Server(asio::io_context& io, ServerOptions opts) : io_(io), opts_(std::move(opts)), host_(opts_.resolv_conf) {}

Server::~Server() { close_all(); }

void Server::close_all() {
  for (auto& [addr, l] : listeners_) {
    boost::system::error_code ec;
    if (l.udp) l.udp->close(ec);
    if (l.tcp) l.tcp->close(ec);
  }
  listeners_.clear();
}

std::optional<std::string> Server::open_listener(const IpAddress& a, Listener& l) {
  boost::system::error_code ec;
  auto where = endpoint_text(a, opts_.port);
  auto u = std::make_shared<udp::socket>(io_);
  u->open(a.is_v6() ? udp::v6() : udp::v4(), ec);
  if (!ec) {
    set_freebind(*u, a.is_v6());
    u->bind(udp::endpoint(a, opts_.port), ec);
  }
  if (ec) return "cannot listen on " + where + "/udp: " + ec.message();
  auto t = std::make_shared<tcp::acceptor>(io_);
  t->open(a.is_v6() ? tcp::v6() : tcp::v4(), ec);
  if (!ec) {
    set_freebind(*t, a.is_v6());
    t->set_option(asio::socket_base::reuse_address(true), ec);
    t->bind(tcp::endpoint(a, opts_.port), ec);
  }
  if (!ec) t->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen on " + where + "/tcp: " + ec.message();
  l.udp = u;
  l.tcp = t;
  asio::co_spawn(io_, udp_loop(u), log_exception);
  asio::co_spawn(io_, tcp_accept_loop(t), log_exception);
  spdlog::info("listening on {} (udp, tcp)", where);
  return std::nullopt;
}

std::optional<std::string> Server::load(bool first) {
  auto dir = load_dir(opts_.config_dir);
  for (const auto& d : dir.diagnostics) spdlog::error("{}", d.to_string());
  if (dir.dir_missing) spdlog::warn("{}: cannot read config directory", opts_.config_dir.string());
  auto r = std::make_shared<const Resolver>(std::move(dir.networks), opts_.search_domain);
  auto wanted = r->listen_ips();
  resolver_ = r;
  spdlog::info("{} network(s), {} listen address(es)", r->networks().size(), wanted.size());

  // Close listeners of addresses no network uses any more.
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (std::find(wanted.begin(), wanted.end(), it->first) == wanted.end()) {
      boost::system::error_code ec;
      it->second.udp->close(ec);
      it->second.tcp->close(ec);
      spdlog::info("stopped listening on {}", endpoint_text(it->first, opts_.port));
      it = listeners_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& a : wanted) {
    if (listeners_.count(a)) continue;
    Listener l;
    if (auto err = open_listener(a, l)) {
      if (first) return err;
      spdlog::error("{}", *err);
      continue;
    }
    listeners_.emplace(a, std::move(l));
  }
  return std::nullopt;
}

std::vector<IpAddress> Server::upstreams_without_self(std::vector<IpAddress> servers) const {
  if (opts_.upstream.port != opts_.port) return servers;
  // Forwarding to our own listener would loop.
  std::erase_if(servers, [&](const IpAddress& s) { return listeners_.count(s) > 0; });
  return servers;
}

asio::awaitable<void> Server::udp_loop(std::shared_ptr<udp::socket> s) {
  Bytes buf(65535);
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await s->async_receive_from(asio::buffer(buf), from, kUse);
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor || !s->is_open()) co_return;
      continue;  // transient (e.g. ENOBUFS): keep serving
    }
    auto resolver = resolver_;
    std::span<const uint8_t> msg(buf.data(), n);
    Outcome o = handle_query(*resolver, msg, from.address(), false, host_.servers());
    if (o.kind == Outcome::Kind::drop) continue;
    if (o.kind == Outcome::Kind::reply) {
      boost::system::error_code sec;
      s->send_to(asio::buffer(o.reply), from, 0, sec);  // UDP send does not block for long
      continue;
    }
    o.upstreams = upstreams_without_self(std::move(o.upstreams));
    if (inflight_ >= kMaxInflight) continue;  // overloaded: drop, the client retries
    ++inflight_;
    asio::co_spawn(io_, udp_forward(s, from, Bytes(msg.begin(), msg.end()), std::move(o)), log_exception);
  }
}

asio::awaitable<void> Server::udp_forward(std::shared_ptr<udp::socket> s, udp::endpoint client, Bytes query,
                                          Outcome o) {
  auto reply = co_await forward(std::move(query), o.query, std::move(o.upstreams), opts_.upstream);
  --inflight_;
  Bytes out = finish_forward(o.query, reply, false);
  if (s->is_open()) co_await s->async_send_to(asio::buffer(out), client, kUse);
}

asio::awaitable<void> Server::tcp_accept_loop(std::shared_ptr<tcp::acceptor> a) {
  for (;;) {
    auto [ec, sock] = co_await a->async_accept(kUse);
    if (ec) {
      if (ec == asio::error::operation_aborted || !a->is_open()) co_return;
      continue;
    }
    if (tcp_clients_ >= kMaxTcpClients) continue;  // socket closes as it goes out of scope
    ++tcp_clients_;
    asio::co_spawn(io_, tcp_session(std::move(sock)), log_exception);
  }
}

asio::awaitable<void> Server::tcp_session(tcp::socket s) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  boost::system::error_code ec;
  auto peer = s.remote_endpoint(ec);
  for (; !ec;) {
    // RFC 7766 6.2.3: close a connection idle for tcp_idle.
    timer.expires_after(opts_.tcp_idle);
    uint8_t len_buf[2];
    auto r = co_await (asio::async_read(s, asio::buffer(len_buf), kUse) || timer.async_wait(kUse));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) break;
    size_t len = (size_t{len_buf[0]} << 8) | len_buf[1];
    Bytes msg(len);
    timer.expires_after(opts_.tcp_idle);
    auto r2 = co_await (asio::async_read(s, asio::buffer(msg), kUse) || timer.async_wait(kUse));
    if (r2.index() == 1 || std::get<0>(std::get<0>(r2))) break;
    auto resolver = resolver_;
    Outcome o = handle_query(*resolver, msg, peer.address(), true, host_.servers());
    if (o.kind == Outcome::Kind::drop) continue;
    Bytes out;
    if (o.kind == Outcome::Kind::reply) {
      out = std::move(o.reply);
    } else {
      auto reply = co_await forward(msg, o.query, upstreams_without_self(std::move(o.upstreams)), opts_.upstream);
      out = finish_forward(o.query, reply, true);
    }
    Bytes framed;
    framed.reserve(out.size() + 2);
    framed.push_back(static_cast<uint8_t>(out.size() >> 8));
    framed.push_back(static_cast<uint8_t>(out.size()));
    framed.insert(framed.end(), out.begin(), out.end());
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(framed), kUse);
    (void)wn;
    ec = wec;
  }
  --tcp_clients_;
  s.close(ec);
}

}  // namespace ferry::dns
