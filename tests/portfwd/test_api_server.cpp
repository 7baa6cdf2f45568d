// Tests of the API socket server over real Unix sockets in a temporary
// directory (portfwd/api_server.hpp): framing (EOF or newline), the size cap,
// start-up errors, clean-up, isolation of bad or stalled clients, concurrent
// clients, a real bind conflict reaching the reply, and PostingBinder's
// hand-over to another thread with its timeout.
#include "fake_binder.hpp"
#include "portfwd/api_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

using namespace ferry::portfwd;
using ferry::portfwd::testing::FakeBinder;
using namespace std::chrono_literals;
using ferry::Expected;
using ferry::unexpected;

namespace {

std::string err(std::string_view d) { return "{\"error\":{\"desc\":\"" + std::string(d) + "\"}}"; }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ferry-portfwd-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    if (p) path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A raw client: connect, send, optionally shutdown(SHUT_WR), read to EOF.
// Returns the bytes read; "<connect failed>" if the server is not there.
int connect_to(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string request(const std::string& path, std::string_view req, bool shut_wr = true) {
  int fd = connect_to(path);
  if (fd < 0) return "<connect failed>";
  write_all(fd, req);
  if (shut_wr) ::shutdown(fd, SHUT_WR);
  std::string reply = read_all(fd);
  ::close(fd);
  return reply;
}

bool is_socket(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// Server + registry + fake binder in a temp dir.
struct Fixture {
  TempDir dir;
  FakeBinder binder;
  ForwardRegistry reg{ApiConfig{}, binder};
  std::unique_ptr<ApiServer> server;
  std::string path;

  explicit Fixture(ApiServer::Options opts = {}) {
    path = dir.path() + "/api.sock";
    opts.path = path;
    auto s = ApiServer::start(opts, [this](std::string_view r) { return reg.handle(r); });
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error());
    if (s) server = std::move(*s);
  }
};

}  // namespace

// The sequence of slirp4netns's own test-slirp4netns-api-socket.sh, with the
// replies checked literally rather than through jq.
TEST(ApiServer, Slirp4netnsScriptSequence) {
  Fixture f;
  ASSERT_TRUE(f.server);
  EXPECT_EQ(request(f.path, "badjson\n"), err("bad request: cannot parse JSON"));
  EXPECT_EQ(request(f.path, "{\"unexpectedjson\": 42}\n"), err("bad request: no execute found"));
  EXPECT_EQ(request(f.path, "{\"execute\": \"bad\"}\n"), err("bad request: unknown execute"));
  EXPECT_EQ(request(f.path, "{\"execute\": \"add_hostfwd\", \"arguments\":{\"proto\": \"bad\"}}\n"),
            err("bad request: add_hostfwd: bad arguments.proto"));
  EXPECT_EQ(request(f.path, std::string(100000, '\0')), err("bad request: too large message"));
  EXPECT_EQ(request(f.path,
                    "{\"execute\": \"add_hostfwd\", \"arguments\":{\"proto\": \"tcp\",\"host_port\":8080,\"guest_port\":80}}\n"),
            R"({"return":{"id":1}})");
  EXPECT_EQ(request(f.path, "{\"execute\": \"list_hostfwd\"}\n"),
            R"({"entries":[{"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"10.0.2.100","guest_port":80}]})");
  EXPECT_EQ(request(f.path, "{\"execute\": \"remove_hostfwd\", \"arguments\":{\"id\": 1}}\n"),
            R"({"return":{}})");
  EXPECT_EQ(request(f.path, "{\"execute\": \"list_hostfwd\"}"), R"({"entries":[]})");
  EXPECT_EQ(request(f.path, "{\"execute\": \"remove_hostfwd\", \"arguments\":{\"id\": 1}}"),
            err("bad request: remove_hostfwd: bad arguments.id"));
  EXPECT_TRUE(f.binder.open_now().empty());
  EXPECT_EQ(f.binder.closed().size(), 1u);
}

TEST(ApiServer, NewlineEndsTheRequestWithoutEof) {
  Fixture f;
  ASSERT_TRUE(f.server);
  int fd = connect_to(f.path);
  ASSERT_GE(fd, 0);
  // The write side stays open: the newline alone must trigger the reply.
  ASSERT_TRUE(write_all(fd, "{\"execute\":\"list_hostfwd\"}\n{\"ignored\":1}"));
  EXPECT_EQ(read_all(fd), R"({"entries":[]})");
  ::close(fd);
}

