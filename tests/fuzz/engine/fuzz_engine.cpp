// Fuzz target: ferryctl's parsers of outside input (engine/cli.hpp,
// engine/state.hpp): its records on disk (ROOT/containers/<id>/config.json
// and ROOT/infra.json, which another process or a user may have written) and
// its command line. The input is tried as a JSON record of both kinds, and,
// split at NUL bytes, as the arguments of `run` and `network create` and as
// -p port mappings. Every parser must answer with a value or an error.
#include "engine/cli.hpp"
#include "engine/state.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace ferry::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (!ec) {
    if (auto c = container_from_json(v)) (void)to_json(*c);
    if (auto i = infra_from_json(v)) (void)to_json(*i);
  }
  std::vector<std::string> args;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string_view::npos) end = text.size();
    args.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  (void)parse_run(args);
  (void)parse_network_create(args);
  for (const auto& a : args) {
    (void)valid_name(a);
    if (auto p = parse_port(a)) (void)pasta_spec(*p);
  }
  return 0;
}
