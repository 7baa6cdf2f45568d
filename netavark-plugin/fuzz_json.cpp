// Fuzz target for ferry-bridge's parsers of outside input: the plugin API
// JSON (create's Network, setup/teardown's NetworkPluginExec) and the state
// file. Each input is tried as all of them and, when it parses, run through
// validation and planning, which must answer with a value or an error and
// never crash (ASan/UBSan catch the rest). Seeds: tests/bridge/corpus/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "plan.hpp"
#include "state.hpp"
#include "types.hpp"

using namespace ferry::bridge;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_state(text);
  auto v = parse_json(text);
  if (!v) return 0;
  if (auto n = parse_network(*v)) (void)complete_network(*n);
  if (auto x = parse_plugin_exec(*v)) {
    if (auto n = complete_network(x->network)) {
      x->network = *n;
      std::set<IpAddr> used;
      if (auto p = plan_setup(*x, used, true)) used.insert(p->container_addresses[0].ipnet.addr);
      (void)plan_setup(*x, used, false);
    }
  }
  return 0;
}
