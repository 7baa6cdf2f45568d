// UDP port forwarding. A forward is a host UDP socket bound to the published
// address and port (the listener). The first datagram of a client (its
// address and port) makes a flow, and the flow gets its own host socket,
// bound to the same local address and port and connected to the client:
// the kernel prefers a connected socket over the wildcard listener for that
// client's later datagrams, so they arrive per flow, in batches, without
// any lookup in ferry, and replies leave from the published address.
//
// Two paths, as for TCP (splice.hpp), chosen per client:
//  - relayed: clients on the host's loopback (and every client of a forward
//    to an address other than the guest's, or an IPv6 client before ferry
//    knows the container's IPv6 address) get a second
//    socket, made by the namespace agent inside the container's network
//    namespace and connected to the container's loopback (127.0.0.1; ::1
//    first for an IPv6 listener) or its address. Datagrams move between the
//    two connected sockets with recvmmsg/sendmmsg, 32 at a time. The
//    container sees its own loopback (or own address) as the source. If the
//    container answers the first datagrams with "port unreachable" (nothing
//    bound there), the flow moves on to the next address and sends again
//    what it held back (up to 8 datagrams until the first reply).
//  - tap: other clients, IPv4 and IPv6, go through the translator (TapPath, i.e.
//    core::Stack::udp_inbound), so the container sees the client's address;
//    the per-client socket then belongs to the translator's flow table.
//
// Flows end after 60 s without traffic. Removing a forward closes its
// listener; its flows go on until they are idle.
#pragma once

#include "common/expected.hpp"
#include "netstack/core/host.hpp"
#include "netstack/io/loop.hpp"
#include "netstack/io/tap.hpp"
#include "portfwd/endpoint.hpp"

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <array>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ferry::portfwd {

class UdpForwarder : public io::EventSink {
 public:
  static constexpr uint8_t kKind = 4;  // io::Loop token kind
  static constexpr uint64_t kIdleMs = 60000;
  static constexpr size_t kBatch = 32;      // datagrams per recvmmsg/sendmmsg
  static constexpr int kBudget = 256;       // datagrams per socket per loop turn
  static constexpr size_t kHold = 8;        // datagrams kept until the first reply
  static constexpr size_t kMaxFlows = 4096;

  UdpForwarder(io::Loop& loop, io::NsAgent& agent);
  ~UdpForwarder() override;

  // Binds `bind` (v6only for an IPv6 listener with an IPv4 twin) and
  // forwards to `targets` (see SpliceForwarder::add_tcp). Returns an id or
  // an error naming the cause ("bind 0.0.0.0:5353: Address already in use").
  Expected<uint32_t, std::string> add(const Endpoint& bind, bool v6only, std::vector<Endpoint> targets, bool tap_ok);
  // The other way (pasta's -U): `listen_fd` is a UDP socket the namespace
  // agent bound to `bind` inside the container; each client's datagrams go
  // to the first of `host_targets` (host addresses) that does not refuse.
  uint32_t add_outbound(int listen_fd, const Endpoint& bind, std::vector<Endpoint> host_targets);
  bool remove(uint32_t id);

  // The tap path: a datagram of a client not on the host's loopback
  // (addresses as the translator's: IPv4 as ::ffff:a.b.c.d). make_socket()
  // returns a UDP socket bound to `local` and connected to `peer` (or
  // -errno); the translator calls it when it opens the flow and then owns
  // the socket. Returns whether it took the datagram; false (an IPv6 client
  // while the container's IPv6 address is unknown) relays the client.
  using MakeSocket = std::function<int()>;
  using TapPath = std::function<bool(core::SockAddr peer, core::SockAddr local, uint16_t guest_port,
                                     std::span<const uint8_t> payload, const MakeSocket& make_socket)>;
  void set_tap_path(TapPath p) { tap_path_ = std::move(p); }

  void on_event(uint64_t token, uint32_t events, uint64_t now_ms) override;
  void flush() override;
  bool has_pending() const override { return !pending_.empty(); }

  size_t flows() const { return active_; }

 private:
  struct Listener {
    bool used = false;
    bool tap_ok = false;
    bool outbound = false;  // container -> host
    bool pending = false;
    uint32_t id = 0;
    int fd = -1;
    Endpoint bind;
    std::vector<Endpoint> targets;
  };
  struct Flow {
    bool used = false;
    bool replied = false;   // the container answered: stop holding datagrams
    bool outbound = false;  // the client is in the container, the targets on the host
    uint32_t gen = 0;
    uint8_t pending_dirs = 0;  // bit 1: host->ctr, bit 2: ctr->host (budget ran out)
    bool gso[2] = {true, true};  // UDP GSO allowed towards [0] ctr, [1] host (io::send_datagrams)
    int host = -1, ctr = -1;
    std::string key;        // listener slot + client address, in by_client_
    std::vector<Endpoint> targets;
    size_t next_target = 0;
    std::vector<std::vector<uint8_t>> held;
    // Datagrams the other socket did not take (its buffer was full), sent
    // on its POLLOUT before anything more is read: [0] to ctr, [1] to host.
    std::vector<std::vector<uint8_t>> backlog[2];
    uint64_t last_active_ms = 0;
  };

  uint64_t token(uint32_t slot, uint8_t role) const;
  void read_listener(uint32_t slot);
  void to_flow(uint32_t listener_id, const Endpoint& peer, const Endpoint& local, std::span<const uint8_t> payload,
               uint64_t now_ms);
  int open_client_socket(uint32_t listener_id, const Endpoint& local, const Endpoint& peer, bool outbound);
  bool connect_next(Flow& f, uint32_t slot);
  // Moves datagrams from one socket of the flow to the other.
  void relay(uint32_t slot, bool from_host);
  // Sends the backlog towards `to_ctr`'s socket; true when it is empty.
  bool send_backlog(Flow& f, uint32_t slot, bool to_ctr);
  void on_ctr_error(Flow& f, uint32_t slot, int err);
  void close_flow(uint32_t slot);
  void ensure_buffers();

  io::Loop& loop_;
  io::NsAgent& agent_;
  std::vector<Listener> listeners_;
  std::vector<Flow> flows_;
  std::map<std::string, uint32_t> by_client_;
  uint32_t next_id_ = 1;
  size_t active_ = 0;
  TapPath tap_path_;
  std::vector<uint64_t> pending_, pending_now_;  // tokens to serve again
  // Datagrams found queued on a new client socket in the moment between
  // its bind() and connect() (another client's, maybe): served afterwards.
  struct Stolen {
    Endpoint peer, local;
    uint32_t listener_id;
    std::vector<uint8_t> data;
  };
  std::vector<Stolen> stolen_;
  uint64_t next_expiry_ = 0;
  // Receive buffers, allocated with the first forward.
  std::vector<std::unique_ptr<uint8_t[]>> bufs_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_storage> names_;
  std::vector<std::array<uint8_t, 64>> ctrl_;
};

}  // namespace ferry::portfwd
