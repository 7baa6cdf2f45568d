// The process sandbox shared by ferry and ferry-dns (docs/sandbox.md).
//
// A program sets itself up (sockets, tap, listeners, files it keeps open),
// then calls apply() once, while it still has a single thread. apply() does,
// in this order:
//
//  1. mount namespace: unshare(CLONE_NEWNS) - with CLONE_NEWUSER first when
//     the process lacks CAP_SYS_ADMIN (rootless: a user namespace mapping the
//     user to itself, user_namespaces(7)) - then an empty read-only tmpfs as
//     the new root (pivot_root(".", ".") and a lazy unmount of the old root,
//     as passt does), holding only the host paths the policy lists, bind
//     mounted at their own paths. The network namespace is not touched: the
//     process's sockets stay host sockets.
//  2. capabilities: every one dropped from the bounding, permitted,
//     effective, inheritable and ambient sets but those the policy keeps
//     (CAP_NET_BIND_SERVICE for both programs), capabilities(7).
//  3. PR_SET_NO_NEW_PRIVS (prctl(2)): no execve can gain privileges.
//  4. seccomp: a libseccomp allow-list; any other system call kills the
//     process (SCMP_ACT_KILL_PROCESS; the kernel logs it, see
//     docs/sandbox.md). SCMP_FLTATR_CTL_TSYNC applies it to every thread.
//
// Steps 1 and 2 affect only the calling thread (unshare(2): CLONE_NEWUSER
// needs a single-threaded process; capset(2) is per thread), hence the
// single-thread rule; threads started later inherit everything.
//
// Sanitizer builds (ASan, LSan, UBSan) need more: /proc stays visible and
// the leak check at exit may clone, ptrace and wait (sanitizer_syscalls()).
#pragma once

#include "common/expected.hpp"

#include <span>
#include <string>
#include <vector>

namespace ferry::sandbox {

// A host file or folder that stays visible inside the mount namespace, at
// the same path (bind mount, recursive). Read-only unless `writable`.
struct Visible {
  std::string path;
  bool writable = false;
};

struct Policy {
  std::vector<Visible> visible;
  // System calls allowed with any arguments (libseccomp names, e.g. "read").
  std::vector<std::string> syscalls;
  // ioctl(2) requests allowed; ioctl with any other request is not.
  std::vector<unsigned long> ioctls;
  // Allow clone(2) with CLONE_THREAD (new threads); clone3(2) then fails
  // with ENOSYS so that glibc falls back to clone(2), whose flags a filter
  // can see.
  bool threads = false;
  // Capabilities kept (numbers, linux/capability.h).
  std::vector<int> keep_caps;
};

// Closes every descriptor >= 3 but those in `keep` (close_range(2)). For the
// start of a program, before it opens anything of its own.
void close_inherited_fds(std::span<const int> keep);

// The folder holding the file `path` after following symbolic links
// (realpath(3)), e.g. /run/systemd/resolve for a /etc/resolv.conf link to
// it: binding the folder, not the file, keeps a file replaced by rename(2)
// visible. Empty when the path does not resolve.
std::string folder_of(const std::string& path);

// The same file, symbolic links followed (realpath(3)), or `path` itself
// when it does not resolve.
std::string resolved(const std::string& path);

// True in a build with AddressSanitizer, LeakSanitizer or
// UndefinedBehaviorSanitizer.
bool sanitizer_build();

// Applies the sandbox (see the top of this file). Must be called while the
// process has one thread. On error nothing is undone; the message names the
// step and the cause, and the caller should exit.
ferry::Expected<void, std::string> apply(const Policy& policy);

// Steps 2-4 only (capabilities, no_new_privs, seccomp), for a process that
// must keep its view of the filesystem (ferry's namespace agent reads the
// container's /proc/net). policy.visible is ignored.
ferry::Expected<void, std::string> restrict(const Policy& policy);

// The system calls that a sanitizer runtime makes after set-up (the reports,
// LeakSanitizer's stop-the-world at exit), empty in an ordinary build.
std::vector<std::string> sanitizer_syscalls();

// System calls every program here needs: memory, time, signals, futexes,
// reading and writing descriptors it holds, exit.
std::vector<std::string> base_syscalls();

}  // namespace ferry::sandbox
