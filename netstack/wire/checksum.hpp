// The Internet checksum (RFC 1071): one's-complement sum of 16-bit words.
// partial() accumulates over several buffers (pseudo-header, header,
// payload); fold() finishes. Used for IPv4 headers, ICMP, and TCP/UDP when
// the tap gives no checksum offload.
#pragma once

#include "netstack/wire/bytes.hpp"

#include <cstddef>
#include <cstdint>

namespace ferry::wire {

// Adds the bytes of [p, p+len) to a running 32-bit (64-bit internally) sum.
// An odd trailing byte is padded with zero, as RFC 1071 section 1 says; call
// with even lengths except for the last buffer.
uint64_t csum_partial(const void* p, size_t len, uint64_t sum);

inline uint16_t csum_fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffu);
}

inline uint16_t checksum(const void* p, size_t len) { return csum_fold(csum_partial(p, len, 0)); }

// Sum of the IPv4 pseudo-header (RFC 793 section 3.1, RFC 768) for a
// transport segment of `len` bytes, before folding.
inline uint64_t pseudo_header_sum(Ip4 src, Ip4 dst, uint8_t proto, uint32_t len) {
  return uint64_t(src.v >> 16) + (src.v & 0xffff) + (dst.v >> 16) + (dst.v & 0xffff) + proto + len;
}

}  // namespace ferry::wire
