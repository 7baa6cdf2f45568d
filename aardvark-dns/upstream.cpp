// Forwarding to upstream resolvers: see upstream.hpp.
#include "upstream.hpp"

#include "common/log.hpp"

#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fstream>
#include <sstream>

namespace ferry::dns {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using asio::ip::tcp;
using asio::ip::udp;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

asio::awaitable<std::optional<Bytes>> try_udp(const Bytes& query, const Message& parsed, const udp::endpoint& ep,
                                              std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  udp::socket s(ex);
  boost::system::error_code ec;
  s.open(ep.protocol(), ec);
  if (!ec) s.connect(ep, ec);
  if (ec) {
    spdlog::debug("upstream {}: {}", ep.address().to_string(), ec.message());
    co_return std::nullopt;
  }
  auto [sec, sent] = co_await s.async_send(asio::buffer(query), kUse);
  (void)sent;
  if (sec) {
    spdlog::debug("upstream {}: send: {}", ep.address().to_string(), sec.message());
    co_return std::nullopt;
  }
  asio::steady_timer timer(ex);
  timer.expires_after(timeout);
  Bytes buf(65535);
  for (;;) {
    auto r = co_await (s.async_receive(asio::buffer(buf), kUse) || timer.async_wait(kUse));
    if (r.index() == 1) {
      spdlog::debug("upstream {}: timed out", ep.address().to_string());
      co_return std::nullopt;
    }
    auto [rec, n] = std::get<0>(r);
    if (rec) {  // e.g. ECONNREFUSED from an ICMP port unreachable
      spdlog::debug("upstream {}: {}", ep.address().to_string(), rec.message());
      co_return std::nullopt;
    }
    std::span<const uint8_t> reply(buf.data(), n);
    if (!reply_matches(parsed, reply)) continue;  // stray or spoofed: keep waiting
    co_return Bytes(reply.begin(), reply.end());
  }
}

asio::awaitable<std::optional<Bytes>> try_tcp(const Bytes& query, const Message& parsed, const tcp::endpoint& ep,
                                              std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  asio::steady_timer timer(ex);
  timer.expires_after(timeout);
  auto fail = [&](const char* what, const boost::system::error_code& ec) {
    spdlog::debug("upstream {} tcp: {}: {}", ep.address().to_string(), what, ec ? ec.message() : "timed out");
  };
  {
    auto r = co_await (s.async_connect(ep, kUse) || timer.async_wait(kUse));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
      fail("connect", r.index() == 0 ? std::get<0>(std::get<0>(r)) : boost::system::error_code{});
      co_return std::nullopt;
    }
  }
  Bytes framed;
  framed.reserve(query.size() + 2);
  framed.push_back(static_cast<uint8_t>(query.size() >> 8));
  framed.push_back(static_cast<uint8_t>(query.size()));
  framed.insert(framed.end(), query.begin(), query.end());
  {
    auto r = co_await (asio::async_write(s, asio::buffer(framed), kUse) || timer.async_wait(kUse));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
      fail("write", r.index() == 0 ? std::get<0>(std::get<0>(r)) : boost::system::error_code{});
      co_return std::nullopt;
    }
  }
  for (;;) {
    uint8_t len_buf[2];
    auto r = co_await (asio::async_read(s, asio::buffer(len_buf), kUse) || timer.async_wait(kUse));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
      fail("read", r.index() == 0 ? std::get<0>(std::get<0>(r)) : boost::system::error_code{});
      co_return std::nullopt;
    }
    size_t len = (size_t{len_buf[0]} << 8) | len_buf[1];
    Bytes body(len);
    auto r2 = co_await (asio::async_read(s, asio::buffer(body), kUse) || timer.async_wait(kUse));
    if (r2.index() == 1 || std::get<0>(std::get<0>(r2))) {
      fail("read", r2.index() == 0 ? std::get<0>(std::get<0>(r2)) : boost::system::error_code{});
      co_return std::nullopt;
    }
    if (reply_matches(parsed, body)) co_return body;
  }
}

}  // namespace

bool reply_matches(const Message& query, std::span<const uint8_t> reply) {
  auto r = parse(reply);
  if (!r) return false;
  const auto& m = r.value();
  if (!m.header.qr || m.header.id != query.header.id) return false;
  if (m.questions.size() != query.questions.size()) return false;
  for (size_t i = 0; i < m.questions.size(); ++i) {
    const auto& a = m.questions[i];
    const auto& b = query.questions[i];
    if (a.qtype != b.qtype || a.qclass != b.qclass || !a.name.equals_ignore_case(b.name)) return false;
  }
  return true;
}

asio::awaitable<std::optional<Bytes>> forward(Bytes query, Message parsed, std::vector<IpAddress> servers,
                                              UpstreamOptions opts) {
  for (const auto& server : servers) {
    auto reply = co_await try_udp(query, parsed, udp::endpoint(server, opts.port), opts.udp_timeout);
    if (!reply) continue;
    auto h = parse_header(*reply);
    if (h && h.value().tc) {
      // RFC 7766 5: retry a truncated answer over TCP.
      auto full = co_await try_tcp(query, parsed, tcp::endpoint(server, opts.port), opts.tcp_timeout);
      if (full) co_return full;
      co_return reply;  // the truncated answer is still an answer
    }
    co_return reply;
  }
  co_return std::nullopt;
}

const std::vector<IpAddress>& HostResolvConf::servers() {
  auto now = std::chrono::steady_clock::now();
  if (loaded_ && now < next_check_) return servers_;
  next_check_ = now + std::chrono::seconds(1);
  struct stat st {};
  Stamp s;
  if (::stat(path_.c_str(), &st) == 0) {
    s.ino = st.st_ino;
    s.size = st.st_size;
    s.mtime_ns = st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec;
    s.ctime_ns = st.st_ctim.tv_sec * 1000000000L + st.st_ctim.tv_nsec;
  }
  if (loaded_ && s == stamp_) return servers_;
  stamp_ = s;
  loaded_ = true;
  std::ifstream in(path_);
  std::stringstream ss;
  if (in) ss << in.rdbuf();
  servers_ = parse_resolv_conf(ss.str());
  spdlog::info("{}: {} nameserver(s)", path_.string(), servers_.size());
  return servers_;
}

}  // namespace ferry::dns
