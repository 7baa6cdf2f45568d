// Fuzz target: the pasta port-spec parser. Input: each line is one option
// value, its first byte picks the option letter (t, u, T, U by value mod 4);
// every line goes through parse_port_spec() and, in order, PortSpecs::add().
// The results are checked for the invariants spec.hpp promises.
#include "portfwd/spec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
void check(const ferry::portfwd::SpecForward& f) {
  if (f.host.first == 0 || f.container.first == 0 || f.host.first > f.host.last ||
      f.container.first > f.container.last || f.host.size() != f.container.size())
    std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr char letters[] = {'t', 'u', 'T', 'U'};
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ferry::portfwd::PortSpecs specs;
  while (!in.empty()) {
    std::size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    if (line.empty()) continue;
    char letter = letters[static_cast<unsigned char>(line[0]) % 4];
    std::string_view value = line.substr(1);
    auto one = ferry::portfwd::parse_port_spec(letter, value);
    if (one)
      for (const auto& f : one->forwards) check(f);
    else if (one.error().empty())
      std::abort();
    auto r = specs.add(letter, value);
    if (!r && r.error().empty()) std::abort();
  }
  for (const auto& f : specs.forwards()) check(f);
  return 0;
}
