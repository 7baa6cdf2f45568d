// ferry's own options, shared by its personalities: see ferry_options.hpp.
#include "netstack/cli/ferry_options.hpp"

namespace ferry::cli {

namespace {

enum : int {
  kAllow = kFirstFerryOption,
  kDeny,
  kMaxTcp,
  kMaxHalfOpen,
  kMaxUdp,
  kMaxUdpPerPort,
  kMaxDns,
  kMaxReasm,
  kNoSandbox,
  kBusyPoll,
};

}  // namespace

const char* const kFerryOptionsHelp =
    "--allow=CIDR[:PORTS]     (ferry) allow the container's outbound flows to CIDR (IPv4 or IPv6, PORTS: P or A-B);\n"
    "                         repeatable, first matching rule wins, any --allow makes the default deny\n"
    "--deny=CIDR[:PORTS]      (ferry) deny them, e.g. --deny=169.254.169.254/32 (cloud metadata)\n"
    "--max-tcp-flows=N        (ferry) TCP connections at most (default 16384)\n"
    "--max-tcp-half-open=N    (ferry) outbound TCP connections not yet established (default 1024)\n"
    "--max-udp-flows=N        (ferry) UDP and ICMP echo flows (default 4096, least recently used evicted)\n"
    "--max-udp-flows-per-port=N (ferry) flows per container source port or echo id (default 1024)\n"
    "--max-dns-queries=N      (ferry) DNS forwarder queries in flight (default 256)\n"
    "--max-reasm-datagrams=N  (ferry) IPv4 datagrams in reassembly, 64 KiB each (default 16)\n"
    "--busy-poll=US           (ferry) poll up to US microseconds for the next event before sleeping, adapting\n"
    "                         to the traffic; never during bulk transfers (default 50; 0: never)\n"
    "--no-sandbox             (ferry) for debugging: no seccomp filter, mount namespace or capability drop\n"
    "                         (the sandbox is otherwise always on; docs/sandbox.md)\n";

std::vector<option> ferry_options() {
  return {
      {"allow", required_argument, nullptr, kAllow},
      {"deny", required_argument, nullptr, kDeny},
      {"max-tcp-flows", required_argument, nullptr, kMaxTcp},
      {"max-tcp-half-open", required_argument, nullptr, kMaxHalfOpen},
      {"max-udp-flows", required_argument, nullptr, kMaxUdp},
      {"max-udp-flows-per-port", required_argument, nullptr, kMaxUdpPerPort},
      {"max-dns-queries", required_argument, nullptr, kMaxDns},
      {"max-reasm-datagrams", required_argument, nullptr, kMaxReasm},
      {"no-sandbox", no_argument, nullptr, kNoSandbox},
      {"busy-poll", required_argument, nullptr, kBusyPoll},
  };
}

ferry::Expected<void, std::string> apply_ferry_option(int c, const char* arg, RunOptions& o) {
  if (c == kAllow || c == kDeny) return o.cfg.egress.add(c == kAllow, arg);
  if (c == kNoSandbox) {
    o.sandbox = false;
    return {};
  }
  if (c == kBusyPoll) {
    long v;
    if (!parse_int(arg, 0, 1000, v)) return ferry::unexpected(std::string("--busy-poll must be 0-1000 microseconds: ") + arg);
    o.busy_poll_us = unsigned(v);
    return {};
  }
  struct Bound {
    int code;
    const char* name;
    size_t core::Limits::*field;
    long max;
  };
  static const Bound bounds[] = {
      {kMaxTcp, "--max-tcp-flows", &core::Limits::tcp_flows, 1 << 22},
      {kMaxHalfOpen, "--max-tcp-half-open", &core::Limits::tcp_half_open, 1 << 22},
      {kMaxUdp, "--max-udp-flows", &core::Limits::dgram_flows, 1 << 22},
      {kMaxUdpPerPort, "--max-udp-flows-per-port", &core::Limits::dgram_per_port, 65535},
      {kMaxDns, "--max-dns-queries", &core::Limits::dns_queries, 1 << 22},
      {kMaxReasm, "--max-reasm-datagrams", &core::Limits::reasm_slots, 4096},
  };
  for (const auto& b : bounds) {
    if (b.code != c) continue;
    long v;
    if (!parse_int(arg, 1, b.max, v))
      return ferry::unexpected(std::string(b.name) + " must be a number 1-" + std::to_string(b.max) + ": " + arg);
    o.limits.*b.field = size_t(v);
    return {};
  }
  return ferry::unexpected(std::string("unknown ferry option"));
}

}  // namespace ferry::cli
