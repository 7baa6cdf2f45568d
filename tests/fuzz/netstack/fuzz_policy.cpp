// Fuzz target: the egress policy rules of --allow/--deny (core/policy.hpp).
// The input is split at newlines: each line is a rule (first byte: allow or
// deny); the rules that parse are then asked about a destination taken from
// the last 18 bytes (IPv6 address, port), as IPv4 and IPv6.
#include "netstack/core/policy.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  ferry::core::Policy p;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view line = s.substr(start, end - start);
    if (!line.empty()) (void)p.add((line[0] & 1) != 0, line.substr(1));
    start = end + 1;
  }
  if (size >= 18) {
    const uint8_t* tail = data + size - 18;
    const auto a = ferry::wire::Ip6::load(tail);
    const uint16_t port = ferry::wire::load16(tail + 16);
    (void)p.allows(a, port);
    (void)p.allows(a.v4(), port);
    p.set_loopback_alias(a.v4());
    (void)p.allows(ferry::wire::Ip4(127, 0, 0, 1), port);
  }
  return 0;
}
