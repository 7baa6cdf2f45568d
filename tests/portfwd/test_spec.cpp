// Tests of the pasta port-spec parser (portfwd/spec.hpp): every form of the
// grammar, exclusions, the direction of -T/-U, and the exact error texts.
#include "portfwd/spec.hpp"

#include <gtest/gtest.h>

using namespace ferry::portfwd;
using boost::asio::ip::make_address;

namespace {

OptionSpec ok(char letter, std::string_view v) {
  auto r = parse_port_spec(letter, v);
  EXPECT_TRUE(r.has_value()) << v << ": " << (r ? "" : r.error());
  return r ? *r : OptionSpec{};
}

std::string err(char letter, std::string_view v) {
  auto r = parse_port_spec(letter, v);
  EXPECT_FALSE(r.has_value()) << v << " was accepted";
  return r ? std::string() : r.error();
}

SpecForward fwd(PortRange host, PortRange container, Proto p = Proto::tcp,
                Direction d = Direction::inbound) {
  SpecForward f;
  f.proto = p;
  f.direction = d;
  f.host = host;
  f.container = container;
  return f;
}

}  // namespace

TEST(PortSpec, Keywords) {
  EXPECT_EQ(ok('t', "none").mode, Mode::none);
  EXPECT_TRUE(ok('t', "none").forwards.empty());
  EXPECT_EQ(ok('u', "auto").mode, Mode::auto_);
  EXPECT_TRUE(ok('T', "auto").forwards.empty());
  auto all = ok('t', "all");
  EXPECT_EQ(all.mode, Mode::all);
  ASSERT_EQ(all.forwards.size(), 1u);
  EXPECT_EQ(all.forwards[0], fwd({1, 49151}, {1, 49151}));
}

TEST(PortSpec, SinglePortAndRange) {
  auto s = ok('t', "80");
  EXPECT_EQ(s.mode, Mode::spec);
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0], fwd({80, 80}, {80, 80}));
  EXPECT_FALSE(s.forwards[0].bind_addr.has_value());

  s = ok('u', "8000-8010");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0], fwd({8000, 8010}, {8000, 8010}, Proto::udp));
  EXPECT_EQ(s.forwards[0].host.size(), 11u);

  s = ok('t', "1-65535");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].host, (PortRange{1, 65535}));
}

TEST(PortSpec, Translation) {
  auto s = ok('t', "8080:80");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0], fwd({8080, 8080}, {80, 80}));
  s = ok('t', "8000-8010:9000-9010");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0], fwd({8000, 8010}, {9000, 9010}));
}

TEST(PortSpec, CommaList) {
  auto s = ok('t', "22,80-81,443:8443");
  ASSERT_EQ(s.forwards.size(), 3u);
  EXPECT_EQ(s.forwards[0], fwd({22, 22}, {22, 22}));
  EXPECT_EQ(s.forwards[1], fwd({80, 81}, {80, 81}));
  EXPECT_EQ(s.forwards[2], fwd({443, 443}, {8443, 8443}));
}

TEST(PortSpec, BindAddresses) {
  auto s = ok('t', "127.0.0.1/8080:80");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].bind_addr, make_address("127.0.0.1"));
  EXPECT_EQ(s.forwards[0].host, (PortRange{8080, 8080}));
  EXPECT_EQ(s.forwards[0].container, (PortRange{80, 80}));

  s = ok('t', "::1/8080");  // pasta's form: no brackets
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].bind_addr, make_address("::1"));
  s = ok('u', "[2001:db8::1]/53");  // brackets accepted too
  EXPECT_EQ(s.forwards[0].bind_addr, make_address("2001:db8::1"));
  s = ok('t', "0.0.0.0/80,443");
  ASSERT_EQ(s.forwards.size(), 2u);
  EXPECT_EQ(s.forwards[1].bind_addr, make_address("0.0.0.0"));

  s = ok('t', "192.0.2.1%eth0/80");
  EXPECT_EQ(s.forwards[0].bind_addr, make_address("192.0.2.1"));
  EXPECT_EQ(s.forwards[0].ifname, "eth0");
  s = ok('t', "fe80::1%eth0/22");
  EXPECT_EQ(s.forwards[0].bind_addr, make_address("fe80::1"));
  EXPECT_EQ(s.forwards[0].ifname, "eth0");
  s = ok('t', "%lo/80");
  EXPECT_FALSE(s.forwards[0].bind_addr.has_value());
  EXPECT_EQ(s.forwards[0].ifname, "lo");
}