TEST(ApiServer, RequestSplitAcrossWrites) {
  Fixture f;
  ASSERT_TRUE(f.server);
  int fd = connect_to(f.path);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(write_all(fd, "{\"execute\":"));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(write_all(fd, "\"list_hostfwd\"}"));
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(read_all(fd), R"({"entries":[]})");
  ::close(fd);
}

TEST(ApiServer, SizeCapMatchesSlirp4netnsBuffer) {
  Fixture f;
  ASSERT_TRUE(f.server);
  // 4095 bytes is still a request (here: not JSON); 4096 is too large.
  EXPECT_EQ(request(f.path, std::string(4095, 'x')), err("bad request: cannot parse JSON"));
  EXPECT_EQ(request(f.path, std::string(4096, 'x')), err("bad request: too large message"));
  // A valid request padded with spaces to 4095 bytes is served.
  std::string padded = "{\"execute\":\"list_hostfwd\"}";
  padded.resize(4095, ' ');
  EXPECT_EQ(request(f.path, padded), R"({"entries":[]})");
  // A newline within the limit ends the request even if more follows.
  EXPECT_EQ(request(f.path, "{\"execute\":\"list_hostfwd\"}\n" + std::string(10000, 'y')),
            R"({"entries":[]})");
  EXPECT_EQ(request(f.path, "{\"execute\":\"list_hostfwd\"}"), R"({"entries":[]})");
}

TEST(ApiServer, PathTooLongIsRejectedAtStart) {
  TempDir dir;
  std::string p = dir.path() + "/" + std::string(120, 'A') + ".sock";
  auto s = ApiServer::start({p}, [](std::string_view) { return std::string(); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), "the specified API socket path is too long (>= 108)");
  EXPECT_FALSE(std::filesystem::exists(p));
  // 107 bytes still fits.
  std::string fits = dir.path() + "/";
  fits.resize(107, 'b');
  auto ok = ApiServer::start({fits}, [](std::string_view) { return std::string("hi"); });
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(request(fits, "x"), "hi");
}

TEST(ApiServer, StartErrors) {
  TempDir dir;
  auto s = ApiServer::start({dir.path() + "/no/such/dir/api.sock"},
                            [](std::string_view) { return std::string(); });
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("bind: No such file or directory"), std::string::npos) << s.error();
  // A regular file at the path is neither removed nor replaced.
  std::string file = dir.path() + "/file";
  std::ofstream(file) << "keep me";
  s = ApiServer::start({file}, [](std::string_view) { return std::string(); });
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("Address already in use"), std::string::npos) << s.error();
  std::ifstream in(file);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
  s = ApiServer::start({""}, [](std::string_view) { return std::string(); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), "the API socket path is empty");
}

TEST(ApiServer, StaleSocketReplacedAndFileRemovedOnStop) {
  TempDir dir;
  std::string p = dir.path() + "/api.sock";
  {
    auto first = ApiServer::start({p}, [](std::string_view) { return std::string("one"); });
    ASSERT_TRUE(first);
    EXPECT_TRUE(is_socket(p));
    (*first)->stop();
    EXPECT_FALSE(std::filesystem::exists(p));
  }
  // Leave a stale socket file behind by binding one ourselves.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", p.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(fd);
  ASSERT_TRUE(is_socket(p));
  auto second = ApiServer::start({p}, [](std::string_view) { return std::string("two"); });
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(request(p, "x"), "two");
  (*second)->stop();
  (*second)->stop();  // idempotent
  EXPECT_FALSE(std::filesystem::exists(p));
  EXPECT_EQ(request(p, "x"), "<connect failed>");
}

TEST(ApiServer, StalledClientDoesNotBlockOthersAndTimesOut) {
  ApiServer::Options opts;
  opts.idle_timeout = 300ms;
  Fixture f(opts);
  ASSERT_TRUE(f.server);
  int stalled = connect_to(f.path);
  ASSERT_GE(stalled, 0);
  ASSERT_TRUE(write_all(stalled, "{\"execute\":"));  // and then nothing
  EXPECT_EQ(request(f.path, "{\"execute\":\"list_hostfwd\"}"), R"({"entries":[]})");
  // The stalled client is closed without a reply after the idle timeout.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read_all(stalled), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);  // closed by the server, not SO_RCVTIMEO
  ::close(stalled);
  EXPECT_EQ(request(f.path, "{\"execute\":\"list_hostfwd\"}"), R"({"entries":[]})");
}

