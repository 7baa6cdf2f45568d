// Counters of one ferry instance: frames and bytes each way, flows, and every
// drop by reason. Plain integers, written only by the data-plane thread;
// printed on SIGUSR1 (format()).
#pragma once

#include "netstack/wire/drop.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace ferry::core {

struct Counters {
  uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  uint64_t arp_replies = 0, ndp_adverts = 0, router_adverts = 0, icmp_echo_local = 0, icmp_echo_forwarded = 0;
  uint64_t tcp_flows_opened = 0, tcp_flows_inbound = 0, tcp_flows_closed = 0, tcp_connect_refused = 0, tcp_connect_unreachable = 0;
  uint64_t tcp_resets_to_container = 0, tcp_resets_to_host = 0, tcp_retransmits = 0, tcp_partial_writes = 0;
  uint64_t tcp_bytes_to_host = 0, tcp_bytes_to_container = 0;
  uint64_t udp_flows_opened = 0, udp_flows_inbound = 0, udp_flows_expired = 0, udp_datagrams_out = 0, udp_datagrams_in = 0;
  uint64_t dns_queries = 0, fragments_in = 0, datagrams_reassembled = 0;
  // Datagram flows closed early to make room (docs/security.md): the table
  // was full, a source port / echo id had too many, too many DNS queries.
  uint64_t dgram_evicted_full = 0, dgram_evicted_port = 0, dgram_evicted_dns = 0;
  // DHCP server (core/dhcp4.hpp); malformed messages count as drop_bad_dhcp.
  uint64_t dhcp_offers = 0, dhcp_acks = 0, dhcp_naks = 0, dhcp_releases = 0, dhcp_ignored = 0;
  std::array<uint64_t, size_t(wire::Drop::count_)> drops{};

  void drop(wire::Drop d) { ++drops[size_t(d)]; }
  uint64_t dropped(wire::Drop d) const { return drops[size_t(d)]; }
  uint64_t total_drops() const {
    uint64_t n = 0;
    for (auto v : drops) n += v;
    return n;
  }
  // Human-readable, one "name value" pair per line, zero drops omitted.
  std::string format(size_t tcp_flows, size_t dgram_flows) const;
};

}  // namespace ferry::core
