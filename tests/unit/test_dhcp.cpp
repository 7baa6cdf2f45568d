// The DHCPv4 server (core/dhcp4.hpp) as packet scripts: a client's DISCOVER,
// REQUEST, RELEASE and INFORM go in through the stack as frames on the tap,
// the replies are parsed back (options, addresses, where they are sent), and
// malformed messages are dropped, counted, and harmless.
#include "stack_fixture.hpp"
#include "netstack/core/stack.hpp"
#include "netstack/wire/dhcp4.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace ferry;
using namespace ferry::test;
using wire::Dhcp4;

namespace {

const wire::Ip4 kGw(10, 0, 2, 2), kDns(10, 0, 2, 3), kLease(10, 0, 2, 15), kAny(0, 0, 0, 0), kBcast(255, 255, 255, 255);
const wire::Mac kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

// A client message, built field by field.
struct Msg {
  uint8_t op = Dhcp4::kBootRequest, htype = 1, hlen = 6;
  uint32_t xid = 0x12345678;
  uint16_t flags = 0;
  wire::Ip4 ciaddr, giaddr;
  wire::Mac chaddr{{0x02, 0, 0, 0, 0, 0x64}};
  bool cookie = true;
  Bytes opts;  // raw options, without the end option
  bool end = true;

  Msg& type(uint8_t t) { return opt(Dhcp4::kOptMsgType, {t}); }
  Msg& ip_opt(uint8_t code, wire::Ip4 a) {
    uint8_t b[4];
    a.store(b);
    return opt(code, {b[0], b[1], b[2], b[3]});
  }
  Msg& opt(uint8_t code, Bytes v) {
    opts.push_back(code);
    opts.push_back(uint8_t(v.size()));
    opts.insert(opts.end(), v.begin(), v.end());
    return *this;
  }
  Bytes bytes() const {
    Bytes b(Dhcp4::kOptions, 0);
    b[0] = op;
    b[1] = htype;
    b[2] = hlen;
    wire::store32(b.data() + Dhcp4::kXid, xid);
    wire::store16(b.data() + Dhcp4::kFlags, flags);
    ciaddr.store(b.data() + Dhcp4::kCiaddr);
    giaddr.store(b.data() + Dhcp4::kGiaddr);
    chaddr.store(b.data() + Dhcp4::kChaddr);
    if (cookie) wire::store32(b.data() + Dhcp4::kCookie, Dhcp4::kMagic);
    b.insert(b.end(), opts.begin(), opts.end());
    if (end) b.push_back(Dhcp4::kOptEnd);
    b.resize(std::max<size_t>(b.size(), 300), 0);
    return b;
  }
};

// A reply as the client sees it.
struct Reply {
  Seen frame;
  uint8_t op = 0;
  uint32_t xid = 0;
  uint16_t flags = 0;
  wire::Ip4 ciaddr, yiaddr, siaddr;
  wire::Mac chaddr;
  std::map<uint8_t, Bytes> opts;
  uint8_t type() const { return opts.count(Dhcp4::kOptMsgType) ? opts.at(Dhcp4::kOptMsgType)[0] : 0; }
  bool has(uint8_t code) const { return opts.count(code) > 0; }
  wire::Ip4 ip(uint8_t code) const { return wire::Ip4::load(opts.at(code).data()); }
  uint32_t u32(uint8_t code) const { return wire::load32(opts.at(code).data()); }
  uint16_t u16(uint8_t code) const { return wire::load16(opts.at(code).data()); }
};

Reply parse_reply(const Seen& s) {
  Reply r;
  r.frame = s;
  const auto* p = reinterpret_cast<const uint8_t*>(s.payload.data());
  EXPECT_GE(s.payload.size(), Dhcp4::kMinReply);
  if (s.payload.size() < Dhcp4::kOptions) return r;
  r.op = p[0];
  r.xid = wire::load32(p + Dhcp4::kXid);
  r.flags = wire::load16(p + Dhcp4::kFlags);
  r.ciaddr = wire::Ip4::load(p + Dhcp4::kCiaddr);
  r.yiaddr = wire::Ip4::load(p + Dhcp4::kYiaddr);
  r.siaddr = wire::Ip4::load(p + Dhcp4::kSiaddr);
  r.chaddr = wire::Mac::load(p + Dhcp4::kChaddr);
  EXPECT_EQ(wire::load32(p + Dhcp4::kCookie), Dhcp4::kMagic);
  size_t i = Dhcp4::kOptions;
  bool ended = false;
  while (i < s.payload.size()) {
    if (p[i] == Dhcp4::kOptPad) {
      ++i;
      continue;
    }
    if (p[i] == Dhcp4::kOptEnd) {
      ended = true;
      break;
    }
    const size_t len = p[i + 1];
    r.opts[p[i]] = Bytes(p + i + 2, p + i + 2 + len);
    i += 2 + len;
  }
  EXPECT_TRUE(ended) << "reply options end with option 255";
  return r;
}

class DhcpTest : public StackFixture {
 protected:
  bool vnet = false;