TEST(ApiServer, ClientThatLeavesEarlyDoesNotDisturbTheServer) {
  Fixture f;
  ASSERT_TRUE(f.server);
  for (int i = 0; i < 5; ++i) {
    int fd = connect_to(f.path);
    ASSERT_GE(fd, 0);
    write_all(fd, "{\"execute\":\"list_hostfwd\"}\n");
    ::close(fd);  // without reading the reply
  }
  int fd = connect_to(f.path);
  ::close(fd);  // without sending anything
  EXPECT_EQ(request(f.path, "{\"execute\":\"list_hostfwd\"}"), R"({"entries":[]})");
}

TEST(ApiServer, HandlerExceptionsBecomeErrorReplies) {
  TempDir dir;
  std::string p = dir.path() + "/api.sock";
  std::atomic<int> calls{0};
  auto s = ApiServer::start({p}, [&](std::string_view r) -> std::string {
    ++calls;
    if (r == "throw") throw std::runtime_error("boom");
    return "fine";
  });
  ASSERT_TRUE(s);
  EXPECT_EQ(request(p, "throw"), err("bad request: internal error: boom"));
  EXPECT_EQ(request(p, "ok"), "fine");
  EXPECT_EQ(calls.load(), 2);
}

TEST(ApiServer, ConcurrentClientsGetDistinctIds) {
  Fixture f;
  ASSERT_TRUE(f.server);
  constexpr int kThreads = 6, kEach = 10;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::int64_t> ids;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        int port = 10000 + t * 100 + i;
        std::string reply = request(
            f.path, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":" +
                        std::to_string(port) + ",\"guest_port\":80}}\n");
        boost::system::error_code ec;
        auto v = boost::json::parse(reply, ec);
        std::lock_guard lock(mu);
        if (!ec && v.is_object() && v.as_object().contains("return"))
          ids.push_back(v.at("return").at("id").as_int64());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::sort(ids.begin(), ids.end());
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kEach));
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], static_cast<std::int64_t>(i + 1));
  EXPECT_EQ(f.reg.list().size(), ids.size());
  EXPECT_EQ(f.binder.open_now().size(), ids.size());
}

namespace {

// A binder that really binds on the host (loopback in these tests), to see a
// kernel error travel into the API reply. Test-only: it never accepts.
class SocketBinderForTest : public Binder {
 public:
  Expected<Handle, std::string> open(const Listener& l) override {
    boost::system::error_code ec;
    Handle h = next_++;
    if (l.proto == Proto::tcp) {
      auto a = std::make_unique<boost::asio::ip::tcp::acceptor>(io_);
      boost::asio::ip::tcp::endpoint ep(l.host_addr, l.host_port);
      a->open(ep.protocol(), ec);
      if (!ec) a->bind(ep, ec);
      if (!ec) a->listen(16, ec);
      if (ec) return unexpected(describe(l, ec));
      tcp_[h] = std::move(a);
    } else {
      auto u = std::make_unique<boost::asio::ip::udp::socket>(io_);
      boost::asio::ip::udp::endpoint ep(l.host_addr, l.host_port);
      u->open(ep.protocol(), ec);
      if (!ec) u->bind(ep, ec);
      if (ec) return unexpected(describe(l, ec));
      udp_[h] = std::move(u);
    }
    return h;
  }
  void close(Handle h) override {
    tcp_.erase(h);
    udp_.erase(h);
  }

 private:
  static std::string describe(const Listener& l, const boost::system::error_code& ec) {
    return "bind " + l.host_addr.to_string() + ":" + std::to_string(l.host_port) + ": " +
           ec.message();
  }
  boost::asio::io_context io_;
  Handle next_ = 1;
  std::map<Handle, std::unique_ptr<boost::asio::ip::tcp::acceptor>> tcp_;
  std::map<Handle, std::unique_ptr<boost::asio::ip::udp::socket>> udp_;
};

}  // namespace

