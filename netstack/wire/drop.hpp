// Why a frame from the container was dropped. Every parse failure and policy
// drop has a reason; the stack counts drops per reason (see core/counters.hpp)
// and the counters are printed on SIGUSR1.
#pragma once

#include <cstdint>

namespace ferry::wire {

#define FERRY_DROP_REASONS(X)                                                   \
  X(short_frame) X(bad_vnet_header) X(unknown_ethertype) X(not_for_us)           \
  X(bad_arp) X(bad_ip_version) X(bad_ip_header) X(bad_ip_length)                 \
  X(bad_ip_checksum) X(ip_options) X(bad_ip_address) X(fragment_dropped)         \
  X(unknown_protocol) X(bad_tcp_header) X(bad_tcp_checksum) X(bad_udp_header)    \
  X(bad_udp_checksum) X(bad_icmp) X(bad_icmp_checksum) X(tcp_no_flow)           \
  X(tcp_out_of_window) X(flow_table_full) X(host_loopback_disabled)             \
  X(udp_send_failed) X(icmp_unsupported) X(ipv6_unsupported) X(datagram_too_long) \
  X(bad_ndp) X(ipv6_extension_header)                                           \
  X(policy_denied) X(tcp_half_open_full) X(fragment_overlap)                   \
  X(fragment_timeout) X(fragment_table_full) X(bad_dhcp)

enum class Drop : uint8_t {
#define FERRY_X(name) name,
  FERRY_DROP_REASONS(FERRY_X)
#undef FERRY_X
  count_
};

const char* drop_name(Drop d);

}  // namespace ferry::wire
