// Unit tests for ferry-dns's wire format (aardvark-dns/dns_wire.hpp): checked
// parse of good and hostile messages, name compression both ways, EDNS0 and
// truncation rules.
#include "dns_wire.hpp"

#include <gtest/gtest.h>

using namespace ferry::dns;

namespace {

Name N(const char* s) { return Name::from_text(s).value(); }

Bytes hex(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<uint8_t>(x));
  return b;
}

// A real query as dig sends it: "example.com A" with EDNS0 (payload 1232, a
// COOKIE option).
const Bytes kDigQuery = hex({0x2a, 0x2b, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x07, 'e',
                             'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00, 0x00, 0x01, 0x00, 0x01,
                             0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a,
                             0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8});

}  // namespace

TEST(DnsWire, ParsesDigQueryWithEdns) {
  auto r = parse(kDigQuery);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const Message& m = r.value();
  EXPECT_EQ(m.header.id, 0x2a2b);
  EXPECT_FALSE(m.header.qr);
  EXPECT_TRUE(m.header.rd);
  EXPECT_TRUE(m.header.ad);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name.to_text(), "example.com.");
  EXPECT_EQ(m.questions[0].qtype, rrtype::A);
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->udp_payload, 1232);
  EXPECT_EQ(m.edns->version, 0);
  EXPECT_EQ(m.edns->options.size(), 12u);
  EXPECT_TRUE(m.additional.empty());  // OPT lifted out
  EXPECT_EQ(udp_limit(m), 1232u);
}

TEST(DnsWire, RoundTripsBuiltQuery) {
  Edns e;
  e.udp_payload = 4096;
  e.dnssec_ok = true;
  auto q = build_query(7, N("Web.Example.ORG"), rrtype::AAAA, true, e);
  auto r = parse(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().questions[0].name.to_text(), "Web.Example.ORG.");
  EXPECT_EQ(r.value().questions[0].qtype, rrtype::AAAA);
  EXPECT_TRUE(r.value().edns->dnssec_ok);
  EXPECT_EQ(r.value().edns->udp_payload, 4096);
}

TEST(DnsWire, RejectsShortAndTruncated) {
  EXPECT_EQ(parse(hex({0, 1, 2})).error(), WireError::short_header);
  auto q = build_query(1, N("a.b"), rrtype::A, true);
  for (size_t cut = kHeaderSize; cut < q.size(); ++cut) {
    auto r = parse(std::span<const uint8_t>(q.data(), cut));
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
  }
}

TEST(DnsWire, FollowsBackwardPointerAndRejectsLoops) {
  // Header with qdcount 2: "a.b" then "c" + pointer to offset 12.
  Bytes m = hex({0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 'a', 1, 'b', 0, 0, 1, 0, 1, 1, 'c', 0xC0, 12, 0, 1, 0, 1});
  auto r = parse(m);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r.value().questions[1].name.to_text(), "c.a.b.");

  // A pointer to itself.
  Bytes loop = hex({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1});
  EXPECT_EQ(parse(loop).error(), WireError::bad_pointer);
  // A forward pointer.
  Bytes fwd = hex({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 1, 0, 1});
  EXPECT_EQ(parse(fwd).error(), WireError::bad_pointer);
}

