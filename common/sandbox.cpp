// The process sandbox: see sandbox.hpp for what it does and in which order,
// docs/sandbox.md for each program's policy and how to debug a kill.
//
// System calls made here (before the filter is loaded, so they need no
// place in any allow-list): close_range, openat, unshare, write (uid_map),
// mount, mkdir(at), umount2, chdir, pivot_root, prctl, capget, capset,
// seccomp (through libseccomp).
#include "common/sandbox.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FERRY_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer) || __has_feature(leak_sanitizer)
#define FERRY_SANITIZER 1
#endif
#endif
// gcc has no macro for -fsanitize=undefined alone; meson's b_sanitize sets
// it together with address in CI, and FERRY_SANITIZE_BUILD (set by
// common/meson.build from b_sanitize) covers the rest.
#if !defined(FERRY_SANITIZER) && defined(FERRY_SANITIZE_BUILD)
#define FERRY_SANITIZER 1
#endif

namespace ferry::sandbox {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Where the new root is built before pivot_root: a folder every Linux
// system has. The tmpfs mounted on it exists only in our mount namespace.
constexpr const char* kStage = "/tmp";

bool has_cap(int cap) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (syscall(SYS_capget, &h, d) != 0) return false;
  return (d[cap / 32].effective >> (cap % 32)) & 1;
}

bool write_file(const char* path, const std::string& text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) == ssize_t(text.size());
  close(fd);
  return ok;
}

// mkdir -p of `path` (absolute) below kStage.
bool make_dirs(const std::string& path) {
  std::string cur = kStage;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      cur += '/';  // not "/" + substr: g++ 12's -Wrestrict false positive at -O3 (GCC bug 105329)
      cur.append(path, i, j - i);
      if (mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST) return false;
    }
    i = j + 1;
  }
  return true;
}

// The flags a remount must repeat: in a user namespace, mount flags of a
// mount inherited from a more privileged namespace are locked and a remount
// that would clear them fails with EPERM (mount_namespaces(7)).
unsigned long locked_flags(int fd) {
  struct statvfs s{};
  if (fstatvfs(fd, &s) != 0) return 0;
  unsigned long f = 0;
  if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (s.f_flag & ST_NODEV) f |= MS_NODEV;
  if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
  // Neither: strictatime, which a remount must name (without an atime flag
  // the kernel assumes relatime).
  if (!(f & (MS_NOATIME | MS_RELATIME))) f |= MS_STRICTATIME;
  return f;
}

