#include "netstack/core/limits.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace ferry::core {

Limits fit_limits_to_fds(Limits l, uint64_t nofile, Forwarder fwd, std::string* note) {
  const uint64_t shares = fwd == Forwarder::possible ? 2 : 1;
  const uint64_t budget =
      nofile > kReservedFds + 2 * shares * kMinFlows ? (nofile - kReservedFds) / shares : 2 * kMinFlows;
  const uint64_t want = l.tcp_flows + l.dgram_flows;
  if (want <= budget) return l;
  const Limits asked = l;
  auto scale = [&](size_t v) { return std::max<size_t>(kMinFlows, size_t(v * budget / want)); };
  l.tcp_flows = scale(asked.tcp_flows);
  l.dgram_flows = scale(asked.dgram_flows);
  l.tcp_half_open = std::min(l.tcp_half_open, std::max<size_t>(1, l.tcp_flows / 4));
  l.dgram_per_port = std::min(l.dgram_per_port, std::max<size_t>(1, l.dgram_flows / 4));
  l.dns_queries = std::min(l.dns_queries, std::max<size_t>(1, l.dgram_flows / 4));
  if (note)
    *note = fmt::format(
        "descriptor limit {}: flow limits lowered to {} TCP (half-open {}), {} UDP/ICMP (per port {}, DNS {}) "
        "(asked for {} TCP, {} UDP/ICMP)",
        nofile, l.tcp_flows, l.tcp_half_open, l.dgram_flows, l.dgram_per_port, l.dns_queries, asked.tcp_flows,
        asked.dgram_flows);
  return l;
}

}  // namespace ferry::core