TEST(DnsWire, RejectsBadLabels) {
  Bytes ext = hex({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1});
  EXPECT_EQ(parse(ext).error(), WireError::bad_label_type);
  // 5 labels of 63 octets: 320 octets, over the 255 limit.
  Bytes longname = hex({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
  for (int i = 0; i < 5; ++i) {
    longname.push_back(63);
    longname.insert(longname.end(), 63, 'x');
  }
  longname.insert(longname.end(), {0, 0, 1, 0, 1});
  EXPECT_EQ(parse(longname).error(), WireError::name_too_long);
  EXPECT_FALSE(Name::from_text(std::string(64, 'a')).has_value());
}

TEST(DnsWire, RejectsHugeCountsCheaply) {
  Bytes m = hex({0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0});
  EXPECT_EQ(parse(m).error(), WireError::truncated);
}

TEST(DnsWire, TwoOptRecordsAreFormErr) {
  Bytes m = hex({0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 1, 'a', 0, 0, 1, 0, 1,  //
                 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0,                           //
                 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(parse(m).error(), WireError::bad_opt);
}

TEST(DnsWire, CompressesRepeatedNamesOnEmit) {
  auto q = parse(build_query(9, N("ctr.dns.podman"), rrtype::A, true)).value();
  std::vector<LocalRecord> answers(2);
  for (int i = 0; i < 2; ++i) {
    answers[i].owner = N("CTR.dns.podman");  // case differs: still compressed
    answers[i].type = rrtype::A;
    answers[i].address = {10, 0, 0, static_cast<uint8_t>(i + 1)};
  }
  auto out = build_response(q, Rcode::noerror, true, answers, 512);
  // header 12 + question (16 + 4) + 2 answers of (2 pointer + 10 + 4).
  EXPECT_EQ(out.size(), 12u + 20u + 2u * 16u);
  auto r = parse(out);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().header.qr);
  EXPECT_TRUE(r.value().header.aa);
  ASSERT_EQ(r.value().answers.size(), 2u);
  EXPECT_EQ(r.value().answers[1].name.to_text(), "ctr.dns.podman.");  // pointer back to the question
  EXPECT_EQ(r.value().answers[1].ttl, 0u);
  EXPECT_EQ(r.value().answers[1].rdata, (Bytes{10, 0, 0, 2}));
}

TEST(DnsWire, PtrTargetIsCompressedAgainstEarlierNames) {
  auto q = parse(build_query(1, N("2.0.89.10.in-addr.arpa"), rrtype::PTR, true)).value();
  LocalRecord a;
  a.owner = q.questions[0].name;
  a.type = rrtype::PTR;
  a.target = N("web");
  LocalRecord b = a;
  b.target = N("web");
  std::vector<LocalRecord> v{a, b};
  auto out = build_response(q, Rcode::noerror, true, v, 512);
  auto r = parse(out);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().answers.size(), 2u);
  EXPECT_EQ(r.value().answers[0].rdata.size(), 5u);  // "\3web\0"
  EXPECT_EQ(r.value().answers[1].rdata.size(), 2u);  // pointer
}

TEST(DnsWire, TruncatesOverClientLimit) {
  auto q = parse(build_query(3, N("big"), rrtype::A, true)).value();
  std::vector<LocalRecord> many(40);
  for (size_t i = 0; i < many.size(); ++i) {
    many[i].owner = N("big");
    many[i].type = rrtype::A;
    many[i].address = {10, 0, 0, static_cast<uint8_t>(i)};
  }
  auto out = build_response(q, Rcode::noerror, true, many, 512);
  auto r = parse(out);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().header.tc);
  EXPECT_TRUE(r.value().answers.empty());
  EXPECT_EQ(r.value().questions.size(), 1u);
  // Over TCP the same answer fits.
  auto full = parse(build_response(q, Rcode::noerror, true, many, 65535)).value();
  EXPECT_FALSE(full.header.tc);
  EXPECT_EQ(full.answers.size(), 40u);
}

TEST(DnsWire, EdnsEchoedAndBadVers) {
  Edns e;
  e.udp_payload = 4096;
  auto q = parse(build_query(4, N("x"), rrtype::A, true, e)).value();
  auto r = parse(build_response(q, Rcode::nxdomain, true, {}, udp_limit(q))).value();
  ASSERT_TRUE(r.edns.has_value());
  EXPECT_EQ(r.edns->udp_payload, kOurEdnsPayload);
  EXPECT_EQ(r.header.rcode, 3);

  e.version = 1;
  auto q1 = parse(build_query(4, N("x"), rrtype::A, true, e)).value();
  auto r1 = parse(build_response(q1, Rcode::noerror, true, {}, 512)).value();
  ASSERT_TRUE(r1.edns.has_value());
  EXPECT_EQ((r1.edns->ext_rcode << 4) | r1.header.rcode, kRcodeBadVers);
}

TEST(DnsWire, ErrorFromHeaderKeepsId) {
  Header h;
  h.id = 0xbeef;
  h.rd = true;
  auto r = parse(build_error_from_header(h, Rcode::formerr)).value();
  EXPECT_EQ(r.header.id, 0xbeef);
  EXPECT_TRUE(r.header.qr);
  EXPECT_EQ(r.header.rcode, 1);
}

TEST(DnsWire, NameTextEscapes) {
  Name n;
  n.labels = {"a.b", std::string("\x01", 1)};
  EXPECT_EQ(n.to_text(), "a\\.b.\\001.");
  EXPECT_FALSE(n.lookup_key().has_value());
  EXPECT_EQ(N("Foo.BAR.").lookup_key().value(), "foo.bar");
  EXPECT_EQ(Name().to_text(), ".");
}

TEST(DnsWire, CompressesSharedSuffixThroughPointerChains) {
  Encoder e;
  e.header(Header{});
  e.name(N("a.dns.podman"));        // offset 12: 1a 3dns 6podman 0 (14 octets)
  size_t second = e.size();
  e.name(N("b.DNS.podman"));        // 1b + pointer to "dns.podman" at 14
  size_t third = e.size();
  e.name(N("x.b.dns.podman"));      // 1x + pointer to the second name
  Bytes out = e.take();
  EXPECT_EQ(second, 12u + 14u);
  EXPECT_EQ(third - second, 4u);
  EXPECT_EQ(out.size() - third, 4u);
  EXPECT_EQ(out[third + 2], 0xC0);
  EXPECT_EQ(out[third + 3], second);
}
