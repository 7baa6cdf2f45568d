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
#pragma once

#include "netstack/core/config.hpp"

#include "common/expected.hpp"
#include <string>
#include <sys/types.h>

namespace ferry::io {

struct TapRequest {
  pid_t pid = 0;              // target process (--netns-type=pid), or 0
  std::string netns_path;     // target netns file (--netns-type=path)
  std::string userns_path;    // --userns-path, or empty
  std::string name = "tap0";
  bool configure = false;     // --configure
  const core::NetConfig* cfg = nullptr;
};

struct Tap {
  int fd = -1;
  bool vnet = false;       // frames carry a virtio-net header
  bool offload = false;    // TUNSETOFFLOAD accepted (checksum + TSO)
};

ferry::Expected<Tap, std::string> create_tap(const TapRequest& req);

}  // namespace ferry::io
