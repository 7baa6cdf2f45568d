// Neighbour discovery for the addresses ferry answers for on IPv6 (RFC 4861):
// neighbour advertisements for the gateway (fd00::2 and its link-local
// fe80::2) and the DNS address (fd00::3), and router advertisements in answer
// to router solicitations, carrying the prefix for SLAAC (on-link,
// autonomous), the MTU, and the DNS address (RDNSS, RFC 8106) so that the
// container configures itself without help.
#pragma once

#include "netstack/core/context.hpp"

#include <span>

namespace ferry::core {

// Validity lifetimes sent in router advertisements (seconds).
inline constexpr uint16_t kRouterLifetime = 1800;
inline constexpr uint32_t kPrefixValid = 86400, kPrefixPreferred = 14400, kRdnssLifetime = 1800;

// A neighbour solicitation or router solicitation from the container (`icmp`
// is the whole ICMPv6 message, checksum verified). Answers what concerns us,
// counts malformed messages as drops, ignores the rest.
void on_ndp(Context& ctx, const L3& ip, uint8_t hop_limit, std::span<const uint8_t> icmp);

}  // namespace ferry::core