ferry::Expected<void, std::string> enter_mount_namespace(std::vector<Visible> visible) {
  // Absolute paths only. A path inside another visible folder comes with
  // it, unless it must be writable and the folder is not: then it is bound
  // again, on top (sorted, so the folder is bound first).
  std::sort(visible.begin(), visible.end(), [](const Visible& a, const Visible& b) { return a.path < b.path; });
  std::vector<Visible> binds;
  for (const Visible& v : visible) {
    if (v.path.empty() || v.path[0] != '/') return ferry::unexpected("sandbox: not an absolute path: " + v.path);
    if (v.path == "/") return ferry::unexpected(std::string("sandbox: the whole root cannot stay visible"));
    if (!binds.empty() && binds.back().path == v.path) {
      binds.back().writable |= v.writable;
      continue;
    }
    const bool covered = std::any_of(binds.begin(), binds.end(), [&v](const Visible& b) {
      return v.path.compare(0, b.path.size(), b.path) == 0 && v.path[b.path.size()] == '/' &&
             (b.writable || !v.writable);
    });
    if (!covered) binds.push_back(v);
  }
  struct Source {
    int fd;
    bool dir;
    unsigned long flags;
  };
  std::vector<Source> sources;
  auto close_sources = [&sources] {
    for (const Source& s : sources) close(s.fd);
  };
  if (has_cap(CAP_SYS_ADMIN)) {
    if (unshare(CLONE_NEWNS) < 0) {
      close_sources();
      return ferry::unexpected(errno_text("sandbox: unshare(CLONE_NEWNS)"));
    }
  } else {
    // Rootless: a user namespace of our own gives the capabilities to make
    // a mount namespace; the user is mapped to itself (user_namespaces(7):
    // setgroups must be denied before an unprivileged gid_map is written).
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
      close_sources();
      return ferry::unexpected(errno_text("sandbox: unshare(CLONE_NEWUSER|CLONE_NEWNS)"));
    }
    if (!write_file("/proc/self/setgroups", "deny") ||
        !write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") ||
        !write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1")) {
      close_sources();
      return ferry::unexpected(errno_text("sandbox: mapping the user in its own user namespace"));
    }
  }
  auto fail = [&](const std::string& what) {
    auto e = ferry::unexpected(errno_text("sandbox: " + what));
    close_sources();
    return e;
  };
  // No mount event of ours may reach the host (MS_PRIVATE), and
  // pivot_root(2) refuses a shared parent mount.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return fail("making / private");
  // Opened in the new namespace (a bind's source must be a mount of the
  // caller's namespace, else EINVAL) but before the staging tmpfs hides
  // anything; then reached through /proc/self/fd.
  for (const Visible& v : binds) {
    const int fd = open(v.path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) {
      close_sources();
      return ferry::unexpected(errno_text("sandbox: " + v.path));
    }
    struct stat st{};
    fstat(fd, &st);
    // O_PATH descriptors answer fstatvfs (open(2)).
    sources.push_back({fd, S_ISDIR(st.st_mode), locked_flags(fd)});
  }

  if (mount("tmpfs", kStage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,nr_inodes=256,mode=0755") < 0)
    return fail(std::string("mounting a tmpfs on ") + kStage);
  for (size_t i = 0; i < binds.size(); ++i) {
    const std::string& path = binds[i].path;
    const std::string target = kStage + path;
    const size_t slash = path.rfind('/');
    struct stat st{};
    const bool exists = lstat(target.c_str(), &st) == 0;  // inside a folder bound before
    if (!exists && !make_dirs(sources[i].dir ? path : path.substr(0, slash))) return fail("creating " + path);
    if (!exists && !sources[i].dir) {
      const int fd = open(target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) return fail("creating " + path);
      close(fd);
    }
    const std::string src = "/proc/self/fd/" + std::to_string(sources[i].fd);
    // Recursive: a folder with mounts below it (e.g. netns files) cannot be
    // bound without them in a user namespace (EINVAL, mount(2)).
    if (mount(src.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) return fail("binding " + path);
    if (!binds[i].writable &&
        mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | sources[i].flags, nullptr) < 0)
      return fail("making " + path + " read-only");
  }
  close_sources();
  if (mount(nullptr, kStage, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) <
      0)
    return fail("making the new root read-only");
  // pivot_root(".", ".") stacks the old root on the new one; detaching it
  // leaves the new root alone (pivot_root(2), NOTES).
  if (chdir(kStage) < 0) return fail(std::string("chdir ") + kStage);
  if (syscall(SYS_pivot_root, ".", ".") < 0) return fail("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) return fail("detaching the old root");
  if (chdir("/") < 0) return fail("chdir /");
  return {};
}

ferry::Expected<void, std::string> drop_capabilities(const std::vector<int>& keep) {
  auto kept = [&keep](int c) { return std::find(keep.begin(), keep.end(), c) != keep.end(); };
  // The bounding set: PR_CAPBSET_READ fails with EINVAL past the last
  // capability the kernel knows.
  for (int c = 0; c <= 63; ++c) {
    const int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
    if (r < 0) break;
    if (r == 1 && !kept(c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
      return ferry::unexpected(errno_text("sandbox: dropping capability " + std::to_string(c) + " from the bounding set"));
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return ferry::unexpected(errno_text("sandbox: clearing the ambient capabilities"));
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (syscall(SYS_capget, &h, d) != 0) return ferry::unexpected(errno_text("sandbox: capget"));
  __user_cap_data_struct n[2]{};
  for (int c : keep) {
    const uint32_t bit = 1u << (c % 32);
    n[c / 32].permitted = (d[c / 32].permitted & bit) | n[c / 32].permitted;
  }
  for (auto& x : n) {
    x.effective = x.permitted;
    x.inheritable = 0;
  }
  if (syscall(SYS_capset, &h, n) != 0) return ferry::unexpected(errno_text("sandbox: capset"));
  return {};
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

ferry::Expected<void, std::string> load_filter(const Policy& p) {
  std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
  if (!ctx) return ferry::unexpected(std::string("sandbox: seccomp_init failed"));
  if (int r = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); r < 0)
    return ferry::unexpected("sandbox: seccomp thread sync: " + std::string(std::strerror(-r)));
  std::vector<std::string> names = p.syscalls;
  for (auto& s : sanitizer_syscalls()) names.push_back(s);
  const bool any_clone = std::find(names.begin(), names.end(), "clone") != names.end();
  for (const std::string& name : names) {
    const int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) return ferry::unexpected("sandbox: unknown system call in the allow-list: " + name);
    if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); r < 0 && r != -EEXIST)
      return ferry::unexpected("sandbox: allowing " + name + ": " + std::strerror(-r));
  }
  // Comparisons spelled out in full: libseccomp's SCMP_A1(op, a) macro
  // leaves datum_b to zero-initialisation, which clang's
  // -Wmissing-field-initializers (the fuzz build) rejects.
  for (unsigned long req : p.ioctls) {
    const scmp_arg_cmp is_req{1, SCMP_CMP_EQ, req, 0};
    if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, is_req); r < 0)
      return ferry::unexpected("sandbox: allowing ioctl " + std::to_string(req) + ": " + std::strerror(-r));
  }
  if (p.threads && !any_clone) {
    const scmp_arg_cmp is_thread{0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD};
    if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, is_thread); r < 0)
      return ferry::unexpected("sandbox: allowing clone for threads: " + std::string(std::strerror(-r)));
  }
  if (std::find(names.begin(), names.end(), "clone3") == names.end()) {
    // clone3's flags sit behind a pointer the filter cannot read: ENOSYS
    // makes glibc (>= 2.34) use clone, which the rule above judges.
    if (int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); r < 0 && r != -EEXIST)
      return ferry::unexpected("sandbox: clone3 rule: " + std::string(std::strerror(-r)));
  }
  if (int r = seccomp_load(ctx.get()); r < 0)
    return ferry::unexpected("sandbox: loading the seccomp filter: " + std::string(std::strerror(-r)));
  return {};
}

}  // namespace

