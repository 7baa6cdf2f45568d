// An open-addressing hash index from a flow key (container address and port,
// destination address and port, protocol) to a slot number in a fixed flow
// array. Linear probing with backward-shift deletion (no tombstones), sized
// once at start: lookups, inserts and removals never allocate. Entries store
// slot + 1, so an all-zero entry is empty and the table's pages become
// resident only as flows land in them (ZeroedArray).
#pragma once

#include "netstack/core/zeroed.hpp"
#include "netstack/wire/bytes.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace ferry::core {

// Addresses of either family: IPv4 as ::ffff:a.b.c.d.
struct FlowKey {
  wire::Ip6 caddr, daddr;
  uint16_t cport = 0, dport = 0;
  uint8_t proto = 0;
  friend bool operator==(const FlowKey& a, const FlowKey& b) {
    return a.cport == b.cport && a.dport == b.dport && a.proto == b.proto && a.caddr == b.caddr && a.daddr == b.daddr;
  }
};

inline uint64_t hash_key(const FlowKey& k) {
  uint64_t w[4];
  std::memcpy(w, k.caddr.b, 16);
  std::memcpy(w + 2, k.daddr.b, 16);
  uint64_t h = (w[0] ^ w[1] * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
  h ^= (w[2] ^ w[3] * 0xc4ceb9fe1a85ec53ull) * 0x9e3779b97f4a7c15ull;
  h ^= (uint64_t(k.cport) << 24 | uint64_t(k.dport) << 8 | k.proto) * 0xc2b2ae3d27d4eb4full;
  return h ^ (h >> 29);
}

class FlowIndex {
 public:
  static constexpr int32_t kEmpty = -1;

  // capacity: the most flows ever held; the table is twice that, rounded up to
  // a power of two, so probes stay short.
  explicit FlowIndex(size_t capacity) : slots_(table_size(capacity)), mask_(slots_.size() - 1) {}

  int32_t find(const FlowKey& k) const {
    for (size_t i = hash_key(k) & mask_;; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.value1 == 0) return kEmpty;
      if (e.key == k) return e.value1 - 1;
    }
  }

  // The key must not be present; the caller bounds the number of flows.
  void insert(const FlowKey& k, int32_t value) {
    size_t i = hash_key(k) & mask_;
    while (slots_[i].value1 != 0) i = (i + 1) & mask_;
    slots_[i] = Entry{k, value + 1};
  }

  void erase(const FlowKey& k) {
    size_t i = hash_key(k) & mask_;
    while (true) {
      if (slots_[i].value1 == 0) return;
      if (slots_[i].key == k) break;
      i = (i + 1) & mask_;
    }
    // Backward-shift: move later entries of the probe run into the hole when
    // their home slot does not lie cyclically in (hole, j].
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; slots_[j].value1 != 0; j = (j + 1) & mask_) {
      size_t home = hash_key(slots_[j].key) & mask_;
      bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!in_range) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Entry{};
  }

 private:
  static size_t table_size(size_t capacity) {
    size_t n = 16;
    while (n < capacity * 2) n <<= 1;
    return n;
  }
  struct Entry {
    FlowKey key{};
    int32_t value1 = 0;  // the slot + 1; 0: empty
  };
  ZeroedArray<Entry> slots_;
  size_t mask_ = 0;
};

}  // namespace ferry::core
