// Wire-layer parsers and the address plan: known-answer checks on real
// frame bytes, and rejection of every kind of malformed header.
#include "netstack/core/config.hpp"
#include "netstack/core/flow_index.hpp"
#include "netstack/wire/checksum.hpp"
#include "netstack/wire/ipv4.hpp"
#include "netstack/wire/tcp.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace ferry;

namespace {
// The IPv4 header of an echo request from the guest to the gateway, as a
// container's `ping 10.0.2.2` sends it (checksum 0xd616 by RFC 1071).
const uint8_t kIpHeader[] = {0x45, 0x00, 0x00, 0x54, 0x4c, 0x2d, 0x40, 0x00, 0x40, 0x01,
                             0xd6, 0x16, 0x0a, 0x00, 0x02, 0x64, 0x0a, 0x00, 0x02, 0x02};

uint16_t reference_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}
}  // namespace

TEST(Checksum, KnownIpHeaderVerifies) {
  EXPECT_EQ(wire::checksum(kIpHeader, sizeof kIpHeader), 0);
}

TEST(Checksum, MatchesReferenceForAllLengthsAndAlignments) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(3000);
  for (auto& b : buf) b = uint8_t(rng());
  for (size_t off = 0; off < 8; ++off)
    for (size_t len = 0; len < 200; ++len)
      ASSERT_EQ(wire::checksum(buf.data() + off, len), reference_checksum(buf.data() + off, len))
          << "off " << off << " len " << len;
  EXPECT_EQ(wire::checksum(buf.data(), buf.size()), reference_checksum(buf.data(), buf.size()));
}

TEST(Checksum, ChainedPartsEqualWhole) {
  std::vector<uint8_t> buf(1000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = uint8_t(i * 7);
  uint64_t s = wire::csum_partial(buf.data(), 400, 0);
  s = wire::csum_partial(buf.data() + 400, 600, s);
  EXPECT_EQ(wire::csum_fold(s), wire::checksum(buf.data(), buf.size()));
}

TEST(Ipv4, ParsesEchoRequestHeader) {
  uint8_t pkt[84] = {};
  std::memcpy(pkt, kIpHeader, sizeof kIpHeader);
  auto h = wire::Ip4Hdr::parse(pkt);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->total_len, 84);
  EXPECT_EQ(h->proto, wire::Ip4Hdr::kIcmp);
  EXPECT_EQ(h->src, wire::Ip4(10, 0, 2, 100));
  EXPECT_EQ(h->dst, wire::Ip4(10, 0, 2, 2));
  EXPECT_FALSE(h->is_fragment());
}

TEST(Ipv4, RejectsMalformedHeaders) {
  uint8_t pkt[84] = {};
  std::memcpy(pkt, kIpHeader, sizeof kIpHeader);
  EXPECT_EQ(wire::Ip4Hdr::parse(std::span(pkt, 19)).error(), wire::Drop::short_frame);
  auto bad = [&](auto mutate) {
    uint8_t c[84];
    std::memcpy(c, pkt, sizeof c);
    mutate(c);
    return wire::Ip4Hdr::parse(c).error();
  };
  EXPECT_EQ(bad([](uint8_t* c) { c[0] = 0x65; }), wire::Drop::bad_ip_version);
  EXPECT_EQ(bad([](uint8_t* c) { c[0] = 0x44; }), wire::Drop::bad_ip_header);
  EXPECT_EQ(bad([](uint8_t* c) { c[0] = 0x4f; c[3] = 0x30; }), wire::Drop::bad_ip_length);
  EXPECT_EQ(bad([](uint8_t* c) { c[3] = 0x60; }), wire::Drop::bad_ip_length);  // 96 > 84 bytes
  EXPECT_EQ(bad([](uint8_t* c) { c[8] = 0x3f; }), wire::Drop::bad_ip_checksum);
}