TEST(PortSpec, Exclusions) {
  auto s = ok('t', "8000-8010:9000-9010,~8005");
  ASSERT_EQ(s.forwards.size(), 2u);
  EXPECT_EQ(s.forwards[0], fwd({8000, 8004}, {9000, 9004}));
  EXPECT_EQ(s.forwards[1], fwd({8006, 8010}, {9006, 9010}));

  // An exclusion may come first and may be a range.
  s = ok('t', "~8003-8004,8000-8010");
  ASSERT_EQ(s.forwards.size(), 2u);
  EXPECT_EQ(s.forwards[0].host, (PortRange{8000, 8002}));
  EXPECT_EQ(s.forwards[1].host, (PortRange{8005, 8010}));

  // Exclusions at the ends of a range.
  s = ok('t', "80-82,~80,~82");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].host, (PortRange{81, 81}));

  // Everything excluded: a spec that forwards nothing.
  s = ok('t', "80,~80");
  EXPECT_EQ(s.mode, Mode::spec);
  EXPECT_TRUE(s.forwards.empty());
}

TEST(PortSpec, ExclusionsOnlyMeanAllNonEphemeralButThese) {
  auto s = ok('t', "~22");
  ASSERT_EQ(s.forwards.size(), 2u);
  EXPECT_EQ(s.forwards[0].host, (PortRange{1, 21}));
  EXPECT_EQ(s.forwards[1].host, (PortRange{23, 49151}));
  s = ok('u', "127.0.0.1/~1-1000");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].host, (PortRange{1001, 49151}));
  EXPECT_EQ(s.forwards[0].bind_addr, make_address("127.0.0.1"));
}

TEST(PortSpec, OutboundOptionsSwapTheSides) {
  auto s = ok('T', "5432:15432");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].direction, Direction::outbound);
  EXPECT_EQ(s.forwards[0].container, (PortRange{5432, 5432}));  // listens in the container
  EXPECT_EQ(s.forwards[0].host, (PortRange{15432, 15432}));     // target on the host
  s = ok('U', "53");
  EXPECT_EQ(s.forwards[0].proto, Proto::udp);
  EXPECT_EQ(s.forwards[0].direction, Direction::outbound);
}

TEST(PortSpec, ErrorsNameTheToken) {
  EXPECT_EQ(err('t', "70000"), "invalid port spec '70000': port out of range");
  EXPECT_EQ(err('t', "80,70000"), "invalid port spec '70000': port out of range");
  EXPECT_EQ(err('t', "99999999999999999999"),
            "invalid port spec '99999999999999999999': port out of range");
  EXPECT_EQ(err('t', "80:65536"), "invalid port spec '80:65536': port out of range");
  EXPECT_EQ(err('t', "0"), "invalid port spec '0': port 0 cannot be forwarded");
  EXPECT_EQ(err('t', "90-80"), "invalid port spec '90-80': range ends before it starts");
  EXPECT_EQ(err('t', "8000-8010:9000"),
            "invalid port spec '8000-8010:9000': ranges differ in length (11 and 1 ports)");
  EXPECT_EQ(err('t', "80x"), "invalid port spec '80x': unexpected 'x'");
  EXPECT_EQ(err('t', "http"), "invalid port spec 'http': expected a port number, found 'h'");
  EXPECT_EQ(err('t', "80-"), "invalid port spec '80-': expected a port number");
  EXPECT_EQ(err('t', "-80"), "invalid port spec '-80': expected a port number, found '-'");
  EXPECT_EQ(err('t', "+80"), "invalid port spec '+80': expected a port number, found '+'");
  EXPECT_EQ(err('t', " 80"), "invalid port spec ' 80': expected a port number, found ' '");
  EXPECT_EQ(err('t', "80,,81"), "invalid port spec '80,,81': empty item in comma list");
  EXPECT_EQ(err('t', "80,"), "invalid port spec '80,': empty item in comma list");
  EXPECT_EQ(err('t', ""), "invalid port spec '': empty");
  EXPECT_EQ(err('t', "~80:90"),
            "invalid port spec '~80:90': unexpected text after the excluded range");
  EXPECT_EQ(err('t', "~80,~80"), "invalid port spec '~80': overlapping exclusion");
  EXPECT_EQ(err('t', "~80-90,~85"), "invalid port spec '~85': overlapping exclusion");
  EXPECT_EQ(err('t', "80,80"), "invalid port spec '80': port 80 is already forwarded");
  EXPECT_EQ(err('t', "80-90,85:1085"),
            "invalid port spec '85:1085': port 85 is already forwarded");
  EXPECT_EQ(err('t', "300.1.1.1/80"),
            "invalid port spec '300.1.1.1/80': bad bind address '300.1.1.1'");
  EXPECT_EQ(err('t', "localhost/80"),
            "invalid port spec 'localhost/80': bad bind address 'localhost'");
  EXPECT_EQ(err('t', "/80"), "invalid port spec '/80': bad bind address ''");
  EXPECT_EQ(err('t', "127.0.0.1/"), "invalid port spec '127.0.0.1/': no ports given");
  EXPECT_EQ(err('t', "127.0.0.1%/80"),
            "invalid port spec '127.0.0.1%/80': empty interface name after '%'");
  EXPECT_EQ(err('t', "127.0.0.1%averyveryverylongname/80"),
            "invalid port spec '127.0.0.1%averyveryverylongname/80': interface name "
            "'averyveryverylongname' too long");
  EXPECT_EQ(err('T', "127.0.0.1/80"),
            "invalid port spec '127.0.0.1/80': a bind address is only allowed with -t and -u");
  EXPECT_EQ(err('x', "80"), "invalid port spec '80': unknown option -x");
  EXPECT_EQ(err('t', "None"), "invalid port spec 'None': expected a port number, found 'N'");
}

