#include "netstack/wire/checksum.hpp"

#include <cstring>

namespace ferry::wire {

// Sums the buffer as native-order words in a 64-bit accumulator (no carry is
// ever lost for packets under 4 GiB), folds that to 16 bits, and converts the
// folded value to network order before adding it to `sum`: one's-complement
// sums are independent of byte order up to that final swap (RFC 1071 2(B)).
// Returned sums are thus always "network-order valued", and can be mixed with
// pseudo_header_sum().
uint64_t csum_partial(const void* data, size_t len, uint64_t sum) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t acc = 0;
  while (len >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    acc += h;
    p += 2;
    len -= 2;
  }
  if (len) {
    const uint8_t last[2] = {*p, 0};
    uint16_t h;
    std::memcpy(&h, last, 2);
    acc += h;
  }
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  uint16_t folded = static_cast<uint16_t>(acc);
  uint8_t bytes[2];
  std::memcpy(bytes, &folded, 2);
  return sum + load16(bytes);
}

}  // namespace ferry::wire