TEST(Tcp, ParsesOptionsAndStopsAtMalformedOnes) {
  // SYN with MSS 65480, SACK-permitted, timestamps, NOP, wscale 7.
  const uint8_t syn[] = {0xa0, 0x00, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xff, 0xd7, 0, 0, 0, 0,
                         2, 4, 0xff, 0xc8, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  auto h = wire::TcpHdr::parse(syn);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->mss, 65480);
  EXPECT_EQ(h->wscale, 7);
  EXPECT_TRUE(h->sack_ok);
  EXPECT_TRUE(h->has(wire::TcpHdr::kSyn));
  uint8_t bad[sizeof syn];
  std::memcpy(bad, syn, sizeof syn);
  bad[21] = 40;  // option length beyond the header
  auto b = wire::TcpHdr::parse(bad);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->mss, -1);
  bad[12] = 0x40;  // data offset 16 bytes < 20
  EXPECT_FALSE(wire::TcpHdr::parse(bad));
  bad[12] = 0xf0;  // 60-byte header in a 40-byte segment
  EXPECT_FALSE(wire::TcpHdr::parse(bad));
}

TEST(Tcp, SequenceComparisonWraps) {
  EXPECT_TRUE(wire::seq_lt(0xfffffff0u, 0x10u));
  EXPECT_TRUE(wire::seq_gt(0x10u, 0xfffffff0u));
  EXPECT_TRUE(wire::seq_le(5u, 5u));
}

TEST(Config, CidrLikeSlirp4netns) {
  core::NetConfig c;
  ASSERT_TRUE(core::apply_cidr(c, "10.0.135.128/25"));
  EXPECT_EQ(core::to_string(c.guest), "10.0.135.228");
  EXPECT_EQ(core::to_string(c.gateway), "10.0.135.130");
  EXPECT_EQ(core::to_string(c.dns), "10.0.135.131");
  EXPECT_EQ(core::to_string(c.gateway_mac), "52:55:0a:00:87:82");
  EXPECT_EQ(core::apply_cidr(c, "foo").error(), "invalid CIDR: foo");
  EXPECT_EQ(core::apply_cidr(c, "10.0.2.0").error(), "invalid CIDR: 10.0.2.0");
  EXPECT_EQ(core::apply_cidr(c, "10.0.2.100/26").error(), "prefix length needs to be 1-25");
  EXPECT_EQ(core::apply_cidr(c, "10.0.2.100/24").error(),
            "CIDR needs to be a network address like 10.0.2.0/24, not like 10.0.2.100/24");
}

TEST(Config, MacParsing) {
  auto m = core::parse_mac("02:ab:cd:00:11:ff");
  ASSERT_TRUE(m);
  EXPECT_EQ(core::to_string(*m), "02:ab:cd:00:11:ff");
  EXPECT_FALSE(core::parse_mac("02:ab:cd:00:11"));
  EXPECT_FALSE(core::parse_mac("02-ab-cd-00-11-ff"));
  EXPECT_FALSE(core::parse_mac("0g:ab:cd:00:11:ff"));
}

TEST(FlowIndex, InsertFindEraseUnderChurn) {
  core::FlowIndex idx(1000);
  std::map<uint32_t, int32_t> model;
  std::mt19937 rng(1);
  auto key = [](uint32_t i) {
    return core::FlowKey{wire::Ip6::mapped(wire::Ip4(0x0a000264)), wire::Ip6::mapped(wire::Ip4(0x01020304)),
                         uint16_t(i), 80, 6};
  };
  for (int step = 0; step < 20000; ++step) {
    uint32_t k = rng() % 1500;
    if (model.count(k)) {
      ASSERT_EQ(idx.find(key(k)), model[k]);
      idx.erase(key(k));
      model.erase(k);
    } else if (model.size() < 1000) {
      idx.insert(key(k), int32_t(step));
      model[k] = step;
    }
    uint32_t probe = rng() % 1500;
    ASSERT_EQ(idx.find(key(probe)), model.count(probe) ? model[probe] : core::FlowIndex::kEmpty);
  }
}
