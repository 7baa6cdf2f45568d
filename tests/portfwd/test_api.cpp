// Tests of the slirp4netns API without sockets (portfwd/api.hpp): every
// literal error description, the order of the checks, the exact reply texts,
// ids, and what the registry asks of the Binder.
#include "fake_binder.hpp"
#include "portfwd/api.hpp"

#include <gtest/gtest.h>

using namespace ferry::portfwd;
using ferry::portfwd::testing::FakeBinder;
using boost::asio::ip::make_address;

namespace {

std::string err(std::string_view d) { return "{\"error\":{\"desc\":\"" + std::string(d) + "\"}}"; }

ApiConfig v4_only() { return ApiConfig{}; }

ApiConfig dual() {
  ApiConfig c;
  c.guest6 = boost::asio::ip::make_address_v6("fd00:a1e1:1724:1a::100");
  return c;
}

std::string add(std::string_view args) {
  return "{\"execute\":\"add_hostfwd\",\"arguments\":{" + std::string(args) + "}}";
}

}  // namespace

TEST(ApiParse, TopLevelErrorsAreLiteral) {
  FakeBinder b;
  ForwardRegistry reg(v4_only(), b);
  EXPECT_EQ(reg.handle("badjson"), err("bad request: cannot parse JSON"));
  EXPECT_EQ(reg.handle(""), err("bad request: cannot parse JSON"));
  EXPECT_EQ(reg.handle("{\"execute\":"), err("bad request: cannot parse JSON"));
  EXPECT_EQ(reg.handle("{} trailing"), err("bad request: cannot parse JSON"));
  EXPECT_EQ(reg.handle("[1,2]"), err("bad request: json_object() failed"));
  EXPECT_EQ(reg.handle("42"), err("bad request: json_object() failed"));
  EXPECT_EQ(reg.handle("{\"unexpectedjson\": 42}"), err("bad request: no execute found"));
  EXPECT_EQ(reg.handle("{\"execute\": 42}"), err("bad request: no execute found"));
  EXPECT_EQ(reg.handle("{\"execute\": \"bad\"}"), err("bad request: unknown execute"));
  EXPECT_EQ(reg.handle("{\"execute\": \"ADD_HOSTFWD\"}"), err("bad request: unknown execute"));
  EXPECT_TRUE(b.opened().empty());
}

TEST(ApiParse, AddHostfwdErrorsAreLiteral) {
  FakeBinder b;
  ForwardRegistry reg(v4_only(), b);
  const std::string proto = err("bad request: add_hostfwd: bad arguments.proto");
  const std::string host_addr = err("bad request: add_hostfwd: bad arguments.host_addr");
  const std::string host_port = err("bad request: add_hostfwd: bad arguments.host_port");
  const std::string guest_addr = err("bad request: add_hostfwd: bad arguments.guest_addr");
  const std::string guest_port = err("bad request: add_hostfwd: bad arguments.guest_port");

  EXPECT_EQ(reg.handle(R"({"execute": "add_hostfwd", "arguments":{"proto": "bad"}})"), proto);
  EXPECT_EQ(reg.handle(R"({"execute": "add_hostfwd"})"), proto);
  EXPECT_EQ(reg.handle(add(R"("proto":"sctp","host_port":1,"guest_port":1)")), proto);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcpx","host_port":1,"guest_port":1)")), proto);
  EXPECT_EQ(reg.handle(add(R"("proto":17,"host_port":1,"guest_port":1)")), proto);
  // IPv6 forwards without --enable-ipv6.
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp6","host_port":1,"guest_port":1)")), proto);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_addr":"::1","host_port":1,"guest_port":1)")),
            host_addr);

  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_addr":"foo","host_port":1,"guest_port":1)")),
            host_addr);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_addr":"1.2.3","host_port":1,"guest_port":1)")),
            host_addr);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":0,"guest_port":1)")), host_port);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","guest_port":1)")), host_port);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":"8080","guest_port":1)")), host_port);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":70000,"guest_port":1)")), host_port);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":-80,"guest_port":1)")), host_port);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":80.5,"guest_port":1)")), host_port);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":8080)")), guest_port);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":8080,"guest_port":65536)")), guest_port);
  EXPECT_EQ(
      reg.handle(add(R"("proto":"tcp","host_port":8080,"guest_port":80,"guest_addr":"x")")),
      guest_addr);
  EXPECT_EQ(reg.handle(add(
                R"("proto":"tcp","host_port":8080,"guest_port":80,"guest_addr":"10.0.2.300")")),
            guest_addr);
  EXPECT_TRUE(b.opened().empty());
  EXPECT_EQ(reg.handle(R"({"execute":"list_hostfwd"})"), R"({"entries":[]})");
}

