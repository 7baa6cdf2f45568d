#include "netstack/io/limits.hpp"

#include "netstack/core/limits.hpp"

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace ferry::io {

core::Limits fit_limits_to_rlimit(const core::Limits& wanted, core::Forwarder fwd) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
    spdlog::warn("getrlimit(RLIMIT_NOFILE): {}; flow limits left as configured", strerror(errno));
    return wanted;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    const rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
      spdlog::debug("cannot raise the descriptor limit from {} to {}: {}", before, rl.rlim_max, strerror(errno));
      rl.rlim_cur = before;
    } else {
      spdlog::debug("descriptor limit raised from {} to {}", before, rl.rlim_cur);
    }
  }
  std::string note;
  const uint64_t nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX / 4 : uint64_t(rl.rlim_cur);
  core::Limits l = core::fit_limits_to_fds(wanted, nofile, fwd, &note);
  if (!note.empty()) spdlog::info("{}", note);
  return l;
}

}  // namespace ferry::io
