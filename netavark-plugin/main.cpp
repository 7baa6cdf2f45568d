// ferry-bridge: a bridge network driver for netavark's plugin API 1.0.0.
//
//   ferry-bridge [info]                 print the plugin info JSON
//   ferry-bridge create    < network    print the completed network
//   ferry-bridge setup    NETNS < opts  set up, print the StatusBlock
//   ferry-bridge teardown NETNS < opts  tear down, print nothing
//
// Failures print {"error":"..."} on stdout and exit 1; diagnostics go to
// stderr, which netavark passes to the user. FERRY_BRIDGE_DEBUG=1 logs each
// step. The work is in plugin.cpp.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include "common/log.hpp"
#include "plugin.hpp"
#include "types.hpp"

namespace json = boost::json;
using namespace ferry::bridge;

namespace {

int fail(const std::string& msg) {
  spdlog::error("{}", msg);
  std::cout << json::serialize(error_json(msg)) << std::endl;
  return 1;
}

Result<json::value> read_stdin() {
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return parse_json(text);
}

int run(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "info";
  if (cmd == "info") {
    std::cout << json::serialize(info_json()) << std::endl;
    return 0;
  }
  if (cmd != "create" && cmd != "setup" && cmd != "teardown") return fail("unknown subcommand: " + cmd);
  std::string netns;
  if (cmd != "create") {
    if (argc < 3 || !*argv[2]) return fail("netns path argument is missing");
    netns = argv[2];
  }
  auto in = read_stdin();
  if (!in) return fail(in.error());
  if (cmd == "create") {
    auto out = cmd_create(*in);
    if (!out) return fail(out.error());
    std::cout << json::serialize(*out) << std::endl;
  } else if (cmd == "setup") {
    auto out = cmd_setup(netns, *in);
    if (!out) return fail(out.error());
    std::cout << json::serialize(*out) << std::endl;
  } else {
    auto out = cmd_teardown(netns, *in);
    if (!out) return fail(out.error());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* dbg = std::getenv("FERRY_BRIDGE_DEBUG");
  ferry::log::init("ferry-bridge", dbg && *dbg == '1' ? ferry::log::Level::debug : ferry::log::Level::normal);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    // Out of memory or a library surprise: still answer in the API's shape.
    return fail(std::string("internal error: ") + e.what());
  }
}
