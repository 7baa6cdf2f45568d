// ICMPv4 messages the translator originates itself: echo replies for the
// gateway and DNS addresses, and destination-unreachable errors that tell
// the container at once why a flow could not be opened.
#pragma once

#include "netstack/core/context.hpp"

#include <span>

namespace ferry::core {

// Replies to an echo request (its ICMP message in `icmp`) from `from`.
void icmp_echo_reply(Context& ctx, wire::Ip4 from, wire::Ip4 to, std::span<const uint8_t> icmp);

// Destination unreachable with `code` (RFC 792), quoting the offending
// datagram's IPv4 header and first 8 payload bytes (`quote`, RFC 1812
// 4.3.2.3 allows more; we quote exactly 28 bytes).
void icmp_unreachable(Context& ctx, uint8_t code, wire::Ip4 from, wire::Ip4 to, std::span<const uint8_t> quote);

}  // namespace ferry::core
