// Process creation for ferryctl: containers, the namespace holder, daemons,
// helpers in the shared namespaces. See process.hpp for the sequence.
#include "engine/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace ferry::engine {
namespace {

std::string errno_text(const std::string& what) { return what + ": " + strerror(errno); }

bool write_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= size_t(n);
  }
  return true;
}

bool read_exact(int fd, void* data, size_t len) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= size_t(n);
  }
  return true;
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, size_t(n));
  }
  return s;
}

// In a child: report `msg` (with errno) on fd and exit.
[[noreturn]] void child_fail(int fd, const std::string& msg) {
  const std::string m = msg + ": " + strerror(errno);
  write_all(fd, m.data(), m.size());
  _exit(127);
}

bool write_proc(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == ssize_t(text.size());
  close(fd);
  return ok;
}

// /etc/subuid or /etc/subgid: the first range of `user` (name or numeric id).
bool subid_range(const char* file, const std::string& name, unsigned id, unsigned long& start,
                 unsigned long& count) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ss(line);
    std::string who, s, c;
    if (!std::getline(ss, who, ':') || !std::getline(ss, s, ':') || !std::getline(ss, c)) continue;
    if (who != name && who != std::to_string(id)) continue;
    start = std::stoul(s);
    count = std::stoul(c);
    return count > 0;
  }
  return false;
}

int run_quiet(const std::vector<std::string>& argv) {
  pid_t p = fork();
  if (p < 0) return -1;
  if (p == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  int st = 0;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Joins the user and network namespaces of ns_pid (single-threaded child).
bool join_namespaces(pid_t ns_pid) {
  const std::string base = "/proc/" + std::to_string(ns_pid) + "/ns/";
  int u = open((base + "user").c_str(), O_RDONLY | O_CLOEXEC);
  int n = open((base + "net").c_str(), O_RDONLY | O_CLOEXEC);
  if (u < 0 || n < 0) return false;
  if (setns(u, CLONE_NEWUSER) != 0) return false;
  if (setns(n, CLONE_NEWNET) != 0) return false;
  close(u);
  close(n);
  return true;
}

// Closes every descriptor >= 3 but those in keep (-1 entries ignored).
void close_except(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int k : keep) {
    if (k < int(from)) continue;
    if (unsigned(k) > from) syscall(SYS_close_range, from, unsigned(k) - 1, 0);
    from = unsigned(k) + 1;
  }
  syscall(SYS_close_range, from, ~0U, 0);
}

// Signals the monitor ignores or handles go back to their defaults in children.
void default_signals() {
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) signal(sig, SIG_DFL);
}

// Creates `path` as an empty file when missing (a bind-mount target).
bool ensure_file(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno == EISDIR;
  close(fd);
  return true;
}