  void SetUp() override { start(); }
  void start() {
    fb.gw_mac = kBroadcastMac;  // clients broadcast
    make_stack(vnet);
  }
  // The client sends `m` from its own address `src` (0.0.0.0 before it has
  // one) to `dst`, from its MAC m.chaddr.
  void send(const Msg& m, wire::Ip4 src = kAny, wire::Ip4 dst = kBcast, uint16_t sport = 68, uint16_t dport = 67) {
    fb.guest_mac = m.chaddr;
    const Bytes b = m.bytes();
    stack->on_frame(fb.udp(src, dst, sport, dport, std::string(b.begin(), b.end())), now);
  }
  Reply reply() {
    EXPECT_EQ(tap.frames.size(), 1u);
    if (tap.frames.empty()) return {};
    Seen s = parse_out(tap.pop(), vnet);
    EXPECT_TRUE(s.udp);
    EXPECT_TRUE(s.l4_checksum_ok);
    EXPECT_EQ(s.ip.src, cfg.gateway);
    EXPECT_EQ(s.eth.src, cfg.gateway_mac);
    if (s.udp) {
      EXPECT_EQ(s.udp->sport, 67);
      EXPECT_EQ(s.udp->dport, 68);
    }
    return parse_reply(s);
  }
  const core::Counters& ctr() const { return stack->counters(); }
  static Msg discover() {
    Msg m;
    m.type(Dhcp4::kDiscover);
    return m;
  }
  static Msg request(wire::Ip4 addr, std::optional<wire::Ip4> server = kGw) {
    Msg m;
    m.type(Dhcp4::kRequest).ip_opt(Dhcp4::kOptRequestedIp, addr);
    if (server) m.ip_opt(Dhcp4::kOptServerId, *server);
    return m;
  }
};

TEST_F(DhcpTest, DiscoverIsOfferedDhcpStartWithTheAddressPlan) {
  Msg m = discover();
  // What udhcpc asks for, plus a client id and a hostname: not acted on.
  m.opt(55, {1, 3, 6, 12, 15, 28, 42}).opt(61, {1, 2, 0, 0, 0, 0, 0x64}).opt(12, {'c', 't', 'r'});
  send(m);
  Reply r = reply();
  EXPECT_EQ(r.op, Dhcp4::kBootReply);
  EXPECT_EQ(r.xid, 0x12345678u);
  EXPECT_EQ(r.type(), Dhcp4::kOffer);
  EXPECT_EQ(r.yiaddr, kLease);
  EXPECT_EQ(r.ciaddr, kAny);
  EXPECT_EQ(r.chaddr, m.chaddr);
  EXPECT_EQ(r.ip(Dhcp4::kOptServerId), kGw);
  EXPECT_EQ(r.ip(Dhcp4::kOptSubnetMask), wire::Ip4(255, 255, 255, 0));
  EXPECT_EQ(r.ip(Dhcp4::kOptRouter), kGw);
  EXPECT_EQ(r.ip(Dhcp4::kOptDns), kDns);
  EXPECT_EQ(r.u32(Dhcp4::kOptLeaseTime), 86400u);
  EXPECT_EQ(r.u16(Dhcp4::kOptMtu), 1500);
  // No broadcast flag: unicast to the offered address at the client's MAC
  // (RFC 2131 section 4.1).
  EXPECT_EQ(r.frame.ip.dst, kLease);
  EXPECT_EQ(r.frame.eth.dst, m.chaddr);
  EXPECT_EQ(ctr().dhcp_offers, 1u);
  EXPECT_TRUE(host.socks.empty()) << "DHCP is answered by ferry, never forwarded";
}

TEST_F(DhcpTest, BroadcastFlagGetsBroadcastReplies) {
  Msg m = discover();
  m.flags = Dhcp4::kBroadcastFlag;
  send(m);
  Reply r = reply();
  EXPECT_EQ(r.frame.ip.dst, kBcast);
  EXPECT_EQ(r.frame.eth.dst, kBroadcastMac);
  EXPECT_EQ(r.flags, Dhcp4::kBroadcastFlag);
  EXPECT_EQ(r.yiaddr, kLease);
}

TEST_F(DhcpTest, RequestAfterOfferIsAcked) {
  send(discover());
  reply();
  send(request(kLease));
  Reply r = reply();
  EXPECT_EQ(r.type(), Dhcp4::kAck);
  EXPECT_EQ(r.yiaddr, kLease);
  EXPECT_EQ(r.ip(Dhcp4::kOptRouter), kGw);
  EXPECT_EQ(r.u32(Dhcp4::kOptLeaseTime), 86400u);
  EXPECT_EQ(r.frame.ip.dst, kLease);
  EXPECT_EQ(ctr().dhcp_acks, 1u);
  wire::Ip4 a;
  EXPECT_TRUE(stack->dhcp().test_lease_of(Msg().chaddr, a));
  EXPECT_EQ(a, kLease);
}

TEST_F(DhcpTest, RequestForAnotherAddressIsNakedByBroadcast) {
  send(request(wire::Ip4(10, 0, 2, 99), std::nullopt));  // INIT-REBOOT with an address from elsewhere
  Reply r = reply();
  EXPECT_EQ(r.type(), Dhcp4::kNak);
  EXPECT_EQ(r.yiaddr, kAny);
  EXPECT_FALSE(r.has(Dhcp4::kOptLeaseTime));
  EXPECT_FALSE(r.has(Dhcp4::kOptRouter));
  EXPECT_TRUE(r.has(Dhcp4::kOptMessage));
  EXPECT_EQ(r.ip(Dhcp4::kOptServerId), kGw);
  EXPECT_EQ(r.frame.ip.dst, kBcast);
  EXPECT_EQ(r.frame.eth.dst, kBroadcastMac);
  EXPECT_EQ(ctr().dhcp_naks, 1u);
  // An address outside the subnet, and ferry's own: NAK too.
  send(request(wire::Ip4(192, 168, 1, 5), std::nullopt));
  EXPECT_EQ(reply().type(), Dhcp4::kNak);
  send(request(kGw, std::nullopt));
  EXPECT_EQ(reply().type(), Dhcp4::kNak);
  EXPECT_EQ(ctr().dhcp_naks, 3u);
}

TEST_F(DhcpTest, InitRebootWithItsOwnAddressIsAcked) {
  send(request(kLease, std::nullopt));
  Reply r = reply();
  EXPECT_EQ(r.type(), Dhcp4::kAck);
  EXPECT_EQ(r.yiaddr, kLease);
}

TEST_F(DhcpTest, RequestNamingAnotherServerIsIgnored) {
  send(discover());
  reply();
  send(request(kLease, wire::Ip4(10, 0, 2, 1)));
  EXPECT_TRUE(tap.frames.empty());
  EXPECT_EQ(ctr().dhcp_ignored, 1u);
}

TEST_F(DhcpTest, RenewalIsUnicastToTheClientAndEchoesCiaddr) {
  send(request(kLease));
  reply();
  Msg m;
  m.type(Dhcp4::kRequest);
  m.ciaddr = kLease;
  send(m, kLease, kGw);  // RENEWING: unicast to the server
  Reply r = reply();
  EXPECT_EQ(r.type(), Dhcp4::kAck);
  EXPECT_EQ(r.ciaddr, kLease);
  EXPECT_EQ(r.yiaddr, kLease);
  EXPECT_EQ(r.frame.ip.dst, kLease);
  EXPECT_EQ(r.frame.eth.dst, m.chaddr);
  // Renewing an address that is not its lease: NAK.
  m.ciaddr = wire::Ip4(10, 0, 2, 40);
  send(m, m.ciaddr, kGw);
  EXPECT_EQ(reply().type(), Dhcp4::kNak);
}

TEST_F(DhcpTest, EachClientGetsItsOwnAddressAndCannotTakeAnothers) {
  send(request(kLease));
  EXPECT_EQ(reply().type(), Dhcp4::kAck);
  Msg other = discover();
  other.chaddr = wire::Mac{{0x02, 0, 0, 0, 0, 0x65}};
  send(other);
  EXPECT_EQ(reply().yiaddr, wire::Ip4(10, 0, 2, 16));
  Msg steal = request(kLease);
  steal.chaddr = other.chaddr;
  send(steal);
  EXPECT_EQ(reply().type(), Dhcp4::kNak);
  // The first client still has its address, and gets it again on DISCOVER.
  send(discover());
  EXPECT_EQ(reply().yiaddr, kLease);
}

TEST_F(DhcpTest, ReleaseFreesTheLease) {
  send(request(kLease));
  reply();
  Msg rel;
  rel.type(Dhcp4::kRelease).ip_opt(Dhcp4::kOptServerId, kGw);
  rel.ciaddr = kLease;
  // A release from another MAC does not free it.
  Msg forged = rel;
  forged.chaddr = wire::Mac{{0x02, 0, 0, 0, 0, 0x66}};
  send(forged, kLease, kGw);
  EXPECT_EQ(ctr().dhcp_releases, 0u);
  send(rel, kLease, kGw);
  EXPECT_TRUE(tap.frames.empty()) << "RELEASE has no reply";
  EXPECT_EQ(ctr().dhcp_releases, 1u);
  wire::Ip4 a;
  EXPECT_FALSE(stack->dhcp().test_lease_of(rel.chaddr, a));
  Msg other = discover();
  other.chaddr = forged.chaddr;
  send(other);
  EXPECT_EQ(reply().yiaddr, kLease) << "the released address is handed out again";
}

TEST_F(DhcpTest, InformGetsOptionsWithoutALease) {
  Msg m;
  m.type(Dhcp4::kInform);
  m.ciaddr = wire::Ip4(10, 0, 2, 100);  // configured by hand (--configure)
  send(m, m.ciaddr, kBcast);
  Reply r = reply();
  EXPECT_EQ(r.type(), Dhcp4::kAck);
  EXPECT_EQ(r.yiaddr, kAny);
  EXPECT_EQ(r.ciaddr, m.ciaddr);
  EXPECT_FALSE(r.has(Dhcp4::kOptLeaseTime));
  EXPECT_EQ(r.ip(Dhcp4::kOptDns), kDns);
  EXPECT_EQ(r.frame.ip.dst, m.ciaddr);
  wire::Ip4 a;
  EXPECT_FALSE(stack->dhcp().test_lease_of(m.chaddr, a));
}

TEST_F(DhcpTest, OptionsFollowTheConfiguration) {
  ASSERT_TRUE(core::apply_cidr(cfg, "172.30.0.0/16"));
  cfg.mtu = 65520;
  cfg.disable_dns = true;
  start();
  send(discover());
  Reply r = reply();
  EXPECT_EQ(r.yiaddr, wire::Ip4(172, 30, 0, 15));
  EXPECT_EQ(r.ip(Dhcp4::kOptSubnetMask), wire::Ip4(255, 255, 0, 0));
  EXPECT_EQ(r.ip(Dhcp4::kOptRouter), wire::Ip4(172, 30, 0, 2));
  EXPECT_EQ(r.ip(Dhcp4::kOptServerId), wire::Ip4(172, 30, 0, 2));
  EXPECT_EQ(r.u16(Dhcp4::kOptMtu), 65520);
  EXPECT_FALSE(r.has(Dhcp4::kOptDns)) << "--disable-dns: no resolver offered";
}

TEST_F(DhcpTest, ALeaseOfOneForPasta) {
  cfg.dhcp_leases = 1;
  start();
  send(discover());
  EXPECT_EQ(reply().yiaddr, kLease);
  Msg other = discover();
  other.chaddr = wire::Mac{{0x02, 0, 0, 0, 0, 0x65}};
  send(other);
  EXPECT_TRUE(tap.frames.empty()) << "no address left";
  EXPECT_EQ(ctr().dhcp_ignored, 1u);
}

TEST_F(DhcpTest, WithVnetHeaderTheChecksumIsComplete) {
  vnet = true;
  start();
  send(discover());
  ASSERT_EQ(tap.frames.size(), 1u);
  Seen s = parse_out(tap.frames[0], true);
  EXPECT_EQ(s.vnet.flags, 0) << "no checksum offload: clients read raw frames";
  EXPECT_TRUE(s.l4_checksum_ok);
  EXPECT_EQ(parse_reply(s).type(), Dhcp4::kOffer);
}

TEST_F(DhcpTest, OptionsInTheOverloadedFileField) {
  Msg m;
  m.opt(Dhcp4::kOptOverload, {1});
  Bytes b = m.bytes();
  // Message type DISCOVER in the file field.
  b[Dhcp4::kFile] = Dhcp4::kOptMsgType;
  b[Dhcp4::kFile + 1] = 1;
  b[Dhcp4::kFile + 2] = Dhcp4::kDiscover;
  b[Dhcp4::kFile + 3] = Dhcp4::kOptEnd;
  fb.guest_mac = m.chaddr;
  stack->on_frame(fb.udp(kAny, kBcast, 68, 67, std::string(b.begin(), b.end())), now);
  EXPECT_EQ(reply().type(), Dhcp4::kOffer);
}

TEST_F(DhcpTest, MalformedMessagesAreDroppedAndCounted) {
  std::vector<Msg> bad;
  Msg m = discover();
  m.op = Dhcp4::kBootReply;
  bad.push_back(m);
  m = discover();
  m.htype = 6;
  bad.push_back(m);
  m = discover();
  m.hlen = 16;
  bad.push_back(m);
  m = discover();
  m.cookie = false;
  bad.push_back(m);
  m = discover();
  m.opt(Dhcp4::kOptRequestedIp, {10, 0, 2});  // wrong length for a known option
  bad.push_back(m);
  m = Msg();
  m.opt(Dhcp4::kOptMsgType, {1, 1});
  bad.push_back(m);
  m = discover();
  m.opt(Dhcp4::kOptOverload, {7});
  bad.push_back(m);
  for (const Msg& b : bad) send(b);
  // An option running past the end of the message.
  Bytes trunc = discover().bytes();
  trunc.resize(Dhcp4::kOptions + 3);
  trunc.push_back(12);
  trunc.push_back(200);
  trunc.push_back('x');
  stack->on_frame(fb.udp(kAny, kBcast, 68, 67, std::string(trunc.begin(), trunc.end())), now);
  // A code without its length byte.
  Bytes cut = discover().bytes();
  cut.resize(Dhcp4::kOptions + 3);
  cut.push_back(12);
  stack->on_frame(fb.udp(kAny, kBcast, 68, 67, std::string(cut.begin(), cut.end())), now);
  // Shorter than the fixed header.
  stack->on_frame(fb.udp(kAny, kBcast, 68, 67, std::string(100, '\x01')), now);
  stack->on_frame(fb.udp(kAny, kBcast, 68, 67, ""), now);
  EXPECT_TRUE(tap.frames.empty());
  EXPECT_EQ(ctr().dropped(wire::Drop::bad_dhcp), bad.size() + 4);
  // The server still works.
  send(discover());
  EXPECT_EQ(reply().type(), Dhcp4::kOffer);
}

TEST_F(DhcpTest, WellFormedButNotServedIsIgnored) {
  Msg bootp;  // no message type: plain BOOTP
  send(bootp);
  Msg decline;
  decline.type(Dhcp4::kDecline).ip_opt(Dhcp4::kOptRequestedIp, kLease);
  send(decline);
  Msg relayed = discover();
  relayed.giaddr = wire::Ip4(10, 0, 2, 50);
  send(relayed);
  Msg offer;
  offer.type(Dhcp4::kOffer);
  send(offer);
  Msg unknown;
  unknown.type(200).opt(224, {1, 2, 3, 4, 5});
  send(unknown);
  EXPECT_TRUE(tap.frames.empty());
  EXPECT_EQ(ctr().dhcp_ignored, 5u);
  EXPECT_EQ(ctr().dropped(wire::Drop::bad_dhcp), 0u);
}

TEST_F(DhcpTest, MissingEndOptionIsTolerated) {
  Msg m = discover();
  m.end = false;
  Bytes b = m.bytes();
  b.resize(Dhcp4::kOptions + 3);  // exactly the message type option, no end, no padding
  fb.guest_mac = m.chaddr;
  stack->on_frame(fb.udp(kAny, kBcast, 68, 67, std::string(b.begin(), b.end())), now);
  EXPECT_EQ(reply().type(), Dhcp4::kOffer);
}

TEST_F(DhcpTest, OnlyClientToServerPortsToBroadcastOrGatewayAreDhcp) {
  send(discover(), kAny, kGw);  // to the gateway: served
  EXPECT_EQ(reply().type(), Dhcp4::kOffer);
  send(discover(), kAny, kBcast, 68, 68);  // wrong destination port: not DHCP
  send(discover(), kAny, kBcast, 1234, 67);  // wrong source port
  EXPECT_TRUE(tap.frames.empty());
  EXPECT_EQ(ctr().dhcp_offers, 1u);
  EXPECT_EQ(ctr().dropped(wire::Drop::bad_ip_address), 2u) << "broadcast UDP that is not DHCP goes nowhere";
  // To a remote address on port 67: an ordinary UDP flow.
  send(discover(), wire::Ip4(10, 0, 2, 100), wire::Ip4(192, 0, 2, 9));
  EXPECT_EQ(host.socks.size(), 1u);
  EXPECT_EQ(ctr().dhcp_offers, 1u);
}

TEST(Dhcp4Wire, ParseReadsTheFields) {
  Msg m;
  m.xid = 0xdeadbeef;
  m.flags = Dhcp4::kBroadcastFlag;
  m.ciaddr = wire::Ip4(10, 0, 2, 15);
  m.type(Dhcp4::kRequest).ip_opt(Dhcp4::kOptRequestedIp, wire::Ip4(10, 0, 2, 16)).ip_opt(Dhcp4::kOptServerId, kGw);
  m.type(Dhcp4::kDiscover);  // a repeated option: the first counts
  const Bytes b = m.bytes();
  auto d = Dhcp4::parse(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->xid, 0xdeadbeefu);
  EXPECT_TRUE(d->broadcast());
  EXPECT_EQ(d->ciaddr, wire::Ip4(10, 0, 2, 15));
  EXPECT_EQ(d->chaddr, m.chaddr);
  EXPECT_EQ(d->msg_type, Dhcp4::kRequest);
  EXPECT_EQ(d->requested_ip, wire::Ip4(10, 0, 2, 16));
  EXPECT_EQ(d->server_id, kGw);
  // Every truncation of a valid message is either parsed or refused, and
  // anything shorter than the fixed header is refused.
  for (size_t n = 0; n < b.size(); ++n) {
    auto t = Dhcp4::parse(std::span<const uint8_t>(b.data(), n));
    if (n < Dhcp4::kOptions) {
      EXPECT_FALSE(t) << n;
    }
  }
}

}  // namespace