TEST(PortSpecs, ValuesAccumulate) {
  PortSpecs specs;
  ASSERT_TRUE(specs.add('t', "80"));
  ASSERT_TRUE(specs.add('t', "443:8443"));
  ASSERT_TRUE(specs.add('u', "80"));  // another option: the same port is fine
  ASSERT_TRUE(specs.add('T', "none"));
  EXPECT_EQ(specs.mode('t'), Mode::spec);
  EXPECT_EQ(specs.mode('u'), Mode::spec);
  EXPECT_EQ(specs.mode('T'), Mode::none);
  EXPECT_EQ(specs.mode('U'), Mode::unset);
  ASSERT_EQ(specs.forwards().size(), 3u);
  EXPECT_EQ(specs.forwards()[1], fwd({443, 443}, {8443, 8443}));
  EXPECT_EQ(specs.forwards()[2].proto, Proto::udp);
}

TEST(PortSpecs, OverlapAcrossValues) {
  PortSpecs specs;
  ASSERT_TRUE(specs.add('t', "8000-8010"));
  auto r = specs.add('t', "8010:80");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "invalid port spec '8010:80': port 8010 is already forwarded");
  // Distinct specific addresses may share a port; a wildcard may not.
  ASSERT_TRUE(specs.add('t', "127.0.0.1/9000"));
  ASSERT_TRUE(specs.add('t', "::1/9000"));
  r = specs.add('t', "0.0.0.0/9000");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "invalid port spec '9000': port 9000 is already forwarded");
  r = specs.add('t', "127.0.0.1/8005");  // overlaps the address-less 8000-8010
  ASSERT_FALSE(r);
  // Failed values change nothing.
  EXPECT_EQ(specs.forwards().size(), 3u);
  ASSERT_TRUE(specs.add('t', "8011"));
  EXPECT_EQ(specs.forwards().size(), 4u);
}

TEST(PortSpecs, KeywordsStandAlone) {
  PortSpecs a;
  ASSERT_TRUE(a.add('t', "none"));
  auto r = a.add('t', "80");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "invalid port spec '80': -t none cannot be combined with other -t values");
  EXPECT_EQ(a.mode('t'), Mode::none);
  EXPECT_TRUE(a.forwards().empty());

  PortSpecs b;
  ASSERT_TRUE(b.add('u', "80"));
  r = b.add('u', "auto");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "invalid port spec 'auto': -u auto cannot be combined with other -u values");

  PortSpecs c;
  ASSERT_TRUE(c.add('t', "all"));
  EXPECT_FALSE(c.add('t', "all"));
  EXPECT_FALSE(c.add('t', "none"));
  EXPECT_EQ(c.forwards().size(), 1u);
  EXPECT_FALSE(c.add('q', "80"));
}
