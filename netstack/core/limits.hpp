// Fitting the translator's flow limits (core::Limits) under the process's
// descriptor limit. Every flow holds one host socket, so a container that
// opens flows as fast as it can would otherwise run ferry out of descriptors
// (EMFILE) for its own tap, port forwards and API socket - or, as with
// slirp4netns, leave the container with "Network is unreachable". Pure
// arithmetic; io/ reads RLIMIT_NOFILE (after raising the soft limit to the
// hard one) and calls it at start.
//
// Rule: kReservedFds descriptors are kept for ferry itself (tap, io_uring,
// signalfd, eventfd, inotify/pidfd, API socket, listeners, logs). When ports
// can be forwarded (a port spec or an API socket was given), half of the rest
// is the translator's (tcp_flows + dgram_flows) and the other half is left to
// the port forwarder's connections (6 descriptors each: two sockets, two
// pipes); without them no forwarded connection can ever arrive, and the
// translator may have all of the rest. When the configured flows do not fit,
// both tables shrink in proportion, and the bounds below them (half-open,
// per port, DNS) shrink with them.
#pragma once

#include "netstack/core/stack.hpp"

#include <cstdint>
#include <string>

namespace ferry::core {

inline constexpr uint64_t kReservedFds = 256;
inline constexpr size_t kMinFlows = 16;

// Whether the port forwarder can ever hold descriptors of its own.
enum class Forwarder { none, possible };

// Returns `l` unchanged when it fits `nofile`, else the shrunk limits; sets
// `note` to a one-line explanation when it shrank them.
Limits fit_limits_to_fds(Limits l, uint64_t nofile, Forwarder fwd, std::string* note = nullptr);

}  // namespace ferry::core