TEST(ApiParse, ChecksRunInSlirp4netnsOrder) {
  FakeBinder b;
  ForwardRegistry reg(v4_only(), b);
  // proto before ports, host_port before guest_port, ports before addresses.
  EXPECT_EQ(reg.handle(add(R"("proto":"x","host_port":0,"guest_port":0)")),
            err("bad request: add_hostfwd: bad arguments.proto"));
  EXPECT_EQ(reg.handle(add(R"("proto":"udp","host_port":0,"guest_port":0)")),
            err("bad request: add_hostfwd: bad arguments.host_port"));
  EXPECT_EQ(reg.handle(add(R"("proto":"udp","host_port":1,"guest_port":0,"guest_addr":"x")")),
            err("bad request: add_hostfwd: bad arguments.guest_port"));
  // guest_addr is checked before a host_addr that has a dot but is invalid.
  EXPECT_EQ(reg.handle(add(
                R"("proto":"udp","host_addr":"1.2.3","host_port":1,"guest_port":1,"guest_addr":"x")")),
            err("bad request: add_hostfwd: bad arguments.guest_addr"));
}

TEST(ApiParse, FamilySelection) {
  ApiConfig cfg = dual();
  auto parse_add = [&](std::string_view args) {
    auto c = parse_request(add(args), cfg);
    EXPECT_TRUE(c.has_value()) << args << ": " << (c ? "" : c.error());
    return c ? std::get<AddHostfwd>(*c).fwd : HostFwd{};
  };
  // Wildcard + "tcp" with IPv6 enabled: both families.
  HostFwd f = parse_add(R"("proto":"tcp","host_port":8080,"guest_port":80)");
  EXPECT_EQ(f.host4, boost::asio::ip::make_address_v4("0.0.0.0"));
  EXPECT_EQ(f.guest4, boost::asio::ip::make_address_v4("10.0.2.100"));
  EXPECT_EQ(f.host6, boost::asio::ip::make_address_v6("::"));
  EXPECT_EQ(f.guest6, cfg.guest6);
  f = parse_add(R"("proto":"tcp","host_addr":"::","host_port":8080,"guest_port":80)");
  EXPECT_TRUE(f.host4 && f.host6);
  f = parse_add(R"("proto":"tcp4","host_addr":"::0","host_port":8080,"guest_port":80)");
  EXPECT_TRUE(f.host4 && !f.host6);
  f = parse_add(R"("proto":"udp6","host_port":8080,"guest_port":80)");
  EXPECT_TRUE(!f.host4 && f.host6);
  EXPECT_EQ(f.proto, Proto::udp);
  f = parse_add(R"("proto":"tcp","host_addr":"::1","host_port":8080,"guest_port":80)");
  EXPECT_TRUE(!f.host4 && f.host6);
  f = parse_add(R"("proto":"tcp","host_addr":"127.0.0.1","host_port":8080,"guest_port":80)");
  EXPECT_TRUE(f.host4 && !f.host6);
  // A family forced by proto must match host_addr (slirp4netns test-hostfwd6).
  auto c = parse_request(add(R"("proto":"tcp4","host_addr":"::1","host_port":1,"guest_port":1)"), cfg);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), desc::bad_host_addr);
  c = parse_request(add(R"("proto":"tcp6","host_addr":"127.0.0.1","host_port":1,"guest_port":1)"),
                    cfg);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), desc::bad_host_addr);
  // An explicit IPv4 guest address cannot serve the IPv6 half of a wildcard.
  c = parse_request(add(R"("proto":"tcp","host_port":1,"guest_port":1,"guest_addr":"10.0.2.5")"),
                    cfg);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), desc::bad_guest_addr);
}

TEST(Api, AddListRemoveExactReplies) {
  FakeBinder b;
  ForwardRegistry reg(v4_only(), b);
  EXPECT_EQ(reg.handle(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"","guest_port":80}})"),
            R"({"return":{"id":1}})");
  EXPECT_EQ(reg.handle(R"({"execute":"list_hostfwd"})"),
            R"({"entries":[{"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"10.0.2.100","guest_port":80}]})");
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":1}})"),
            R"({"return":{}})");
  EXPECT_EQ(reg.handle(R"({"execute":"list_hostfwd"})"), R"({"entries":[]})");
  // A second remove of the same id, and ids that name nothing.
  const std::string bad_id = err("bad request: remove_hostfwd: bad arguments.id");
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":1}})"), bad_id);
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd"})"), bad_id);
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":"1"}})"), bad_id);
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":0}})"), bad_id);
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":-1}})"), bad_id);
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":1e300}})"), bad_id);
}

TEST(Api, IdsStartAtOneAndAreNeverReused) {
  FakeBinder b;
  ForwardRegistry reg(v4_only(), b);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":8080,"guest_port":80)")),
            R"({"return":{"id":1}})");
  EXPECT_EQ(reg.handle(add(R"("proto":"udp","host_port":5353,"guest_port":53)")),
            R"({"return":{"id":2}})");
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":2}})"),
            R"({"return":{}})");
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_addr":"127.0.0.1","host_port":9090,"guest_addr":"10.0.2.5","guest_port":90)")),
            R"({"return":{"id":3}})");
  EXPECT_EQ(reg.handle(R"({"execute":"list_hostfwd","arguments":{}})"),
            R"({"entries":[{"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"10.0.2.100","guest_port":80},)"
            R"({"id":3,"proto":"tcp","host_addr":"127.0.0.1","host_port":9090,"guest_addr":"10.0.2.5","guest_port":90}]})");
  // JSON has one number type: 3.0 names id 3.
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":3.0}})"),
            R"({"return":{}})");
  auto l = reg.list();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].first, 1);
}

