// The spliced path of TCP port forwarding: a connection accepted on a host
// listener is bridged to a socket that ferry's namespace agent opens inside
// the container's network namespace, connected to the container's own
// loopback (127.0.0.1:port; if that refuses, the guest address). Bytes move
// socket -> pipe -> socket with splice(2), kernel to kernel, never through
// ferry's memory and never through the tap.
//
// Per connection: two sockets and two pipes (one per direction, 1 MiB when
// the system allows; the empty pipes of finished connections are reused). Readiness comes from the io_uring loop (multishot POLLIN
// on both sockets, one-shot POLLOUT when a pipe cannot be emptied); each
// direction runs: splice(in -> pipe) while the pipe has room, splice(pipe ->
// out) until it is empty or `out` is full. End of stream in one direction
// becomes shutdown(SHUT_WR) on the other socket once its pipe is empty; a
// reset or error on either side resets both. Removing a forward closes its
// listener; connections already open finish normally.
//
// The path is chosen per connection: clients on the host's loopback are
// spliced (the container sees 127.0.0.1 or ::1, its own loopback); other
// clients, IPv4 and IPv6, go through the tap (set_tap_path), so the
// container sees their address.
#pragma once

#include "common/expected.hpp"
#include "netstack/io/loop.hpp"
#include "portfwd/api.hpp"
#include "portfwd/endpoint.hpp"
#include "netstack/io/tap.hpp"
#include "netstack/wire/bytes.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ferry::portfwd {

class SpliceForwarder : public io::EventSink {
 public:
  static constexpr uint8_t kKind = 3;  // io::Loop token kind

  SpliceForwarder(io::Loop& loop, io::NsAgent& agent);
  ~SpliceForwarder() override;

  // Listens on `bind` (TCP; v6only for an IPv6 listener that has an IPv4
  // twin) and forwards each connection to the first of `targets` (addresses
  // inside the container, tried in order while they refuse). With tap_ok,
  // clients not on the host's loopback take the tap path instead.
  // Returns an id, or an error text naming the cause
  // ("bind 0.0.0.0:8080: Address already in use").
  Expected<uint32_t, std::string> add_tcp(const Endpoint& bind, bool v6only, std::vector<Endpoint> targets,
                                          bool tap_ok);
  // The other way (pasta's -T): `listen_fd` is a listening socket the
  // namespace agent made inside the container; each connection goes to the
  // first of `host_targets` that accepts (on the host, e.g. its loopback).
  uint32_t add_tcp_outbound(int listen_fd, std::vector<Endpoint> host_targets);
  // Stops accepting; open connections go on.
  bool remove(uint32_t id);

  void on_event(uint64_t token, uint32_t events, uint64_t now_ms) override;
  // Moves the data of every connection that had events in this loop turn,
  // once per direction (several completions for one socket cost one pump).
  void flush() override;

  // The tap path: given an accepted connection whose client is not on the
  // host's loopback, hand it to the translator (Stack::open_inbound) so the
  // container sees the client's address. Arguments: the socket, the
  // client's and the local address (IPv4 as ::ffff:a.b.c.d), the container
  // port. Returns whether it took the socket (ownership passes); false
  // (e.g. an IPv6 client while the container's IPv6 address is not yet
  // known) splices the connection instead. Unset: every connection is
  // spliced.
  using TapPath = std::function<bool(int fd, core::SockAddr peer, core::SockAddr local, uint16_t guest_port)>;
  void set_tap_path(TapPath p) { tap_path_ = std::move(p); }

  size_t connections() const { return active_conns_; }

 private:
  struct Listener {
    bool used = false;
    bool tap_ok = false;
    bool outbound = false;  // container -> host (targets are host addresses)
    uint32_t id = 0;
    int fd = -1;
    std::vector<Endpoint> targets;
  };
  struct Pipe {
    int r = -1, w = -1;
    size_t pending = 0;  // bytes in the pipe
  };
  struct Conn {
    bool used = false;
    bool connecting = false;
    bool outbound = false;
    size_t next_target = 0;
    std::vector<Endpoint> targets;
    uint32_t gen = 0;
    int host = -1, ctr = -1;
    Pipe to_ctr, to_host;
    bool host_eof = false, ctr_eof = false;      // read side ended
    bool host_shut = false, ctr_shut = false;    // write side shut
    uint8_t want = 0;                            // kToCtr / kToHost: directions to pump at flush()
  };
  static constexpr uint8_t kToCtr = 1, kToHost = 2;

