// UDP and ICMP echo translation. Each container flow (source address and
// port, destination address and port; for ICMP echo, the identifier stands
// in for the source port) gets one connected host socket: UDP, or an
// unprivileged ICMP echo socket (net.ipv4.ping_group_range). Datagrams go
// out with send(), replies come back from the same socket and are sent to
// the container from the address it wrote to, so a DNS query to the DNS
// address is answered from the DNS address although the host's resolver
// served it.
//
// Datagrams from the container are not sent one by one: on_udp() queues
// them (a copy into one staging buffer) and flush_out(), at the end of the
// loop's batch of tap frames, sends each flow's run with one call
// (Host::dgram_send_many: one UDP GSO send, or sendmmsg), so a burst of
// 1400-byte datagrams costs the host one system call per 64 rather than one
// each. Each flow's datagrams keep their order; flows interleaved in the
// batch still get one call each.
//
// Flows expire after an idle time (UDP 60 s, DNS 10 s, ICMP 30 s); the oldest
// is evicted when the table is full. Replies are received in batches of 16
// (recvmmsg) straight into frame-shaped buffers, up to a budget of 64 per
// readiness event so one busy flow cannot starve the others.
#pragma once

#include "netstack/core/context.hpp"
#include "netstack/core/flow_index.hpp"
#include "netstack/core/zeroed.hpp"
#include "netstack/wire/ipv4.hpp"

#include <functional>
#include <memory>
#include <optional>
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
  bool gso = true;       // UDP GSO allowed (cleared when the kernel refuses it)
  // Datagrams queued for the host socket (Dgram::out_q_ indices, a chain).
  uint32_t out_head = UINT32_MAX, out_tail = UINT32_MAX;
};

class Dgram {
 public:
  static constexpr uint64_t kUdpIdleMs = 60000, kDnsIdleMs = 10000, kIcmpIdleMs = 30000;
  static constexpr int kRecvBudget = 64;
  static constexpr size_t kBatch = 16;  // datagrams per recvmmsg
  // Queued datagrams towards the host, at most (flushed early beyond).
  static constexpr size_t kOutQueue = 256, kOutBytes = 512 * 1024;

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
  // Sends the datagrams on_udp() queued; the loop calls it (Stack::flush)
  // at the end of each batch of events.
  void flush_out();
  size_t queued_out() const { return out_q_.size(); }
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
  uint16_t& per_port(const DgramFlow& f) { return (*per_port_)[(f.icmp ? 65536u : 0u) + f.key.cport]; }

  Context& ctx_;
  ZeroedArray<DgramFlow> flows_;  // zero bytes: unused (open_flow sets every field it reads)
  std::vector<uint32_t> free_slots_;
  FlowIndex index_;
  size_t active_ = 0;
  size_t max_per_port_ = SIZE_MAX, max_dns_ = SIZE_MAX, dns_active_ = 0;
  // Flows per source port (UDP), then per echo id (ICMP); set_limits
  // makes it.
  std::optional<ZeroedArray<uint16_t>> per_port_;
  bool warned_icmp_ = false;
  // kBatch frame-shaped receive buffers, back to back.
  static constexpr size_t kBatchStride = Emitter::kL4Off + Emitter::kMaxL4 + 64;
  uint8_t* batch(size_t i) { return batch_.get() + i * kBatchStride; }
  std::unique_ptr<uint8_t[]> batch_;
  std::vector<Host::MsgBuf> msgs_;
  std::vector<uint32_t> pending_, pending_now_;
  // Datagrams on their way to host sockets: payloads back to back in
  // out_buf_ (allocated on first use), in arrival order.
  struct OutDgram {
    uint32_t off, len;
    uint32_t next;  // the flow's next queued datagram, or UINT32_MAX
  };
  void drop_queued(DgramFlow& f);
  std::vector<OutDgram> out_q_;
  std::vector<uint32_t> out_flows_;  // slots with queued datagrams, in first-queued order
  std::unique_ptr<uint8_t[]> out_buf_;
  size_t out_used_ = 0;
  std::vector<Host::MsgBuf> out_msgs_;
};

}  // namespace ferry::core
