// The process sandbox (common/sandbox.hpp) applied for real, in forked
// children: what stays visible, what is gone, capabilities and
// no_new_privs, and that a system call outside the allow-list kills the
// process with SIGSYS. Needs no root: without CAP_SYS_ADMIN the sandbox makes
// a user namespace of its own (it is skipped where user namespaces are off).
#include "common/sandbox.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <string>

namespace {

// Runs fn in a forked child; returns its wait status.
int in_child(const std::function<int()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/ferry-sandbox-test.XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() {
    unlink((path + "/file").c_str());
    unlink((path + "/link").c_str());
    rmdir((path + "/sub").c_str());
    rmdir(path.c_str());
  }
};

ferry::sandbox::Policy test_policy(const std::string& dir) {
  ferry::sandbox::Policy p;
  p.visible.push_back({dir, false});
  p.syscalls = ferry::sandbox::base_syscalls();
  p.syscalls.insert(p.syscalls.end(), {"openat", "prctl", "capget", "mkdir", "mkdirat"});
  p.keep_caps = {CAP_NET_BIND_SERVICE};
  return p;
}

TEST(Sandbox, CloseInheritedFdsKeepsOnlyTheListed) {
  const int status = in_child([] {
    const int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY), c = open("/dev/null", O_RDONLY);
    const int keep[] = {b};
    ferry::sandbox::close_inherited_fds(keep);
    if (fcntl(a, F_GETFD) != -1 || fcntl(c, F_GETFD) != -1) return 1;
    if (fcntl(b, F_GETFD) == -1 || fcntl(2, F_GETFD) == -1) return 2;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Sandbox, FolderOfFollowsLinks) {
  TempDir t;
  ASSERT_EQ(mkdir((t.path + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(symlink((t.path + "/sub/target").c_str(), (t.path + "/link").c_str()), 0);
  EXPECT_EQ(ferry::sandbox::folder_of(t.path + "/link"), "");  // dangling: nothing to bind
  const int fd = open((t.path + "/file").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  unlink((t.path + "/link").c_str());
  ASSERT_EQ(symlink((t.path + "/file").c_str(), (t.path + "/link").c_str()), 0);
  EXPECT_EQ(ferry::sandbox::folder_of(t.path + "/link"), ferry::sandbox::resolved(t.path));
  EXPECT_EQ(ferry::sandbox::resolved(t.path + "/link"), ferry::sandbox::resolved(t.path + "/file"));
  EXPECT_EQ(ferry::sandbox::resolved("/no/such/path"), "/no/such/path");
}

TEST(Sandbox, OnlyTheVisibleFolderRemainsAndCapabilitiesAreGone) {
  TempDir t;
  const int fd = open((t.path + "/file").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  const std::string dir = t.path;
  const int status = in_child([&dir] {
    if (auto r = ferry::sandbox::apply(test_policy(dir)); !r) {
      std::fprintf(stderr, "%s\n", r.error().c_str());
      return r.error().find("unshare") != std::string::npos ? 77 : 10;  // no user namespaces here
    }
    if (open((dir + "/file").c_str(), O_RDONLY) < 0) return 11;        // the visible folder
    if (open((dir + "/file").c_str(), O_WRONLY) >= 0 || errno != EROFS) return 12;  // read-only
    if (open("/etc/passwd", O_RDONLY) >= 0 || errno != ENOENT) return 13;         // the rest is gone
    if (open("/home", O_RDONLY) >= 0) return 14;
    if (mkdir("/x", 0755) == 0 || errno != EROFS) return 15;  // the new root is read-only
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 16;
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (syscall(SYS_capget, &h, d) != 0) return 17;
    if ((d[0].effective & ~(1u << CAP_NET_BIND_SERVICE)) || d[1].effective || d[0].inheritable) return 18;
    for (int c = 0; c < 41; ++c)
      if (c != CAP_NET_BIND_SERVICE && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) return 19;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot make a mount namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Sandbox, ACallOutsideTheAllowListKillsWithSigsys) {
  TempDir t;
  const std::string dir = t.path;
  const int status = in_child([&dir] {
    if (auto r = ferry::sandbox::apply(test_policy(dir)); !r) return r.error().find("unshare") != std::string::npos ? 77 : 10;
    // socket(2) is in no list of this policy, sanitizer build or not.
    syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
    return 0;
  });
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot make a mount namespace here";
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST(Sandbox, UnknownSystemCallNameIsAClearError) {
  TempDir t;
  const std::string dir = t.path;
  const int status = in_child([&dir] {
    auto p = test_policy(dir);
    p.syscalls.push_back("no_such_call");
    auto r = ferry::sandbox::apply(p);
    if (r) return 1;
    if (r.error().find("unknown system call in the allow-list: no_such_call") != std::string::npos) return 0;
    if (r.error().find("unshare") != std::string::npos) return 77;
    std::fprintf(stderr, "%s\n", r.error().c_str());
    return 2;
  });
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot make a mount namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
