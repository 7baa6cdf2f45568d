// Unit tests for ferry-dns's config parser and answer logic
// (aardvark-dns/config.hpp, resolver.hpp): config files as netavark writes
// them, bad lines, and every answering rule, without a socket.
#include "config.hpp"
#include "resolver.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace ferry::dns;

namespace {

IpAddress ip(const char* s) { return boost::asio::ip::make_address(s); }
Name N(const char* s) { return Name::from_text(s).value(); }

NetworkConfig net(const char* file, const char* text) {
  auto r = parse_network_file(file, text, file);
  EXPECT_TRUE(r.diagnostics.empty()) << r.diagnostics[0].to_string();
  return r.network.value();
}

// Two ordinary networks (c1 and c3 share "both"), an internal one.
Resolver make() {
  std::vector<NetworkConfig> nets;
  nets.push_back(net("podman1", "10.89.0.1,fd00::1\n"
                                "c1id 10.89.0.2 fd00::2 web,WebAlias\n"
                                "c2id 10.89.0.3  db 192.0.2.99\n"));
  nets.push_back(net("other", "10.90.0.1 192.0.2.10,192.0.2.11\n"
                              "c3id 10.90.0.2  secret\n"));
  nets.push_back(net("closed%int", "10.91.0.1\n"
                                   "c4id 10.91.0.2  lonely\n"));
  return Resolver(std::move(nets), ".dns.podman");
}

const std::vector<IpAddress> kHost = {ip("127.0.0.53")};

Decision ask(const Resolver& r, const char* src, const char* name, uint16_t type) {
  return r.resolve(ip(src), Question{N(name), type, kClassIN}, kHost);
}

std::vector<std::string> addrs(const Decision& d) {
  std::vector<std::string> out;
  for (const auto& rec : d.records) {
    if (rec.type == rrtype::A) out.push_back(boost::asio::ip::address_v4({rec.address[0], rec.address[1],
                                                                        rec.address[2], rec.address[3]})
                                                 .to_string());
    if (rec.type == rrtype::PTR) out.push_back(rec.target.to_text());
  }
  return out;
}

}  // namespace

TEST(Config, ParsesNetavarkFiles) {
  auto r = parse_network_file("podman1", "10.89.0.1,fd00::1 1.1.1.1\nabc 10.89.0.2,10.89.0.4  a,B.\n", "p");
  ASSERT_TRUE(r.network);
  EXPECT_TRUE(r.diagnostics.empty());
  const auto& n = *r.network;
  EXPECT_EQ(n.name, "podman1");
  EXPECT_FALSE(n.internal);
  EXPECT_EQ(n.listen_ips.size(), 2u);
  EXPECT_EQ(n.dns_servers, std::vector<IpAddress>{ip("1.1.1.1")});
  ASSERT_EQ(n.containers.size(), 1u);
  EXPECT_EQ(n.containers[0].ipv4.size(), 2u);
  EXPECT_TRUE(n.containers[0].ipv6.empty());
  EXPECT_EQ(n.containers[0].names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(parse_network_file("x%int", "10.0.0.1\n", "p").network->internal);
  EXPECT_EQ(parse_network_file("x%int", "10.0.0.1\n", "p").network->name, "x");
}

TEST(Config, BadLineReportedWithLineAndSkipped) {
  auto r = parse_network_file("n", "10.0.0.1\nc1 10.0.0.2  good\nc2 not-an-ip  bad\nc3 10.0.0.4\nc4 10.0.0.5  fine\n",
                              "/dir/n");
  ASSERT_TRUE(r.network);
  ASSERT_EQ(r.diagnostics.size(), 2u);
  EXPECT_EQ(r.diagnostics[0].line, 3);
  EXPECT_EQ(r.diagnostics[1].line, 4);
  EXPECT_EQ(r.diagnostics[0].to_string().rfind("/dir/n:3: ", 0), 0u);
  ASSERT_EQ(r.network->containers.size(), 2u);
  EXPECT_EQ(r.network->containers[1].names[0], "fine");
}

TEST(Config, BadFirstLineDropsFile) {
  auto r = parse_network_file("n", "garbage\nc1 10.0.0.2  x\n", "n");
  EXPECT_FALSE(r.network);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].line, 1);
  EXPECT_FALSE(parse_network_file("n", "", "n").network);
  EXPECT_FALSE(parse_network_file("n", "10.0.0.1 a b\n", "n").network);
}