  uint64_t token(uint32_t slot, uint8_t role) const;
  void accept_all(Listener& l);
  // Out of descriptors (accept4 failed with EMFILE/ENFILE): gives up the
  // spare descriptor to accept one queued connection and reset it, then
  // takes the spare back. False when there is no spare (or nothing queued).
  bool turn_away_one(Listener& l);
  void start_conn(int host_fd, const Listener& l);
  // A pipe for a new connection: an idle one of the pool, or a new one.
  bool take_pipe(Pipe& p);
  // Closes the idle pipes (the descriptor table is full); false if none.
  bool drop_pipe_pool();
  // Starts a connect to the next target that does not fail at once.
  bool connect_ctr(Conn& c, uint32_t slot);
  // Whether a connect that returned EINPROGRESS has completed already.
  static bool connected_now(int fd);
  // The connect completed: watch both sockets and pump both directions.
  void established(Conn& c, uint32_t slot);
  void on_conn_event(uint32_t slot, uint8_t role, uint32_t events);
  // Moves data from `in` through `p` to `out`; false on a fatal error.
  bool pump(int in, Pipe& p, int out, bool& in_eof, bool& out_shut, bool other_shut, uint32_t slot,
            uint8_t out_role);
  void close_conn(uint32_t slot, bool reset);
  // Pumps the directions in c.want; closes the connection when it is over.
  void pump_wanted(uint32_t slot);

  io::Loop& loop_;
  io::NsAgent& agent_;
  std::vector<Listener> listeners_;
  std::vector<Conn> conns_;
  uint32_t next_id_ = 1;
  size_t active_conns_ = 0;
  TapPath tap_path_;
  std::vector<uint32_t> dirty_;  // slots with want != 0
  // Held only to be closed when the descriptor table is full, so that a
  // connection waiting in a listener's queue can still be accepted and
  // reset: left there, its client would wait for good, because the
  // listener's poll reports new arrivals only.
  int spare_fd_ = -1;
  uint64_t turned_away_ = 0;
  // Empty pipes of connections that ended cleanly, for the next ones: a
  // pipe costs two descriptors, a 1 MiB resize and their release per
  // connection otherwise (of ~30 system calls a forwarded connection makes).
  static constexpr size_t kPipePool = 16;
  std::vector<Pipe> pipe_pool_;
};

class UdpForwarder;

// Where a forward to guest_addr:guest_port in the container goes: a forward
// to the guest's own address tries the container's loopback first (so
// services bound to 127.0.0.1 or ::1 are reached), an IPv6 listener's then
// IPv4 too (a container without IPv6 still serves an IPv6 listener), then
// the guest address. A forward to any other address goes only there.
// (guest6 is the address the API shows for the guest's IPv6 half; the
// container picks its own by SLAAC, so a forward to it goes to the
// container's loopback first too.)
std::vector<Endpoint> forward_targets(const Listener& l, wire::Ip4 guest4, const wire::Ip6& guest6);

// The data plane's Binder (api.hpp) behind the slirp4netns API and the
// command line: TCP through the SpliceForwarder, UDP through the
// UdpForwarder, IPv4 and IPv6 listeners.
class SpliceBinder : public Binder {
 public:
  SpliceBinder(SpliceForwarder& tcp, UdpForwarder& udp, wire::Ip4 guest4, const wire::Ip6& guest6)
      : tcp_(tcp), udp_(udp), guest4_(guest4), guest6_(guest6) {}
  Expected<Handle, std::string> open(const portfwd::Listener& l) override;
  void close(Handle h) override;

 private:
  SpliceForwarder& tcp_;
  UdpForwarder& udp_;
  wire::Ip4 guest4_;
  wire::Ip6 guest6_;
};

}  // namespace ferry::portfwd
