// IP address arithmetic and address management for ferry-bridge: pure logic,
// no kernel, unit-tested in tests/bridge/ipam_test.cpp.
//
// How it works: an IpAddr holds IPv4 or IPv6 as 16 big-endian bytes (IPv4 in
// the first 4), so one set of helpers (mask, increment, compare) serves both
// families. An IpNet is an address with a prefix length; parse_ipnet() keeps
// the host bits (the StatusBlock "ipnet" is an interface address, a Network
// "subnet" must not have them - validate_subnet() checks that). The gateway
// defaults to the first host of the subnet; allocate() hands out the lowest
// free address of the lease range (default: first host .. last host), never
// the gateway, the network address or the IPv4 broadcast address.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace ferry::bridge {

struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> b{};  // network byte order; IPv4 uses b[0..3]

  int bits() const { return v6 ? 128 : 32; }
  std::string str() const;
  auto operator<=>(const IpAddr&) const = default;
};

struct IpNet {
  IpAddr addr;
  int prefix = 0;

  std::string str() const;  // "10.88.0.5/16"
  auto operator<=>(const IpNet&) const = default;
};

std::optional<IpAddr> parse_ip(std::string_view s);
// "ADDR/PREFIX"; host bits are kept. Rejects a missing or out-of-range prefix.
std::optional<IpNet> parse_ipnet(std::string_view s);

// The address with the host bits of `prefix` cleared.
IpAddr network_of(const IpAddr& a, int prefix);
// The address with the host bits of `prefix` set (IPv4 broadcast).
IpAddr last_of(const IpAddr& a, int prefix);
bool contains(const IpNet& net, const IpAddr& a);
// a + 1, wrapping is reported as nullopt.
std::optional<IpAddr> next(const IpAddr& a);

// Why a subnet cannot be used, or empty when it can: host bits set, or too
// small to hold a gateway and one container (IPv4 /31 and /32, IPv6 /127, /128).
std::string subnet_problem(const IpNet& subnet);

// First and last addresses a container may get in `subnet` by default.
IpAddr first_host(const IpNet& subnet);
IpAddr last_host(const IpNet& subnet);
// Why `a` cannot be a host address in `subnet`, or empty when it can.
std::string host_problem(const IpNet& subnet, const IpAddr& a);

// The lowest address in [start, end] that is not in `used` and not `gateway`.
std::optional<IpAddr> allocate(const IpAddr& start, const IpAddr& end,
                               const std::optional<IpAddr>& gateway,
                               const std::set<IpAddr>& used);

// "aa:bb:cc:dd:ee:ff" (case-insensitive); rejects multicast addresses and
// the all-zero address, which the kernel refuses for an interface.
std::optional<std::array<uint8_t, 6>> parse_mac(std::string_view s);
std::string mac_str(const std::array<uint8_t, 6>& m);

}  // namespace ferry::bridge