TEST(Config, LoadDirSkipsOwnFiles) {
  auto dir = std::filesystem::temp_directory_path() / ("ferry-dns-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "net1") << "10.0.0.1\nc 10.0.0.2  n1\n";
  std::ofstream(dir / "aardvark.pid") << "123";
  std::ofstream(dir / "broken") << "nope\n";
  auto r = load_dir(dir);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(r.networks.size(), 1u);
  EXPECT_EQ(r.networks[0].name, "net1");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_NE(r.diagnostics[0].file.find("broken"), std::string::npos);
  EXPECT_TRUE(load_dir(dir).dir_missing);
}

TEST(Config, ResolvConf) {
  auto v = parse_resolv_conf("# c\nsearch x\nnameserver 10.0.0.1\nnameserver\tfd00::53\nnameserver bogus\n");
  EXPECT_EQ(v, (std::vector<IpAddress>{ip("10.0.0.1"), ip("fd00::53")}));
}

TEST(Resolver, AnswersOwnNetworkCaseInsensitiveWithSuffixStripped) {
  auto r = make();
  auto d = ask(r, "10.89.0.3", "WEB", rrtype::A);
  EXPECT_EQ(d.kind, Decision::Kind::answer);
  EXPECT_TRUE(d.authoritative);
  EXPECT_EQ(addrs(d), std::vector<std::string>{"10.89.0.2"});
  EXPECT_EQ(d.records[0].ttl, 0u);
  EXPECT_EQ(d.records[0].owner.to_text(), "WEB.");  // owner echoes the question
  EXPECT_EQ(addrs(ask(r, "10.89.0.3", "webalias.dns.podman.", rrtype::A)), std::vector<std::string>{"10.89.0.2"});
  auto six = ask(r, "10.89.0.3", "web", rrtype::AAAA);
  ASSERT_EQ(six.records.size(), 1u);
  EXPECT_EQ(six.records[0].type, rrtype::AAAA);
  // Asked from its IPv6 address too.
  EXPECT_EQ(ask(r, "fd00::2", "db", rrtype::A).records.size(), 1u);
}

TEST(Resolver, KnownNameOtherTypeIsNoData) {
  auto r = make();
  auto d = ask(r, "10.89.0.2", "db", rrtype::AAAA);
  EXPECT_EQ(d.kind, Decision::Kind::answer);
  EXPECT_EQ(d.rcode, Rcode::noerror);
  EXPECT_TRUE(d.records.empty());
  EXPECT_TRUE(ask(r, "10.89.0.2", "db", rrtype::MX).records.empty());
}

TEST(Resolver, OtherNetworksInvisible) {
  auto r = make();
  auto d = ask(r, "10.89.0.2", "secret.dns.podman", rrtype::A);
  EXPECT_EQ(d.kind, Decision::Kind::answer);
  EXPECT_EQ(d.rcode, Rcode::nxdomain);
  auto bare = ask(r, "10.89.0.2", "secret", rrtype::A);
  EXPECT_EQ(bare.kind, Decision::Kind::forward);  // not ours: goes upstream
  // Unknown source: not answered from any network.
  EXPECT_EQ(ask(r, "192.0.2.1", "web", rrtype::A).kind, Decision::Kind::forward);
  EXPECT_EQ(ask(r, "192.0.2.1", "web.dns.podman", rrtype::A).rcode, Rcode::nxdomain);
}

TEST(Resolver, PtrListsEveryNameOnOwnNetworks) {
  auto r = make();
  auto d = ask(r, "10.89.0.3", "2.0.89.10.in-addr.arpa", rrtype::PTR);
  EXPECT_EQ(addrs(d), (std::vector<std::string>{"web.", "webalias."}));
  EXPECT_EQ(d.records[0].owner.to_text(), "2.0.89.10.in-addr.arpa.");
  auto v6 = ask(r, "10.89.0.3",
                "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", rrtype::PTR);
  EXPECT_EQ(addrs(v6).size(), 2u);
  // Another network's address is not ours to answer.
  EXPECT_EQ(ask(r, "10.89.0.3", "2.0.90.10.in-addr.arpa", rrtype::PTR).kind, Decision::Kind::forward);
  EXPECT_FALSE(Resolver::parse_reverse_name("1.2.3.in-addr.arpa"));
  EXPECT_FALSE(Resolver::parse_reverse_name("256.2.3.4.in-addr.arpa"));
  EXPECT_EQ(Resolver::parse_reverse_name("4.3.2.1.in-addr.arpa")->to_string(), "1.2.3.4");
}

TEST(Resolver, ForwardOrderContainerNetworkHost) {
  auto r = make();
  auto c = ask(r, "10.89.0.3", "example.com", rrtype::A);
  EXPECT_EQ(c.kind, Decision::Kind::forward);
  EXPECT_EQ(c.upstreams, std::vector<IpAddress>{ip("192.0.2.99")});
  auto n = ask(r, "10.90.0.2", "example.com", rrtype::A);
  EXPECT_EQ(n.upstreams, (std::vector<IpAddress>{ip("192.0.2.10"), ip("192.0.2.11")}));
  auto h = ask(r, "10.89.0.2", "example.com", rrtype::A);
  EXPECT_EQ(h.upstreams, kHost);
}

TEST(Resolver, InternalNetworkGetsNoUpstream) {
  auto r = make();
  auto d = ask(r, "10.91.0.2", "example.com", rrtype::A);
  EXPECT_EQ(d.kind, Decision::Kind::answer);
  EXPECT_EQ(d.rcode, Rcode::nxdomain);
  EXPECT_EQ(addrs(ask(r, "10.91.0.2", "lonely", rrtype::A)), std::vector<std::string>{"10.91.0.2"});
}

TEST(Resolver, ListenIpsDeduplicated) {
  auto r = make();
  EXPECT_EQ(r.listen_ips().size(), 4u);
}

TEST(HandleQuery, DropsResponsesAndRunts) {
  auto r = make();
  Bytes runt{1, 2, 3};
  EXPECT_EQ(handle_query(r, runt, ip("10.89.0.2"), false, kHost).kind, Outcome::Kind::drop);
  auto q = build_query(5, N("web"), rrtype::A, true);
  q[2] |= 0x80;  // QR
  EXPECT_EQ(handle_query(r, q, ip("10.89.0.2"), false, kHost).kind, Outcome::Kind::drop);
}

TEST(HandleQuery, MalformedIsFormErrNotimpForOtherOpcodes) {
  auto r = make();
  auto q = build_query(6, N("web"), rrtype::A, true);
  q.resize(q.size() - 3);  // cut the question
  auto o = handle_query(r, q, ip("10.89.0.2"), false, kHost);
  ASSERT_EQ(o.kind, Outcome::Kind::reply);
  auto m = parse(o.reply).value();
  EXPECT_EQ(m.header.id, 6);
  EXPECT_EQ(m.header.rcode, static_cast<uint8_t>(Rcode::formerr));

  auto upd = build_query(7, N("web"), rrtype::A, true);
  upd[2] = static_cast<uint8_t>(upd[2] | (5 << 3));  // opcode UPDATE
  auto ou = handle_query(r, upd, ip("10.89.0.2"), false, kHost);
  EXPECT_EQ(parse(ou.reply).value().header.rcode, static_cast<uint8_t>(Rcode::notimp));

  auto two = build_query(8, N("web"), rrtype::A, true);
  two[5] = 0;  // qdcount 0
  two.resize(kHeaderSize);
  auto ot = handle_query(r, two, ip("10.89.0.2"), false, kHost);
  EXPECT_EQ(parse(ot.reply).value().header.rcode, static_cast<uint8_t>(Rcode::formerr));
}

TEST(HandleQuery, LocalAnswerAndForwardAndServfail) {
  auto r = make();
  auto o = handle_query(r, build_query(9, N("web"), rrtype::A, true), ip("10.89.0.3"), false, kHost);
  ASSERT_EQ(o.kind, Outcome::Kind::reply);
  auto m = parse(o.reply).value();
  EXPECT_EQ(m.answers.size(), 1u);
  EXPECT_TRUE(m.header.aa);

  auto f = handle_query(r, build_query(10, N("example.com"), rrtype::A, true), ip("10.89.0.2"), false, kHost);
  ASSERT_EQ(f.kind, Outcome::Kind::forward);
  EXPECT_EQ(f.upstreams, kHost);
  auto sf = finish_forward(f.query, std::nullopt, false);
  EXPECT_EQ(parse(sf).value().header.rcode, static_cast<uint8_t>(Rcode::servfail));

  // No upstream at all: SERVFAIL at once.
  auto none = handle_query(r, build_query(11, N("example.com"), rrtype::A, true), ip("10.89.0.2"), false, {});
  ASSERT_EQ(none.kind, Outcome::Kind::reply);
  EXPECT_EQ(parse(none.reply).value().header.rcode, static_cast<uint8_t>(Rcode::servfail));
}

TEST(HandleQuery, RelayedAnswerTruncatedForUdpOnly) {
  auto r = make();
  auto f = handle_query(r, build_query(12, N("example.com"), rrtype::TXT, true), ip("10.89.0.2"), false, kHost);
  ASSERT_EQ(f.kind, Outcome::Kind::forward);
  Bytes big = build_query(12, N("example.com"), rrtype::TXT, true);
  big[2] |= 0x80;
  big.resize(900, 0);  // pretend a 900-octet answer
  auto udp = finish_forward(f.query, big, false);
  auto m = parse(udp).value();
  EXPECT_TRUE(m.header.tc);
  EXPECT_EQ(m.header.id, 12);
  EXPECT_EQ(finish_forward(f.query, big, true), big);  // TCP: relayed unchanged
}
