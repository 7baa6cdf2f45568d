// UDP and ICMP echo translation. Each container flow (source address and
// port, destination address and port; for ICMP echo, the identifier stands
// in for the source port) gets one connected host socket: UDP, or an
// unprivileged ICMP echo socket (net.ipv4.ping_group_range). Datagrams go
// out with send(), replies come back from the same socket and are sent to
// the container from the address it wrote to, so a DNS query to the DNS
// address is answered from the DNS address although the host's resolver
// served it.
//
// Flows expire after an idle time (UDP 60 s, DNS 10 s, ICMP 30 s); the oldest
// is evicted when the table is full. Replies are received in batches of 16
// (recvmmsg) straight into frame-shaped buffers, up to a budget of 64 per
// readiness event so one busy flow cannot starve the others.
#pragma once

#include "netstack/core/context.hpp"
#include "netstack/core/flow_index.hpp"
#include "netstack/wire/ipv4.hpp"

#include <functional>
#include <span>
#include <vector>

namespace ferry::core {

struct DgramFlow {
  bool used = false;
  bool icmp = false;
  bool dns = false;
  uint32_t gen = 0;
  int fd = -1;
  FlowKey key{};  // for ICMP: cport is the container's echo identifier, dport 0
  uint64_t last_active_ms = 0;
  bool pending = false;  // in Dgram::pending_
};

class Dgram {
 public:
  static constexpr uint64_t kUdpIdleMs = 60000, kDnsIdleMs = 10000, kIcmpIdleMs = 30000;
  static constexpr int kRecvBudget = 64;
  static constexpr size_t kBatch = 16;  // datagrams per recvmmsg

  Dgram(Context& ctx, size_t max_flows);

  void on_udp(const L3& ip, std::span<const uint8_t> udp, uint64_t now_ms);
  // An echo request to an address other than ours (the caller answers those).
  void on_icmp_echo(const L3& ip, std::span<const uint8_t> icmp, uint64_t now_ms);
  // The tap path of a published UDP port: a datagram of the host client
  // `from` for the container's guest_port. The first one of a client opens
  // the flow on the socket make_socket() returns (connected to the client,
  // bound to the published address; the flow then owns it), so the
  // container's replies go back to that client and its later datagrams come
  // through the flow's socket.
  void on_inbound(SockAddr from, const wire::Ip6& guest, uint16_t guest_port, std::span<const uint8_t> payload,
                  uint64_t now_ms, const std::function<int()>& make_socket);
  void on_socket(uint64_t token, uint32_t events, uint64_t now_ms);
  // Expires idle flows; returns nothing, call about once a second.
  void on_timer(uint64_t now_ms);
  // Flows whose receive budget ran out with datagrams still queued: their
  // socket's poll will not report them again, so the loop comes back for
  // them (run_pending) before it sleeps.
  bool has_pending() const { return !pending_.empty(); }
  void run_pending(uint64_t now_ms);
  size_t active() const { return active_; }
  // Bounds below the table size (docs/security.md): at most `per_port` flows
  // share one container source port (UDP) or echo identifier (ICMP), at most
  // `dns` queries to the DNS forwarder are in flight. A new flow beyond a
  // bound evicts the least recently active flow of the same kind (counted:
  // dgram_evicted_port, dgram_evicted_dns; a full table: dgram_evicted_full).
  void set_limits(size_t per_port, size_t dns);
  size_t dns_active() const { return dns_active_; }

 private:
  int32_t open_flow(const FlowKey& key, bool icmp, bool dns, int fd, uint64_t now_ms);
  void close_flow(uint32_t slot);
  // Closes the least recently active flow for which pred(flow) holds.
  template <class Pred>
  void evict_oldest(Pred pred);
  uint16_t& per_port(const DgramFlow& f) { return per_port_[(f.icmp ? 65536u : 0u) + f.key.cport]; }

  Context& ctx_;
  std::vector<DgramFlow> flows_;
  std::vector<uint32_t> free_slots_;
  FlowIndex index_;
  size_t active_ = 0;
  size_t max_per_port_ = SIZE_MAX, max_dns_ = SIZE_MAX, dns_active_ = 0;
  std::vector<uint16_t> per_port_;  // flows per source port (UDP), then per echo id (ICMP)
  bool warned_icmp_ = false;
  std::vector<std::vector<uint8_t>> batch_;  // frame-shaped receive buffers
  std::vector<Host::MsgBuf> msgs_;
  std::vector<uint32_t> pending_, pending_now_;
};

}  // namespace ferry::core
