// The start-up shared by ferry's personalities (slirp4netns.cpp, pasta.cpp):
// a parsed command line becomes a RunOptions, and run() creates the tap in the
// target's namespaces, opens the port forwards (-t, the API socket), reports
// readiness and runs the io_uring loop until the engine lets go of the
// container (--exit-fd, the target process or netns file gone, SIGTERM).
#pragma once

#include "netstack/core/config.hpp"
#include "netstack/core/stack.hpp"
#include "netstack/io/tap.hpp"
#include "portfwd/spec.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ferry::cli {

struct RunOptions {
  core::NetConfig cfg;
  io::TapRequest req;  // req.cfg is set by run()
  int exit_fd = -1;
  int ready_fd = -1;
  std::string api_socket;
  portfwd::PortSpecs port_specs;
  // A port spec without an address listens on IPv6 ("::", v6-only) too.
  bool ipv6_listeners = true;
  // Bounds on the translator's tables (--max-*; docs/security.md), fitted
  // under the descriptor limit by run().
  core::Limits limits;
  // Connections and datagrams the container sends to this address go to the
  // host's 127.0.0.1 instead (pasta's --map-guest-addr).
  std::optional<wire::Ip4> map_to_loopback;
  // Called once everything is up, just before the sandbox, while the host's
  // files are still visible (pasta writes its --pid file and opens its log
  // here).
  std::function<void()> before_sandbox;
  // Called once everything is up, after the ready fd was written (pasta
  // daemonises here). Runs inside the sandbox.
  std::function<void()> on_ready;
  // Inherited descriptors to keep besides stdio and the ready/exit fds;
  // run() closes every other one first.
  std::vector<int> keep_fds;
  // --no-sandbox (docs/sandbox.md): for debugging only.
  bool sandbox = true;
  // --busy-poll: the most the loop polls before sleeping (io/busy_poll.hpp).
  // 50 us: enough to catch the next packet of a connect/request exchange
  // on the same machine; bulk transfers do not poll (docs/performance.md).
  unsigned busy_poll_us = 50;
};

// Returns the process's exit status. Errors are logged, naming their cause.
int run(RunOptions& o);

// Strict decimal parse of s into [lo, hi].
bool parse_int(const char* s, long lo, long hi, long& out);

}  // namespace ferry::cli
