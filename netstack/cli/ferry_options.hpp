// ferry's own options, shared by its personalities: hardening
// (docs/security.md) and the loop's busy poll:
//
//   --allow CIDR[:PORTS]        egress allow rule (repeatable; core/policy.hpp)
//   --deny CIDR[:PORTS]         egress deny rule (repeatable)
//   --max-tcp-flows N           and the other bounds of core::Limits
//   --max-tcp-half-open N
//   --max-udp-flows N
//   --max-udp-flows-per-port N
//   --max-dns-queries N
//   --max-reasm-datagrams N
//   --busy-poll US              poll up to US microseconds before sleeping
//                               (io/busy_poll.hpp; 0: never)
//   --no-sandbox                run without the process sandbox (debugging
//                               only; common/sandbox.hpp, docs/sandbox.md)
//
// Each personality appends ferry_options() to its getopt_long table and
// hands the codes for which is_ferry_option() holds to
// apply_ferry_option().
#pragma once

#include "netstack/cli/run.hpp"

#include "common/expected.hpp"

#include <getopt.h>

#include <string>
#include <vector>

namespace ferry::cli {

inline constexpr int kFirstFerryOption = 0x1000;

std::vector<option> ferry_options();
inline bool is_ferry_option(int c) { return c >= kFirstFerryOption && c < kFirstFerryOption + 16; }
// The error text names the option and its value.
ferry::Expected<void, std::string> apply_ferry_option(int c, const char* arg, RunOptions& o);
// Lines for --help, in the style of the slirp4netns help text.
extern const char* const kFerryOptionsHelp;

}  // namespace ferry::cli
