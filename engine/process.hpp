// Processes ferryctl starts: containers, the namespace holder, daemons, and
// helper programs run inside the shared rootless namespaces.
//
// A container is three processes:
//   monitor (ferryctl, host namespaces; main.cpp) -> shim -> init.
// The shim makes (or, for bridge networks, joins) the user namespace; the
// monitor writes its id maps (newuidmap/newgidmap when /etc/subuid lists the
// user: container root = the caller, 1.. = subordinate ids; else the caller
// alone as root; root's own maps are the identity). The shim then unshares
// mount, UTS, IPC, PID and network namespaces and forks init, pid 1 of the
// new PID namespace, whose host pid it reports back. init waits for "go"
// (sent once the network is set up), then makes its mounts private, pivots
// into --rootfs (with /proc, a small /dev, /sys and the engine-written
// /etc/resolv.conf and /etc/hosts bind-mounted), sets the hostname and
// environment and execs the command. Errors before exec travel back on a
// close-on-exec pipe, so the monitor learns whether the exec happened.
// PR_SET_PDEATHSIG ties init to the shim and the shim to the monitor, so
// nothing survives a monitor that dies.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/expected.hpp"

namespace ferry::engine {

struct SpawnSpec {
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // K=V, on top of PATH, HOSTNAME, TERM, HOME
  std::string rootfs;            // absolute, "" = the host's file system
  std::string hostname;
  std::string resolv_conf;       // files bind-mounted onto /etc/...
  std::string hosts;
  int out_fd = -1;               // stdout+stderr; -1 = inherit all three
  bool keep_stdin = false;       // with out_fd: stdin inherited, else /dev/null
  pid_t join_userns_of = 0;      // join this process's user namespace instead of a new one
  bool new_netns = true;         // false: --network host
};

struct Spawned {
  pid_t shim = 0;
  pid_t init = 0;  // host pid of the container's pid 1
  int go_fd = -1;  // write end: "go"
  int err_fd = -1; // read end: errors before exec
};

Expected<Spawned, std::string> spawn_container(const SpawnSpec& spec);
// Lets init go on; returns the error it met before exec, if any.
Expected<void, std::string> release_container(Spawned& s);
// SIGKILL to init, then reaps the shim.
void kill_container(Spawned& s);

// Writes the id maps of a process that just made a new user namespace.
Expected<void, std::string> map_ids(pid_t pid);

// A detached process owning a new user namespace (mapped as above) and a new
// network namespace, doing nothing else: the shared rootless netns.
Expected<pid_t, std::string> spawn_holder();

// Starts argv detached (own session, reparented to init), stdout and stderr
// to log_path. With want_ready, fd 3 of the program is the write end of a
// pipe whose read end is returned in ready_fd.
Expected<pid_t, std::string> spawn_daemon(const std::vector<std::string>& argv, const std::string& log_path,
                                          bool want_ready, int& ready_fd);

// Waits up to timeout_ms for "1" on a --ready-fd pipe (and closes it).
bool wait_ready(int fd, int timeout_ms);

struct ProgramResult {
  int status = -1;  // exit status, or 128+signal
  std::string out;
  std::string err;
};
// Runs argv to completion with `input` on stdin, capturing stdout and stderr.
// With ns_pid, in that process's user and network namespaces. extra_env is
// added to ferryctl's environment.
Expected<ProgramResult, std::string> run_program(const std::vector<std::string>& argv, const std::string& input,
                                                 const std::vector<std::string>& extra_env, pid_t ns_pid);

// Writes `value` to a /proc/sys file inside ns_pid's network namespace.
Expected<void, std::string> write_sysctl_in(pid_t ns_pid, const std::string& path, const std::string& value);

// In a forked child: execs argv[0] (a path) with argv; on failure reports
// "cannot run PATH: reason" on stderr and exits 127. Never returns.
[[noreturn]] void exec_or_die(const std::vector<std::string>& argv);

// Waits up to timeout_ms for pid to be gone (reaping it when it is our child).
bool wait_gone(pid_t pid, int timeout_ms);

}  // namespace ferry::engine