TEST(Api, BinderSeesListenersAndErrorsReachTheReply) {
  FakeBinder b;
  ApiConfig cfg;
  cfg.guest4 = boost::asio::ip::make_address_v4("10.0.2.200");
  ForwardRegistry reg(cfg, b);
  b.fail_next_open("bind 0.0.0.0:80: Permission denied");
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":80,"guest_port":80)")),
            err("bad request: add_hostfwd: slirp_add_hostxfwd failed: bind 0.0.0.0:80: "
                "Permission denied"));
  // A failed add uses no id.
  EXPECT_EQ(reg.handle(add(R"("proto":"udp","host_addr":"127.0.0.1","host_port":5353,"guest_port":53)")),
            R"({"return":{"id":1}})");
  auto opened = b.opened();
  ASSERT_EQ(opened.size(), 2u);
  Listener want{Proto::udp, make_address("127.0.0.1"), 5353, make_address("10.0.2.200"), 53, false};
  EXPECT_EQ(opened[1], want);
  EXPECT_EQ(b.open_now().size(), 1u);
  EXPECT_TRUE(reg.remove(1));
  EXPECT_TRUE(b.open_now().empty());
  EXPECT_FALSE(reg.remove(1));
}

TEST(Api, DualStackForward) {
  FakeBinder b;
  ForwardRegistry reg(dual(), b);
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":8080,"guest_port":80)")),
            R"({"return":{"id":1}})");
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp6","host_addr":"::1","host_port":8082,"guest_port":1080)")),
            R"({"return":{"id":2}})");
  EXPECT_EQ(reg.handle(R"({"execute":"list_hostfwd"})"),
            R"({"entries":[{"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_addr6":"::","host_port":8080,"guest_addr":"10.0.2.100","guest_addr6":"fd00:a1e1:1724:1a::100","guest_port":80},)"
            R"({"id":2,"proto":"tcp","host_addr6":"::1","host_port":8082,"guest_addr6":"fd00:a1e1:1724:1a::100","guest_port":1080}]})");
  auto opened = b.opened();
  ASSERT_EQ(opened.size(), 3u);
  EXPECT_FALSE(opened[0].v6only);
  EXPECT_EQ(opened[0].host_addr, make_address("0.0.0.0"));
  EXPECT_TRUE(opened[1].v6only);
  EXPECT_EQ(opened[1].host_addr, make_address("::"));
  EXPECT_EQ(opened[2].guest_addr, make_address("fd00:a1e1:1724:1a::100"));
  EXPECT_EQ(reg.handle(R"({"execute":"remove_hostfwd","arguments":{"id":1}})"), R"({"return":{}})");
  EXPECT_EQ(b.closed().size(), 2u);
  EXPECT_EQ(b.open_now().size(), 1u);
}

TEST(Api, HalfFailedDualStackForwardIsRolledBack) {
  FakeBinder b;
  ForwardRegistry reg(dual(), b);
  // The IPv4 listener opens, the IPv6 one fails: the IPv4 one is closed again.
  b.fail_when([](const Listener& l) -> std::optional<std::string> {
    if (l.host_addr.is_v6()) return "bind [::]:8080: Address already in use";
    return std::nullopt;
  });
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp","host_port":8080,"guest_port":80)")),
            err("bad request: add_hostfwd: slirp_add_hostxfwd failed: bind [::]:8080: Address "
                "already in use"));
  EXPECT_EQ(b.opened().size(), 2u);
  EXPECT_EQ(b.closed().size(), 1u);
  EXPECT_TRUE(b.open_now().empty());
  EXPECT_EQ(reg.handle(R"({"execute":"list_hostfwd"})"), R"({"entries":[]})");
  // IPv4 alone still works, and takes id 1.
  EXPECT_EQ(reg.handle(add(R"("proto":"tcp4","host_port":8080,"guest_port":80)")),
            R"({"return":{"id":1}})");
}

TEST(Api, DestructorClosesEverything) {
  FakeBinder b;
  {
    ForwardRegistry reg(dual(), b);
    EXPECT_TRUE(reg.add(HostFwd{Proto::udp, boost::asio::ip::make_address_v4("0.0.0.0"),
                                boost::asio::ip::make_address_v4("10.0.2.100"),
                                boost::asio::ip::make_address_v6("::"),
                                boost::asio::ip::make_address_v6("fd00::100"), 53, 53}));
    EXPECT_EQ(b.open_now().size(), 2u);
  }
  EXPECT_TRUE(b.open_now().empty());
  EXPECT_EQ(b.closed().size(), 2u);
}

TEST(Api, RequestWithTrailingNewlineOrSpaces) {
  FakeBinder b;
  ForwardRegistry reg(v4_only(), b);
  EXPECT_EQ(reg.handle("  {\"execute\":\"list_hostfwd\"}\n"), R"({"entries":[]})");
  EXPECT_EQ(reg.handle("{\"execute\":\"list_hostfwd\"}\r\n"), R"({"entries":[]})");
}
