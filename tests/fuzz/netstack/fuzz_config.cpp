// Fuzz target: the command-line value parsers of outside input (--cidr,
// --macaddress, IPv4 addresses) and the resolv.conf reader's parser
// (io/host_sockets.hpp: the file is the host's, edited by anyone with root or
// by a resolver daemon).
#include "netstack/core/config.hpp"
#include "netstack/io/host_sockets.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  ferry::core::NetConfig cfg;
  (void)ferry::core::apply_cidr(cfg, s);
  (void)ferry::core::parse_mac(s);
  (void)ferry::core::parse_ip4(s);
  ferry::wire::Ip4 ns;
  (void)ferry::io::RealHost::first_ipv4_nameserver(std::string(s), ns);
  return 0;
}
