// Fuzz target for the aardvark config file parser (netavark writes these
// files; a bad line must be reported and skipped, never crash). The first
// input byte picks an internal or ordinary network name; the rest is the
// file text. A parsed network is then loaded into a Resolver and queried.
#include "config.hpp"
#include "resolver.hpp"

using namespace ferry::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view name = (data[0] & 1) ? "net%int" : "net";
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto res = parse_network_file(name, text, "fuzz");
  (void)parse_resolv_conf(text);
  if (!res.network) return 0;
  std::vector<NetworkConfig> nets{*res.network};
  Resolver r(nets, kDefaultSearchDomain);
  for (const auto& c : res.network->containers) {
    for (const auto& a : c.ipv4) {
      for (const auto& n : c.names) {
        auto qn = Name::from_text(n);
        if (!qn) continue;
        (void)r.resolve(a, Question{*qn, rrtype::A, kClassIN}, {});
      }
    }
  }
  (void)r.listen_ips();
  return 0;
}
