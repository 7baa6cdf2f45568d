// Tests of ferry-dns's forwarding (aardvark-dns/upstream.hpp) against fake
// upstream servers on loopback, in one io_context: failover past a refusing
// server, stray replies ignored, TCP fallback on TC, timeout, and the
// resolv.conf watcher. Ports are chosen by the kernel.
#include "upstream.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace ferry::dns;
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

Bytes answer_for(std::span<const uint8_t> q, bool tc, uint8_t last_octet, bool wrong_id = false) {
  auto m = parse(q).value();
  Header h = m.header;
  h.qr = true;
  h.tc = tc;
  h.ra = true;
  if (wrong_id) h.id = static_cast<uint16_t>(h.id + 1);
  h.qdcount = 1;
  h.ancount = tc ? 0 : 1;
  h.arcount = 0;
  Encoder e;
  e.header(h);
  e.question(m.questions[0]);
  if (!tc) {
    LocalRecord r;
    r.owner = m.questions[0].name;
    r.type = rrtype::A;
    r.ttl = 60;
    r.address = {192, 0, 2, last_octet};
    e.local_record(r);
  }
  return e.take();
}

struct Fake {
  enum class Mode { answer, truncate, stray_then_answer, silent };
  Mode mode;
  int udp_queries = 0;
  int tcp_queries = 0;
};

asio::awaitable<void> fake_udp(udp::socket& s, Fake& f) {
  Bytes buf(2048);
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await s.async_receive_from(asio::buffer(buf), from, kUse);
    if (ec) co_return;
    ++f.udp_queries;
    std::span<const uint8_t> q(buf.data(), n);
    switch (f.mode) {
      case Fake::Mode::answer: co_await s.async_send_to(asio::buffer(answer_for(q, false, 1)), from, kUse); break;
      case Fake::Mode::truncate: co_await s.async_send_to(asio::buffer(answer_for(q, true, 0)), from, kUse); break;
      case Fake::Mode::stray_then_answer:
        co_await s.async_send_to(asio::buffer(answer_for(q, false, 66, true)), from, kUse);
        co_await s.async_send_to(asio::buffer(answer_for(q, false, 2)), from, kUse);
        break;
      case Fake::Mode::silent: break;
    }
  }
}

asio::awaitable<void> fake_tcp(tcp::acceptor& a, Fake& f) {
  auto [ec, s] = co_await a.async_accept(kUse);
  if (ec) co_return;
  uint8_t len[2];
  auto [e1, n1] = co_await asio::async_read(s, asio::buffer(len), kUse);
  if (e1) co_return;
  Bytes q((len[0] << 8) | len[1]);
  auto [e2, n2] = co_await asio::async_read(s, asio::buffer(q), kUse);
  if (e2) co_return;
  ++f.tcp_queries;
  auto ans = answer_for(q, false, 3);
  // Sized up front: g++ 12 -O2 warns falsely (-Warray-bounds) on inserting
  // after an initializer-list construction.
  Bytes framed(ans.size() + 2);
  framed[0] = static_cast<uint8_t>(ans.size() >> 8);
  framed[1] = static_cast<uint8_t>(ans.size());
  std::copy(ans.begin(), ans.end(), framed.begin() + 2);
  co_await asio::async_write(s, asio::buffer(framed), kUse);
}

struct Rig {
  asio::io_context io;
  udp::socket us{io};
  tcp::acceptor ta{io};
  Fake fake;
  uint16_t port = 0;
  IpAddress addr = asio::ip::make_address("127.0.0.3");

  explicit Rig(Fake::Mode m) {
    fake.mode = m;
    us.open(udp::v4());
    us.bind(udp::endpoint(addr, 0));
    port = us.local_endpoint().port();
    ta.open(tcp::v4());
    ta.bind(tcp::endpoint(addr, port));  // may fail if taken; the test then skips
    ta.listen();
    asio::co_spawn(io, fake_udp(us, fake), asio::detached);
    asio::co_spawn(io, fake_tcp(ta, fake), asio::detached);
  }

  std::optional<Bytes> run(std::vector<IpAddress> servers, std::chrono::milliseconds udp_timeout =
                                                               std::chrono::milliseconds(1000)) {
    auto q = build_query(77, Name::from_text("host.example").value(), rrtype::A, true);
    UpstreamOptions o;
    o.port = port;
    o.udp_timeout = udp_timeout;
    std::optional<Bytes> result;
    bool done = false;
    asio::co_spawn(io, forward(q, parse(q).value(), std::move(servers), o),
                   [&](std::exception_ptr, std::optional<Bytes> r) {
                     result = std::move(r);
                     done = true;
                     us.close();
                     ta.close();
                   });
    io.run();
    EXPECT_TRUE(done);
    return result;
  }
};

uint8_t last_octet(const Bytes& reply) {
  auto m = parse(reply).value();
  return m.answers.empty() ? 0 : m.answers[0].rdata.back();
}

}  // namespace

TEST(Upstream, FailsOverPastRefusingServer) {
  Rig rig(Fake::Mode::answer);
  // 127.0.0.2:port has no listener: ICMP port unreachable -> next server.
  auto r = rig.run({asio::ip::make_address("127.0.0.2"), rig.addr});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(last_octet(*r), 1);
  EXPECT_EQ(rig.fake.udp_queries, 1);
}

TEST(Upstream, IgnoresStrayReply) {
  Rig rig(Fake::Mode::stray_then_answer);
  auto r = rig.run({rig.addr});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(parse(*r).value().header.id, 77);
  EXPECT_EQ(last_octet(*r), 2);
}

TEST(Upstream, RetriesOverTcpWhenTruncated) {
  Rig rig(Fake::Mode::truncate);
  auto r = rig.run({rig.addr});
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(parse(*r).value().header.tc);
  EXPECT_EQ(last_octet(*r), 3);
  EXPECT_EQ(rig.fake.tcp_queries, 1);
}

TEST(Upstream, TimesOutThenNothing) {
  Rig rig(Fake::Mode::silent);
  auto r = rig.run({rig.addr}, std::chrono::milliseconds(200));
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(rig.fake.udp_queries, 1);
}

TEST(Upstream, ReplyMatchesChecksQuestion) {
  auto q = build_query(5, Name::from_text("a.example").value(), rrtype::A, true);
  auto m = parse(q).value();
  EXPECT_TRUE(reply_matches(m, answer_for(q, false, 1)));
  EXPECT_FALSE(reply_matches(m, answer_for(q, false, 1, true)));
  EXPECT_FALSE(reply_matches(m, q));  // QR clear
  auto other = build_query(5, Name::from_text("b.example").value(), rrtype::A, true);
  EXPECT_FALSE(reply_matches(m, answer_for(other, false, 1)));
  auto upper = build_query(5, Name::from_text("A.EXAMPLE").value(), rrtype::A, true);
  EXPECT_TRUE(reply_matches(m, answer_for(upper, false, 1)));
}

TEST(HostResolvConf, RereadsChangedFile) {
  auto path = std::filesystem::temp_directory_path() / ("ferry-dns-resolv-" + std::to_string(::getpid()));
  std::ofstream(path) << "nameserver 10.0.0.1\n";
  HostResolvConf h(path);
  ASSERT_EQ(h.servers().size(), 1u);
  std::ofstream(path) << "nameserver 10.0.0.2\nnameserver 10.0.0.3\n";
  // Checked at most once a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(h.servers().size(), 2u);
  std::filesystem::remove(path);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(h.servers().empty());
}