// In init, before exec: every mount the container sees. Returns "" or what failed.
std::string setup_mounts(const SpawnSpec& spec) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno_text("make / private");
  if (spec.rootfs.empty()) {
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      return errno_text("mount /proc");
    if (spec.new_netns) mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    if (!spec.resolv_conf.empty()) mount(spec.resolv_conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr);
    if (!spec.hosts.empty()) mount(spec.hosts.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr);
    return {};
  }
  const std::string& r = spec.rootfs;
  if (mount(r.c_str(), r.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return errno_text("bind " + r);
  for (const char* d : {"/proc", "/dev", "/sys", "/etc", "/tmp"}) mkdir((r + d).c_str(), 0755);
  if (mount("proc", (r + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return errno_text("mount " + r + "/proc");
  if (mount("tmpfs", (r + "/dev").c_str(), "tmpfs", MS_NOSUID, "mode=755,size=65536k") != 0)
    return errno_text("mount " + r + "/dev");
  for (const char* d : {"null", "zero", "full", "random", "urandom", "tty"}) {
    const std::string dst = r + "/dev/" + d;
    ensure_file(dst);
    mount((std::string("/dev/") + d).c_str(), dst.c_str(), nullptr, MS_BIND, nullptr);
  }
  mkdir((r + "/dev/shm").c_str(), 01777);
  mount("shm", (r + "/dev/shm").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k");
  if (symlink("/proc/self/fd", (r + "/dev/fd").c_str()) != 0 && errno != EEXIST) return errno_text("dev/fd");
  if (spec.new_netns) mount("sysfs", (r + "/sys").c_str(), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  for (auto [src, dst] : {std::pair{spec.resolv_conf, std::string("/etc/resolv.conf")},
                          std::pair{spec.hosts, std::string("/etc/hosts")}}) {
    if (src.empty()) continue;
    const std::string target = r + dst;
    if (!ensure_file(target)) return errno_text("create " + target);
    if (mount(src.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) return errno_text("bind " + target);
  }
  if (chdir(r.c_str()) != 0) return errno_text("chdir " + r);
  if (syscall(SYS_pivot_root, ".", ".") != 0) return errno_text("pivot_root " + r);
  if (umount2(".", MNT_DETACH) != 0) return errno_text("detach the old root");
  if (chdir("/") != 0) return errno_text("chdir /");
  return {};
}

[[noreturn]] void run_init(const SpawnSpec& spec, int go_rd, int err_wr) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  default_signals();
  char go = 0;
  if (!read_exact(go_rd, &go, 1) || go != 'g') _exit(126);  // the monitor gave up
  close(go_rd);
  if (auto e = setup_mounts(spec); !e.empty()) {
    write_all(err_wr, e.data(), e.size());
    _exit(127);
  }
  if (spec.new_netns && !spec.hostname.empty()) sethostname(spec.hostname.c_str(), spec.hostname.size());
  if (spec.out_fd >= 0) {
    if (!spec.keep_stdin) {
      int null = open("/dev/null", O_RDONLY);
      if (null < 0) child_fail(err_wr, "open /dev/null");
      dup2(null, 0);
    }
    dup2(spec.out_fd, 1);
    dup2(spec.out_fd, 2);
  }
  clearenv();
  setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  setenv("HOSTNAME", spec.hostname.c_str(), 1);
  setenv("HOME", "/root", 1);
  setenv("TERM", "xterm", 1);
  for (const auto& kv : spec.env) {
    auto eq = kv.find('=');
    setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  if (chdir("/") != 0) child_fail(err_wr, "chdir /");
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  std::vector<char*> argv;
  for (const auto& s : spec.cmd) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  child_fail(err_wr, "cannot run '" + spec.cmd[0] + "'");
}

}  // namespace

Expected<void, std::string> map_ids(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid) + "/";
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  if (uid == 0) {
    if (!write_proc(base + "uid_map", "0 0 4294967295\n") || !write_proc(base + "gid_map", "0 0 4294967295\n"))
      return unexpected(errno_text("cannot write the id maps of " + std::to_string(pid)));
    return {};
  }
  std::string name = std::to_string(uid);
  if (passwd* pw = getpwuid(uid)) name = pw->pw_name;
  unsigned long us = 0, uc = 0, gs = 0, gc = 0;
  if (subid_range("/etc/subuid", name, uid, us, uc) && subid_range("/etc/subgid", name, uid, gs, gc)) {
    const std::string p = std::to_string(pid);
    if (run_quiet({"newuidmap", p, "0", std::to_string(uid), "1", "1", std::to_string(us), std::to_string(uc)}) == 0 &&
        run_quiet({"newgidmap", p, "0", std::to_string(gid), "1", "1", std::to_string(gs), std::to_string(gc)}) == 0)
      return {};
    // newuidmap missing or refused: the caller alone, below.
  }
  write_proc(base + "setgroups", "deny");
  if (!write_proc(base + "uid_map", "0 " + std::to_string(uid) + " 1\n") ||
      !write_proc(base + "gid_map", "0 " + std::to_string(gid) + " 1\n"))
    return unexpected(errno_text("cannot write the id maps of " + std::to_string(pid)));
  return {};
}

Expected<Spawned, std::string> spawn_container(const SpawnSpec& spec) {
  int sync[2], maps[2], go[2], err[2];  // shim -> monitor, monitor -> shim, monitor -> init, init -> monitor
  if (pipe2(sync, O_CLOEXEC) || pipe2(maps, O_CLOEXEC) || pipe2(go, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    return unexpected(errno_text("pipe"));
  int userns_fd = -1;
  if (spec.join_userns_of > 0) {
    userns_fd = open(("/proc/" + std::to_string(spec.join_userns_of) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
    if (userns_fd < 0) return unexpected(errno_text("open the shared user namespace"));
  }
  const pid_t monitor = getpid();
  pid_t shim = fork();
  if (shim < 0) return unexpected(errno_text("fork"));
  if (shim == 0) {
    close(sync[0]);
    close(maps[1]);
    close(go[1]);
    close(err[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != monitor) _exit(1);
    // Keep only what the shim and init use: the monitor's other descriptors
    // (its state lock, its status pipe) must not live on in the container.
    close_except({sync[1], maps[0], go[0], err[1], userns_fd, spec.out_fd});
    char c = 0;
    if (userns_fd >= 0) {
      if (setns(userns_fd, CLONE_NEWUSER) != 0) child_fail(err[1], "join the shared user namespace");
      close(userns_fd);
    } else {
      if (unshare(CLONE_NEWUSER) != 0) child_fail(err[1], "unshare the user namespace");
      c = 'u';
      write_all(sync[1], &c, 1);
      if (!read_exact(maps[0], &c, 1)) _exit(1);
    }
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) child_fail(err[1], "become root in the user namespace");
    setgroups(0, nullptr);  // refused when setgroups is denied; then there are none anyway
    int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID;
    if (spec.new_netns) flags |= CLONE_NEWNET;
    if (unshare(flags) != 0) child_fail(err[1], "unshare the container's namespaces");
    pid_t init = fork();
    if (init < 0) child_fail(err[1], "fork the container's init");
    if (init == 0) {
      close(sync[1]);
      run_init(spec, go[0], err[1]);
    }
    close(go[0]);
    close(err[1]);
    write_all(sync[1], &init, sizeof init);
    close(sync[1]);
    int st = 0;
    while (waitpid(init, &st, 0) < 0 && errno == EINTR) {
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  }
  if (userns_fd >= 0) close(userns_fd);
  close(sync[1]);
  close(maps[0]);
  close(go[0]);
  close(err[1]);
  Spawned s;
  s.shim = shim;
  s.go_fd = go[1];
  s.err_fd = err[0];
  auto fail = [&](const std::string& msg) -> Expected<Spawned, std::string> {
    close(sync[0]);
    close(maps[1]);
    std::string why = read_all(s.err_fd);  // the shim's own error, if it sent one
    kill_container(s);
    return unexpected(why.empty() ? msg : why);
  };
  if (spec.join_userns_of <= 0) {
    char c = 0;
    if (!read_exact(sync[0], &c, 1)) return fail("the container's shim exited early");
    if (auto m = map_ids(shim); !m) return fail(m.error());
    c = 'm';
    write_all(maps[1], &c, 1);
  }
  if (!read_exact(sync[0], &s.init, sizeof s.init)) return fail("the container's shim exited early");
  close(sync[0]);
  close(maps[1]);
  return s;
}

Expected<void, std::string> release_container(Spawned& s) {
  const char g = 'g';
  write_all(s.go_fd, &g, 1);
  close(s.go_fd);
  s.go_fd = -1;
  std::string why = read_all(s.err_fd);
  close(s.err_fd);
  s.err_fd = -1;
  if (!why.empty()) return unexpected(why);
  return {};
}

void kill_container(Spawned& s) {
  if (s.go_fd >= 0) close(s.go_fd);
  if (s.err_fd >= 0) close(s.err_fd);
  s.go_fd = s.err_fd = -1;
  if (s.init > 0) kill(s.init, SIGKILL);
  if (s.shim > 0) {
    kill(s.shim, SIGKILL);  // init follows through PR_SET_PDEATHSIG
    while (waitpid(s.shim, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  s.shim = s.init = 0;
}

Expected<pid_t, std::string> spawn_holder() {
  int sync[2], maps[2], err[2];  // holder -> monitor: pid and steps; monitor -> holder; holder's error text
  if (pipe2(sync, O_CLOEXEC) || pipe2(maps, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return unexpected(errno_text("pipe"));
  pid_t mid = fork();
  if (mid < 0) return unexpected(errno_text("fork"));
  if (mid == 0) {
    // Intermediate: makes the holder and exits (the holder is then a child
    // of init, not of this monitor). The holder alone writes to `sync`, its
    // pid first: with two writers the holder's 'u' could overtake the
    // intermediate's pid, and the monitor would read a garbled pid (and
    // SIGKILL it on the error path).
    setsid();
    pid_t h = fork();
    if (h == 0) {
      close(sync[0]);
      close(maps[1]);
      close(err[0]);
      const pid_t self = getpid();
      write_all(sync[1], &self, sizeof self);
      if (unshare(CLONE_NEWUSER) != 0) child_fail(err[1], "unshare the user namespace");
      char c = 'u';
      write_all(sync[1], &c, 1);
      if (!read_exact(maps[0], &c, 1)) _exit(1);
      if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) child_fail(err[1], "become root in the user namespace");
      if (unshare(CLONE_NEWNET) != 0) child_fail(err[1], "unshare the network namespace");
      c = 'n';
      write_all(sync[1], &c, 1);
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      syscall(SYS_close_range, 3, ~0U, 0);  // also ends `err`: the monitor reads end of file
      if (chdir("/") != 0) _exit(1);
      for (;;) pause();
    }
    _exit(h < 0 ? 1 : 0);  // no holder: the monitor reads end of file
  }
  close(sync[1]);
  close(maps[0]);
  close(err[1]);
  waitpid(mid, nullptr, 0);
  pid_t h = 0;
  auto done = [&](Expected<pid_t, std::string> r) {
    close(sync[0]);
    close(maps[1]);
    close(err[0]);
    if (!r && h > 0) kill(h, SIGKILL);
    return r;
  };
  if (!read_exact(sync[0], &h, sizeof h) || h <= 0) return done(unexpected(std::string("cannot start the namespace holder")));
  // A step that did not arrive: the holder's own message, if it sent one.
  auto why = [&](const char* what) {
    const std::string said = read_all(err[0]);
    return done(unexpected("holder: " + (said.empty() ? std::string(what) + ": the holder exited without saying why" : said)));
  };
  char c = 0;
  if (!read_exact(sync[0], &c, 1) || c != 'u') return why("cannot unshare the user namespace");
  if (auto m = map_ids(h); !m) return done(unexpected(m.error()));
  c = 'm';
  write_all(maps[1], &c, 1);
  if (!read_exact(sync[0], &c, 1) || c != 'n') return why("cannot make the network namespace");
  return done(h);
}

Expected<pid_t, std::string> spawn_daemon(const std::vector<std::string>& argv, const std::string& log_path,
                                          bool want_ready, int& ready_fd) {
  int sync[2], ready[2] = {-1, -1};
  if (pipe2(sync, O_CLOEXEC)) return unexpected(errno_text("pipe"));
  if (want_ready && pipe2(ready, O_CLOEXEC)) return unexpected(errno_text("pipe"));
  pid_t mid = fork();
  if (mid < 0) return unexpected(errno_text("fork"));
  if (mid == 0) {
    setsid();
    pid_t d = fork();
    if (d == 0) {
      default_signals();
      int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      int null = open("/dev/null", O_RDONLY);
      if (log < 0 || null < 0) _exit(127);
      dup2(null, 0);
      dup2(log, 1);
      dup2(log, 2);
      if (want_ready) dup2(ready[1], 3);  // dup2 clears close-on-exec
      syscall(SYS_close_range, want_ready ? 4 : 3, ~0U, 0);
      exec_or_die(argv);
    }
    write_all(sync[1], &d, sizeof d);
    _exit(0);
  }
  close(sync[1]);
  if (want_ready) close(ready[1]);
  waitpid(mid, nullptr, 0);
  pid_t d = 0;
  bool ok = read_exact(sync[0], &d, sizeof d) && d > 0;
  close(sync[0]);
  if (!ok) {
    if (want_ready) close(ready[0]);
    return unexpected("cannot start " + argv[0]);
  }
  ready_fd = ready[0];
  return d;
}

bool wait_ready(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  char c = 0;
  bool ok = poll(&p, 1, timeout_ms) == 1 && read(fd, &c, 1) == 1 && c == '1';
  close(fd);
  return ok;
}

Expected<ProgramResult, std::string> run_program(const std::vector<std::string>& argv, const std::string& input,
                                                 const std::vector<std::string>& extra_env, pid_t ns_pid) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return unexpected(errno_text("pipe"));
  pid_t p = fork();
  if (p < 0) return unexpected(errno_text("fork"));
  if (p == 0) {
    default_signals();
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (ns_pid > 0 && !join_namespaces(ns_pid)) {
      dprintf(2, "cannot join the namespaces of %d: %s\n", int(ns_pid), strerror(errno));
      _exit(127);
    }
    for (const auto& kv : extra_env) putenv(const_cast<char*>(kv.c_str()));
    exec_or_die(argv);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  signal(SIGPIPE, SIG_IGN);
  write_all(in[1], input.data(), input.size());
  close(in[1]);
  ProgramResult r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, size_t(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int st = 0;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

Expected<void, std::string> write_sysctl_in(pid_t ns_pid, const std::string& path, const std::string& value) {
  pid_t p = fork();
  if (p < 0) return unexpected(errno_text("fork"));
  if (p == 0) {
    if (!join_namespaces(ns_pid)) _exit(2);
    _exit(write_proc(path, value) ? 0 : 1);
  }
  int st = 0;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return unexpected("cannot write " + path + " in the shared namespace");
  return {};
}

void exec_or_die(const std::vector<std::string>& argv) {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  execv(a[0], a.data());
  dprintf(2, "cannot run %s: %s\n", a[0], strerror(errno));
  _exit(127);
}

bool wait_gone(pid_t pid, int timeout_ms) {
  if (pid <= 0) return true;
  for (int waited = 0;; waited += 20) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return true;
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    if (waited >= timeout_ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace ferry::engine
