// ferry's sandbox policy: see sandbox_policy.hpp. Each system call of the
// allow-list says which code needs it; docs/sandbox.md explains how the
// list was measured (strace -f over the integration tests) and how to find
// a missing one (the kernel logs the kill: dmesg, audit type=1326).
#include "netstack/cli/sandbox_policy.hpp"

#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

namespace ferry::cli {

std::string ferry_resolv_conf(const core::NetConfig& cfg) { return sandbox::resolved(cfg.resolv_conf); }

sandbox::Policy ferry_policy(const RunOptions& o, bool api) {
  sandbox::Policy p;
  // The DNS forwarder re-reads resolv.conf when its mtime changes
  // (io/host_sockets.cpp): its folder, links followed, so that a file
  // replaced by rename(2) is seen.
  if (!o.cfg.disable_dns) {
    const std::string dir = sandbox::folder_of(o.cfg.resolv_conf);
    if (!dir.empty()) p.visible.push_back({dir, false});
  }
  // --netns-type=path: the netns file's folder is watched with inotify and
  // stat(2)ed when it changes (run.cpp watch_target).
  if (!o.req.pid && !o.req.netns_path.empty()) {
    const auto slash = o.req.netns_path.rfind('/');
    const std::string dir = sandbox::resolved(slash == std::string::npos ? "."
                                              : slash == 0               ? "/"
                                                                         : o.req.netns_path.substr(0, slash));
    p.visible.push_back({dir, false});
  }
  // The API socket's file is removed at exit (portfwd/api_server.cpp).
  if (api && !o.api_socket.empty()) {
    const std::string dir = sandbox::folder_of(o.api_socket);
    if (!dir.empty()) p.visible.push_back({dir, true});
  }
  p.syscalls = sandbox::base_syscalls();
  for (const char* s : {
           // the io_uring loop (io/loop.cpp): submit and wait, the signalfd
           // made by Loop::run, the eventfd of posted jobs
           "io_uring_enter", "io_uring_register", "signalfd4", "poll", "ppoll",
           // the busy poll (io/busy_poll.hpp): has another task taken the CPU?
           "getrusage",
           // host sockets of container flows (io/host_sockets.cpp), listeners
           // of published ports added later through the API (portfwd/)
           "socket", "connect", "bind", "listen", "accept4", "setsockopt", "getsockopt", "getsockname",
           "getpeername", "shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
           // the spliced TCP forwarder (portfwd/splice.cpp)
           "splice", "pipe2",
           // the namespace agent: sockets passed back with SCM_RIGHTS over
           // sendmsg/recvmsg; waitpid for it at exit
           "wait4",
           // pasta's detach once ready: /dev/null (opened before) onto stdio
           "dup2", "dup3",
           // resolv.conf re-reads (std::ifstream), the netns folder's stat
           "openat", "statx",
           // the API thread (Boost.Asio: epoll reactor, eventfd interrupter,
           // timerfd timers) and removing its socket file at exit
           // (accept, then ioctl FIONBIO, on the listener)
           "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "timerfd_create",
           "timerfd_settime", "accept", "unlink", "unlinkat", "sched_getaffinity",
       })
    p.syscalls.emplace_back(s);
  p.ioctls = {
      TUNGETIFF,  // io/loop.cpp: a deleted tap answers EBADFD
      SIOCOUTQ,   // io/host_sockets.cpp: bytes still queued on a socket
      SIOCINQ,    // FIONREAD
      FIONBIO,    // Boost.Asio sets sockets non-blocking this way
  };
  p.threads = true;  // the API server's thread
  p.keep_caps = {CAP_NET_BIND_SERVICE};
  return p;
}

}  // namespace ferry::cli
