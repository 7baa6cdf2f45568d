// The translator's entry point: frames from the container in, host socket
// events in, timers in; frames to the container and host socket operations
// out, through the interfaces in host.hpp. Pure logic, single-threaded, no
// system calls: the io_uring loop (io/loop.hpp) drives it in production, and
// the unit tests drive it with fakes and packet scripts.
//
// Per frame: virtio-net header (checksum state) -> Ethernet (learn the
// container's MAC) -> ARP (answer for the gateway and DNS addresses) or IPv4
// (validate, reassemble fragments) -> ICMP (echo for our own addresses is
// answered here, other echo goes to Dgram), UDP (Dgram; DHCP to the
// server in Dhcp4Server), TCP (Tcp).
#pragma once

#include "netstack/core/config.hpp"
#include "netstack/core/context.hpp"
#include "netstack/core/counters.hpp"
#include "netstack/core/dgram.hpp"
#include "netstack/core/dhcp4.hpp"
#include "netstack/core/dhcp6.hpp"
#include "netstack/core/emit.hpp"
#include "netstack/core/host.hpp"
#include "netstack/core/reasm.hpp"
#include "netstack/core/tcp.hpp"

#include <optional>
#include <span>
#include <string>

namespace ferry::core {

// What a container can make ferry hold at most (docs/security.md lists the
// defaults and the options that change them). Each flow holds one host
// socket, so tcp_flows + dgram_flows is also the fd budget of the translator
// (io/limits.hpp fits it under RLIMIT_NOFILE).
struct Limits {
  size_t tcp_flows = 16384;      // --max-tcp-flows: SYNs beyond are refused (RST, flow_table_full)
  size_t tcp_half_open = 1024;   // --max-tcp-half-open: connecting/SYN-ACK sent (RST, tcp_half_open_full)
  size_t dgram_flows = 4096;     // --max-udp-flows: UDP + ICMP echo flows; LRU evicted when full
  size_t dgram_per_port = 1024;  // --max-udp-flows-per-port: per container source port / echo id
  size_t dns_queries = 256;      // --max-dns-queries: DNS forwarder queries in flight
  size_t reasm_slots = 16;       // --max-reasm-datagrams: datagrams in reassembly, 64 KiB each
  uint64_t reasm_timeout_ms = 30000;
};

class Stack {
 public:
  static constexpr uint64_t kHousekeepingMs = 1000;

  Stack(const NetConfig& cfg, Host& host, TapOut& tap, Random& rng, bool vnet, const Limits& limits = {});

  // One frame read from the tap (starting with the virtio-net header when
  // vnet is on).
  void on_frame(std::span<const uint8_t> frame, uint64_t now_ms);
  void on_socket(uint64_t token, uint32_t events, uint64_t now_ms);
  void on_timer(uint64_t now_ms);
  // The tap path of a published port (see Tcp::open_inbound), for a client
  // of either family: IPv6 ones only once the container has shown its IPv6
  // address (reaches_guest()).
  bool open_inbound(int fd, SockAddr from, uint16_t guest_port, uint64_t now_ms) {
    wire::Ip6 guest;
    if (!guest_for(from, guest)) {
      ctx_.host.close(fd, true);
      return false;
    }
    return tcp_.open_inbound(fd, from, guest, guest_port, now_ms);
  }
  // The tap path of a published UDP port (see Dgram::on_inbound).
  void udp_inbound(SockAddr from, uint16_t guest_port, std::span<const uint8_t> payload, uint64_t now_ms,
                   const std::function<int()>& make_socket) {
    wire::Ip6 guest;
    if (guest_for(from, guest)) dgram_.on_inbound(from, guest, guest_port, payload, now_ms, make_socket);
  }
  // Whether a client of this family can take the tap path: always for
  // IPv4; for IPv6 once ferry knows the container's address in the prefix
  // (learn_guest6: from duplicate address detection or its traffic).
  bool reaches_guest(bool v6) const { return !v6 || guest6_.has_value(); }
  // End of a batch of events: sends the queued datagrams, serves sockets
  // whose receive budget ran out, sends coalesced ACKs.
  void flush(uint64_t now_ms) {
    dgram_.flush_out();
    dgram_.run_pending(now_ms);
    tcp_.flush();
  }
  // Work left that no poll will report again: the loop must not sleep.
  bool has_pending() const { return dgram_.has_pending(); }
  // When on_timer() wants to run next (absolute ms).
  uint64_t next_deadline() const;

  const Counters& counters() const { return ctr_; }
  std::string stats() const { return ctr_.format(tcp_.active(), dgram_.active()); }
  const Tcp& tcp() const { return tcp_; }
  const Dgram& dgram() const { return dgram_; }
  const std::optional<wire::Ip6>& guest6() const { return guest6_; }
  const Dhcp4Server& dhcp() const { return dhcp_; }

 private:
  void on_arp(std::span<const uint8_t> body);
  void on_ipv4(std::span<const uint8_t> pkt, bool csum_ok, uint64_t now_ms);
  void on_ipv6(std::span<const uint8_t> pkt, bool csum_ok, uint64_t now_ms);
  void on_icmp(const L3& ip, std::span<const uint8_t> l4, uint64_t now_ms);

  NetConfig cfg_;
  Counters ctr_;
  Emitter out_;
  Context ctx_;
  Tcp tcp_;
  Dgram dgram_;
  Dhcp4Server dhcp_;
  Dhcp6Server dhcp6_;
  Reassembler reasm_;
  void learn_guest6(const wire::Ip6& addr, bool from_dad);
  bool guest_for(const SockAddr& from, wire::Ip6& guest) const {
    if (from.is_v4()) guest = wire::Ip6::mapped(cfg_.guest);
    else if (guest6_) guest = *guest6_;
    else return false;
    return true;
  }

  bool vnet_;
  // The container's IPv6 address, learnt from its packets (see reaches_guest).
  std::optional<wire::Ip6> guest6_;
  uint64_t next_housekeeping_ = 0;
};

}  // namespace ferry::core
