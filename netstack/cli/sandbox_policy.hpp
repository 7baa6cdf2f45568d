// ferry's sandbox policy (common/sandbox.hpp, docs/sandbox.md): which host
// paths stay visible and which system calls the data plane and the API
// thread make once set-up is done.
#pragma once

#include "common/sandbox.hpp"
#include "netstack/cli/run.hpp"

#include <string>

namespace ferry::cli {

// `api`: the API socket is served (its folder stays visible, writable, so
// that the socket file is removed at exit).
sandbox::Policy ferry_policy(const RunOptions& o, bool api);

// The resolv.conf ferry re-reads inside the sandbox: cfg.resolv_conf with
// symbolic links followed.
std::string ferry_resolv_conf(const core::NetConfig& cfg);

}  // namespace ferry::cli
