// ICMP messages the translator originates itself: echo replies for the
// gateway and DNS addresses, and destination-unreachable errors that tell
// the container at once why a flow could not be opened. ICMPv4 (RFC 792)
// and ICMPv6 (RFC 4443) alike; addresses are IPv4-mapped for IPv4.
#pragma once

#include "netstack/core/context.hpp"
#include "netstack/core/flow_index.hpp"

#include <span>

namespace ferry::core {

// Replies to an echo request (its ICMP message in `icmp`) from `from`.
void icmp_echo_reply(Context& ctx, const wire::Ip6& from, const wire::Ip6& to, std::span<const uint8_t> icmp);

// Destination unreachable with `code` (RFC 792), quoting the offending
// datagram's IPv4 header and first 8 payload bytes (`quote`, RFC 1812
// 4.3.2.3 allows more; we quote exactly 28 bytes).
void icmp_unreachable(Context& ctx, uint8_t code, wire::Ip4 from, wire::Ip4 to, std::span<const uint8_t> quote);

// The same for a packet of either family the container sent (`ip`, and its
// transport header in `l4`): ICMPv4 code4 or ICMPv6 code6, from the
// destination the container tried.
void dest_unreachable(Context& ctx, const L3& ip, std::span<const uint8_t> l4, uint8_t code4, uint8_t code6);

// For a SYN the host could not connect: network (net) or host unreachable,
// quoting a header rebuilt from the flow key and the SYN's sequence number.
void tcp_unreachable(Context& ctx, const FlowKey& k, uint32_t seq, bool net);

}  // namespace ferry::core
