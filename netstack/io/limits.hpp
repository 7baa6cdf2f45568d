// The descriptor limit at start-up: raises the soft RLIMIT_NOFILE to the
// hard limit (allowed without privileges) and fits the translator's flow
// limits under it (core/limits.hpp), logging when it had to lower them.
#pragma once

#include "netstack/core/limits.hpp"
#include "netstack/core/stack.hpp"

namespace ferry::io {

// System calls: getrlimit, setrlimit.
core::Limits fit_limits_to_rlimit(const core::Limits& wanted, core::Forwarder fwd);

}  // namespace ferry::io
