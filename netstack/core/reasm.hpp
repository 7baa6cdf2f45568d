// IPv4 fragment reassembly (RFC 791 section 3.2, RFC 815's hole tracking
// replaced by a bitmap of 8-byte blocks). Bounded: at most `slots` datagrams
// in progress (the oldest is dropped for a new one), each at most 65,535
// bytes, each dropped `timeout_ms` after its first fragment (Linux's
// ipfrag_time is 30 s). Overlapping fragments drop the whole datagram, as
// Linux does since 4.19 and RFC 5722 requires for IPv6: overlaps are only
// ever an attack or a bug. Memory is bounded by slots x 64 KiB (buffers are
// allocated on a slot's first use and kept). Drops are counted by reason:
// fragment_overlap, fragment_timeout, fragment_table_full (the oldest
// datagram gave way to a new one), fragment_dropped (malformed: a bad length,
// too long, inconsistent ends).
#pragma once

#include "netstack/core/counters.hpp"
#include "netstack/wire/ipv4.hpp"

#include <bitset>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace ferry::core {

class Reassembler {
 public:
  static constexpr size_t kMaxPayload = 65535 - 20;

  Reassembler(size_t slots, uint64_t timeout_ms) : slots_(slots), timeout_ms_(timeout_ms) {}

  // Adds one fragment (`payload` is its IP payload). Returns the whole
  // datagram (a fresh 20-byte header, then the payload) once complete, else
  // an empty span. The span stays valid until the next call.
  std::span<const uint8_t> add(const wire::Ip4Hdr& ip, std::span<const uint8_t> payload, uint64_t now_ms,
                               Counters& ctr);
  void expire(uint64_t now_ms, Counters& ctr);
  size_t in_progress() const;

 private:
  struct Slot {
    bool used = false;
    uint32_t src = 0, dst = 0;
    uint16_t id = 0;
    uint8_t proto = 0;
    uint64_t started_ms = 0;
    uint32_t total = 0;  // payload length, known once the last fragment came
    uint32_t received = 0;
    std::bitset<8192> have;  // one bit per 8-byte block
    std::unique_ptr<uint8_t[]> buf;  // 20 + kMaxPayload, allocated on first use
  };
  std::vector<Slot> slots_;
  uint64_t timeout_ms_;
};

}  // namespace ferry::core