TEST(ApiServer, PortInUseReachesTheReply) {
  TempDir dir;
  std::string p = dir.path() + "/api.sock";
  SocketBinderForTest binder;
  ForwardRegistry reg(ApiConfig{}, binder);
  auto s = ApiServer::start({p}, [&](std::string_view r) { return reg.handle(r); });
  ASSERT_TRUE(s);

  // Someone else holds a loopback port (port 0: the kernel picks one).
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor busy(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const int port = busy.local_endpoint().port();
  std::string req = "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":"
                    "\"127.0.0.1\",\"host_port\":" +
                    std::to_string(port) + ",\"guest_port\":80}}";
  EXPECT_EQ(request(p, req), err("bad request: add_hostfwd: slirp_add_hostxfwd failed: bind 127.0.0.1:" +
                                 std::to_string(port) + ": Address already in use"));
  // Once it is free, the same request succeeds with id 1; adding it twice fails.
  busy.close();
  EXPECT_EQ(request(p, req), R"({"return":{"id":1}})");
  EXPECT_NE(request(p, req).find("Address already in use"), std::string::npos);
  // After remove, the port is free again for a new forward (id 2).
  EXPECT_EQ(request(p, R"({"execute":"remove_hostfwd","arguments":{"id":1}})"), R"({"return":{}})");
  EXPECT_EQ(request(p, req), R"({"return":{"id":2}})");
}

// ---- PostingBinder ---------------------------------------------------------

TEST(PostingBinder, RunsCallsOnTheDataPlaneThread) {
  boost::asio::io_context dataplane;
  auto guard = boost::asio::make_work_guard(dataplane);
  std::thread dp([&] { dataplane.run(); });
  auto fake = std::make_shared<FakeBinder>();
  PostingBinder pb(fake, [&](std::function<void()> job) { boost::asio::post(dataplane, std::move(job)); },
                   2000ms);
  Listener l{Proto::tcp, boost::asio::ip::make_address("0.0.0.0"), 8080,
             boost::asio::ip::make_address("10.0.2.100"), 80, false};
  auto h = pb.open(l);
  ASSERT_TRUE(h);
  EXPECT_EQ(fake->last_thread(), dp.get_id());
  EXPECT_EQ(fake->open_now().size(), 1u);
  fake->fail_next_open("bind 0.0.0.0:8080: Address already in use");
  auto h2 = pb.open(l);
  ASSERT_FALSE(h2);
  EXPECT_EQ(h2.error(), "bind 0.0.0.0:8080: Address already in use");
  pb.close(*h);
  EXPECT_TRUE(fake->open_now().empty());

  // Through the registry and the server, end to end.
  TempDir dir;
  std::string p = dir.path() + "/api.sock";
  ForwardRegistry reg(ApiConfig{}, pb);
  auto s = ApiServer::start({p}, [&](std::string_view r) { return reg.handle(r); });
  ASSERT_TRUE(s);
  EXPECT_EQ(request(p, R"({"execute":"add_hostfwd","arguments":{"proto":"udp","host_port":5353,"guest_port":53}})"),
            R"({"return":{"id":1}})");
  EXPECT_EQ(fake->last_thread(), dp.get_id());
  EXPECT_EQ(fake->open_now().size(), 1u);
  EXPECT_EQ(request(p, R"({"execute":"remove_hostfwd","arguments":{"id":1}})"), R"({"return":{}})");
  EXPECT_TRUE(fake->open_now().empty());
  (*s)->stop();
  guard.reset();
  dp.join();
}

TEST(PostingBinder, TimeoutLeavesNoListenerBehind) {
  std::vector<std::function<void()>> queued;  // a data plane that is stuck
  std::mutex mu;
  auto fake = std::make_shared<FakeBinder>();
  PostingBinder pb(fake,
                   [&](std::function<void()> job) {
                     std::lock_guard lock(mu);
                     queued.push_back(std::move(job));
                   },
                   50ms);
  Listener l{Proto::tcp, boost::asio::ip::make_address("127.0.0.1"), 9000,
             boost::asio::ip::make_address("10.0.2.100"), 90, false};
  auto h = pb.open(l);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error(), "data plane did not answer within 50 ms");
  // The data plane wakes up later: the late open is undone at once.
  std::lock_guard lock(mu);
  ASSERT_EQ(queued.size(), 1u);
  queued[0]();
  EXPECT_EQ(fake->opened().size(), 1u);
  EXPECT_EQ(fake->closed().size(), 1u);
  EXPECT_TRUE(fake->open_now().empty());
}

TEST(PostingBinder, UnreachableDataPlane) {
  auto fake = std::make_shared<FakeBinder>();
  PostingBinder pb(fake, [](std::function<void()>) { throw std::runtime_error("loop stopped"); },
                   50ms);
  auto h = pb.open({});
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error(), "cannot reach the data plane: loop stopped");
  pb.close(1);  // logs, does not throw
  EXPECT_TRUE(fake->opened().empty());
}
