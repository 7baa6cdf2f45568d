#include "netstack/core/counters.hpp"

#include <fmt/format.h>

namespace ferry::core {

std::string Counters::format(size_t tcp_flows, size_t dgram_flows) const {
  std::string s;
  auto line = [&](const char* name, uint64_t v) { s += fmt::format("{} {}\n", name, v); };
  line("frames_in", frames_in);
  line("frames_out", frames_out);
  line("bytes_in", bytes_in);
  line("bytes_out", bytes_out);
  line("tcp_flows_active", tcp_flows);
  line("tcp_flows_opened", tcp_flows_opened);
  line("tcp_flows_inbound", tcp_flows_inbound);
  line("tcp_flows_closed", tcp_flows_closed);
  line("tcp_connect_refused", tcp_connect_refused);
  line("tcp_connect_unreachable", tcp_connect_unreachable);
  line("tcp_resets_to_container", tcp_resets_to_container);
  line("tcp_resets_to_host", tcp_resets_to_host);
  line("tcp_retransmits", tcp_retransmits);
  line("tcp_partial_writes", tcp_partial_writes);
  line("tcp_bytes_to_host", tcp_bytes_to_host);
  line("tcp_bytes_to_container", tcp_bytes_to_container);
  line("dgram_flows_active", dgram_flows);
  line("udp_flows_opened", udp_flows_opened);
  line("udp_flows_inbound", udp_flows_inbound);
  line("udp_flows_expired", udp_flows_expired);
  line("udp_datagrams_out", udp_datagrams_out);
  line("udp_datagrams_in", udp_datagrams_in);
  line("dgram_evicted_full", dgram_evicted_full);
  line("dgram_evicted_port", dgram_evicted_port);
  line("dgram_evicted_dns", dgram_evicted_dns);
  line("dns_queries", dns_queries);
  line("ndp_adverts", ndp_adverts);
  line("router_adverts", router_adverts);
  line("dhcp_offers", dhcp_offers);
  line("dhcp_acks", dhcp_acks);
  line("dhcp_naks", dhcp_naks);
  line("dhcp_releases", dhcp_releases);
  line("dhcp_ignored", dhcp_ignored);
  line("arp_replies", arp_replies);
  line("icmp_echo_local", icmp_echo_local);
  line("icmp_echo_forwarded", icmp_echo_forwarded);
  line("fragments_in", fragments_in);
  line("datagrams_reassembled", datagrams_reassembled);
  for (size_t i = 0; i < drops.size(); ++i)
    if (drops[i]) s += fmt::format("drop_{} {}\n", wire::drop_name(wire::Drop(i)), drops[i]);
  return s;
}

}  // namespace ferry::core
