// Creating the container's tap device, as slirp4netns does: a short-lived
// child process joins the target's user namespace (when it is not ours
// already) and network namespace, opens /dev/net/tun, creates the tap with a
// virtio-net header and checksum/TSO offloads, optionally configures it over
// netlink (libnl-route: link up, MTU, MAC, address, default route), and
// passes the tap's file descriptor back over a socketpair (SCM_RIGHTS). The
// parent never leaves the host's namespaces, so every host socket it opens
// later is a socket of the host.
//
// A child is needed because a process can join a user namespace only while
// it has one thread, and cannot return to its parent user namespace.
//
// The child then stays, as the namespace agent: it opens sockets inside the
// container's network namespace on request and passes them back the same
// way (NsAgent). Port forwards use it to reach the container's own loopback.
// It dies with ferry (PR_SET_PDEATHSIG) or when its socket closes. Once the
// tap is passed back it has a seccomp filter, no_new_privs and no capability
// but CAP_NET_BIND_SERVICE of its own (docs/sandbox.md).
#pragma once

#include "common/expected.hpp"
#include "netstack/core/config.hpp"

#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace ferry::io {

struct TapRequest {
  pid_t pid = 0;              // target process (--netns-type=pid), or 0
  std::string netns_path;     // target netns file (--netns-type=path)
  std::string userns_path;    // --userns-path, or empty
  std::string name = "tap0";
  bool configure = false;     // --configure
  bool sandbox = true;        // the agent's own seccomp filter (off with --no-sandbox)
  const core::NetConfig* cfg = nullptr;
};

struct Tap {
  int fd = -1;
  bool vnet = false;       // frames carry a virtio-net header
  bool offload = false;    // TUNSETOFFLOAD accepted (checksum + TSO)
  std::optional<wire::Mac> mac;  // the tap's MAC (SIOCGIFHWADDR), as the container uses it
  int agent_sock = -1;     // the namespace agent's end of the socketpair
  pid_t agent_pid = 0;
};

// The parent's handle on the namespace agent. Requests are synchronous: the
// agent answers at once (a socket() and a non-blocking connect()).
class NsAgent {
 public:
  NsAgent() = default;
  NsAgent(int sock, pid_t pid) : sock_(sock), pid_(pid) {}
  NsAgent(const NsAgent&) = delete;
  NsAgent& operator=(const NsAgent&) = delete;
  ~NsAgent();

  // A non-blocking TCP socket inside the container's network namespace with
  // a connect to addr:port started (completion shows as writability), or
  // the errno of the failure.
  ferry::Expected<int, int> tcp_connect(wire::Ip4 addr, uint16_t port);
  // The same for any family and SOCK_STREAM or SOCK_DGRAM (a UDP socket is
  // connected at once).
  ferry::Expected<int, int> connect(int type, const sockaddr* addr, socklen_t len) {
    return socket(type, nullptr, 0, false, addr, len);
  }
  // A socket inside the container's namespace, bound to `local` (with
  // SO_REUSEADDR; IPv6 v6-only) when given, then listening, and/or with a
  // connect to `addr` started when given.
  ferry::Expected<int, int> socket(int type, const sockaddr* local, socklen_t llen, bool listen, const sockaddr* addr,
                                   socklen_t len);
  // A non-blocking TCP socket in the container's namespace with a connect
  // to `addr` started, or the errno. The socket comes from a pool that the
  // agent fills kPoolBatch at a time (a socket made in the namespace stays
  // in it; ferry connects it itself), so a published port's connections
  // cost the agent one round trip per kPoolBatch rather than one each.
  ferry::Expected<int, int> stream_connect(const sockaddr* addr, socklen_t len);
  static constexpr size_t kPoolBatch = 16;
  // Ports with a listening TCP (SOCK_STREAM) or bound, unconnected UDP
  // (SOCK_DGRAM) socket in the container, IPv4 or IPv6: a bit per port.
  ferry::Expected<std::vector<uint8_t>, int> listening(int type);
  pid_t pid() const { return pid_; }

 private:
  ferry::Expected<void, int> refill(std::vector<int>& pool, int family);
  int sock_ = -1;
  pid_t pid_ = 0;
  std::vector<int> pool4_, pool6_;  // unconnected TCP sockets in the container's namespace
};

ferry::Expected<Tap, std::string> create_tap(const TapRequest& req);

}  // namespace ferry::io
