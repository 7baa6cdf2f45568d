// Unit tests for ferry-bridge's address arithmetic and allocation (ipam.hpp).
#include <gtest/gtest.h>

#include "ipam.hpp"

using namespace ferry::bridge;

namespace {
IpAddr ip(const char* s) { return *parse_ip(s); }
IpNet net(const char* s) { return *parse_ipnet(s); }
}  // namespace

TEST(Ipam, ParsesAndPrintsBothFamilies) {
  EXPECT_EQ(ip("10.88.0.1").str(), "10.88.0.1");
  EXPECT_FALSE(ip("10.88.0.1").v6);
  EXPECT_EQ(ip("fd00::1").str(), "fd00::1");
  EXPECT_TRUE(ip("fd00::1").v6);
  EXPECT_EQ(net("10.88.0.5/16").str(), "10.88.0.5/16");
  EXPECT_EQ(net("fd00:1::/64").prefix, 64);
}

TEST(Ipam, RejectsMalformedAddresses) {
  for (const char* s : {"", "10.88.0", "10.88.0.256", "1.2.3.4 ", "fd00::1%eth0", "abc", "1.2.3.4/"})
    EXPECT_FALSE(parse_ip(s)) << s;
  for (const char* s : {"10.88.0.0", "10.88.0.0/33", "10.88.0.0/-1", "10.88.0.0/x", "10.88.0.0/", "fd00::/129",
                        "10.0.0.0/8/8", "10.0.0.0/ 8"})
    EXPECT_FALSE(parse_ipnet(s)) << s;
}

TEST(Ipam, NetworkAndLastAddress) {
  EXPECT_EQ(network_of(ip("10.88.3.7"), 16), ip("10.88.0.0"));
  EXPECT_EQ(last_of(ip("10.88.3.7"), 16), ip("10.88.255.255"));
  EXPECT_EQ(network_of(ip("10.88.3.7"), 0), ip("0.0.0.0"));
  EXPECT_EQ(network_of(ip("10.88.3.7"), 32), ip("10.88.3.7"));
  EXPECT_EQ(network_of(ip("10.88.3.7"), 21), ip("10.88.0.0"));
  EXPECT_EQ(last_of(ip("10.88.3.7"), 21), ip("10.88.7.255"));
  EXPECT_EQ(network_of(ip("fd00:1:2:3::9"), 48), ip("fd00:1:2::"));
}

TEST(Ipam, Contains) {
  EXPECT_TRUE(contains(net("10.88.0.0/16"), ip("10.88.200.1")));
  EXPECT_FALSE(contains(net("10.88.0.0/16"), ip("10.89.0.1")));
  EXPECT_FALSE(contains(net("10.88.0.0/16"), ip("::ffff:10.88.0.1")));  // other family
  EXPECT_TRUE(contains(net("fd00::/64"), ip("fd00::abcd")));
}

TEST(Ipam, NextWrapsToNothing) {
  EXPECT_EQ(*next(ip("10.0.0.255")), ip("10.0.1.0"));
  EXPECT_FALSE(next(ip("255.255.255.255")));
  EXPECT_EQ(*next(ip("fd00::ffff")), ip("fd00::1:0"));
}

TEST(Ipam, SubnetProblems) {
  EXPECT_EQ(subnet_problem(net("10.88.0.0/16")), "");
  EXPECT_NE(subnet_problem(net("10.88.0.1/16")).find("did you mean 10.88.0.0/16"), std::string::npos);
  EXPECT_NE(subnet_problem(net("10.88.0.0/31")), "");
  EXPECT_EQ(subnet_problem(net("10.88.0.0/30")), "");
  EXPECT_NE(subnet_problem(net("fd00::/127")), "");
}

TEST(Ipam, HostRange) {
  EXPECT_EQ(first_host(net("10.88.0.0/16")), ip("10.88.0.1"));
  EXPECT_EQ(last_host(net("10.88.0.0/16")), ip("10.88.255.254"));  // not the broadcast
  EXPECT_EQ(last_host(net("fd00::/120")), ip("fd00::ff"));         // IPv6 has none
  EXPECT_NE(host_problem(net("10.88.0.0/16"), ip("10.88.0.0")).find("network address"), std::string::npos);
  EXPECT_NE(host_problem(net("10.88.0.0/16"), ip("10.88.255.255")).find("broadcast"), std::string::npos);
  EXPECT_NE(host_problem(net("10.88.0.0/16"), ip("10.89.0.1")).find("not in subnet"), std::string::npos);
  EXPECT_EQ(host_problem(net("10.88.0.0/16"), ip("10.88.0.9")), "");
}

TEST(Ipam, AllocatesLowestFreeSkippingGatewayAndUsed) {
  std::set<IpAddr> used = {ip("10.88.0.2"), ip("10.88.0.3")};
  EXPECT_EQ(*allocate(ip("10.88.0.1"), ip("10.88.0.10"), ip("10.88.0.1"), used), ip("10.88.0.4"));
  EXPECT_EQ(*allocate(ip("10.88.0.1"), ip("10.88.0.10"), std::nullopt, used), ip("10.88.0.1"));
  EXPECT_FALSE(allocate(ip("10.88.0.2"), ip("10.88.0.3"), std::nullopt, used));  // range exhausted
  EXPECT_FALSE(allocate(ip("10.88.0.5"), ip("10.88.0.4"), std::nullopt, used));  // empty range
  EXPECT_FALSE(allocate(ip("255.255.255.255"), ip("255.255.255.255"), ip("255.255.255.255"), {}));  // no wrap
}

TEST(Ipam, Mac) {
  EXPECT_EQ(mac_str(*parse_mac("02:AB:cd:00:11:ff")), "02:ab:cd:00:11:ff");
  for (const char* s : {"", "02:ab:cd:00:11", "02:ab:cd:00:11:fff", "01:00:5e:00:00:01", "00:00:00:00:00:00",
                        "02-ab-cd-00-11-ff", "0x:ab:cd:00:11:ff", "02:ab:cd:00:11:+f"})
    EXPECT_FALSE(parse_mac(s)) << s;
}