void close_inherited_fds(std::span<const int> keep) {
  std::vector<int> k(keep.begin(), keep.end());
  k.erase(std::remove_if(k.begin(), k.end(), [](int fd) { return fd < 3; }), k.end());
  std::sort(k.begin(), k.end());
  unsigned from = 3;
  for (int fd : k) {
    if (unsigned(fd) > from) syscall(SYS_close_range, from, unsigned(fd) - 1, 0u);
    from = unsigned(fd) + 1;
  }
  syscall(SYS_close_range, from, ~0u, 0u);
}

std::string resolved(const std::string& path) {
  char buf[PATH_MAX];
  if (!realpath(path.c_str(), buf)) return path;
  return buf;
}

std::string folder_of(const std::string& path) {
  char buf[PATH_MAX];
  if (!realpath(path.c_str(), buf)) return {};
  std::string p = buf;
  const size_t slash = p.rfind('/');
  return slash == 0 ? "/" : p.substr(0, slash);
}

bool sanitizer_build() {
#ifdef FERRY_SANITIZER
  return true;
#else
  return false;
#endif
}

ferry::Expected<void, std::string> apply(const Policy& policy) {
  std::vector<Visible> visible = policy.visible;
  // The sanitizer runtime reads /proc/self/maps and lists /proc/self/task
  // for its reports and the leak check at exit.
  if (sanitizer_build()) visible.push_back({"/proc", false});
  if (auto r = enter_mount_namespace(std::move(visible)); !r) return r;
  return restrict(policy);
}

ferry::Expected<void, std::string> restrict(const Policy& policy) {
  if (auto r = drop_capabilities(policy.keep_caps); !r) return r;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return ferry::unexpected(errno_text("sandbox: PR_SET_NO_NEW_PRIVS"));
  return load_filter(policy);
}

std::vector<std::string> base_syscalls() {
  return {
      // memory
      "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
      // time (usually the vDSO; the system calls when it is not mapped)
      "clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday",
      // signals, abort(3), and the signal return path
      "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall", "getpid", "gettid",
      "tgkill",
      // threads and locks (glibc registers rseq and the robust list per thread)
      "futex", "sched_yield", "set_robust_list", "rseq",
      // descriptors the program holds; logging to stderr
      "read", "write", "readv", "writev", "close", "fcntl", "fstat", "newfstatat", "lseek",
      "getrandom",
      "exit", "exit_group",
  };
}

std::vector<std::string> sanitizer_syscalls() {
#ifdef FERRY_SANITIZER
  // From strace -f of the sanitized tests and from the runtime's sources
  // (sanitizer_stoptheworld_linux_libcdep.cpp, sanitizer_linux.cpp):
  // LeakSanitizer's StopTheWorld at exit clones a tracer task (no
  // CLONE_THREAD) that lists /proc/self/task, attaches to each thread with
  // ptrace and waits for it; the runtime reads /proc/self/maps with its own
  // raw (partly legacy) system calls; reports may start a symbolizer.
  return {// StopTheWorld at exit: the tracer task and its thread list
          "clone", "ptrace", "wait4", "waitid", "prctl", "getppid", "kill", "sched_getaffinity",
          // the runtime's own raw system calls (x86-64 legacy ones included):
          // /proc/self/maps, /proc/self/task, the executable's path
          "open", "openat", "stat", "lstat", "access", "getdents", "getdents64", "readlink", "readlinkat", "statx",
          "pread64", "getrlimit", "prlimit64", "uname", "getuid", "geteuid", "getgid", "getegid",
          // is-this-memory-readable probes (a pipe written to), reports
          "pipe", "pipe2", "dup", "dup2", "dup3",
          // a symbolizer started for a report (it finds none in the empty root)
          "fork", "vfork", "execve"};
#else
  return {};
#endif
}

}  // namespace ferry::sandbox
