#include "netstack/io/loop.hpp"

#include <spdlog/spdlog.h>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace ferry::io {

namespace {
// user_data layout: host-socket tokens as made by core::make_token (kind 1 or
// 2 in the top byte), with bit 62 set for a one-shot POLLOUT poll; the loop's
// own fds use kinds 0x20 and up.
constexpr uint64_t kOutBit = 1ull << 62;
constexpr uint64_t kTapData = 0x20ull << 56;
constexpr uint64_t kExitData = 0x21ull << 56;
constexpr uint64_t kSignalData = 0x22ull << 56;
constexpr uint64_t kIgnoreData = 0x23ull << 56;  // poll cancellations
constexpr uint64_t kGoneData = 0x24ull << 56;
constexpr uint64_t kPostData = 0x25ull << 56;
constexpr uint64_t kTapReadData = 0x26ull << 56;
// IORING_OP_READ_MULTISHOT (Linux 6.7); Debian 12's headers predate it.
constexpr uint8_t kOpReadMultishot = 49;
constexpr uint16_t kTapBufGroup = 1;
// Provided buffers for tap frames: each holds the largest frame (a 64 KiB
// TSO segment), allocated without zeroing, so only pages frames were
// written to become resident.
// 32: measured against 8 and 64 (UDP 1400 B at 2 Gbit/s offered: 32
// forwarded the most per CPU second; 64 lost to cache misses).
constexpr unsigned kTapBufs = 32;
constexpr uint32_t kInMask = POLLIN | POLLRDHUP;
}  // namespace

static uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000 + uint64_t(ts.tv_nsec);
}

uint64_t monotonic_ms() { return monotonic_ns() / 1000000; }

// The signals the loop serves through its signalfd. They are blocked from
// the loop's construction on, before any other thread (the API server's)
// starts and inherits the mask: a signal the kernel hands to a thread that
// does not block it would take its default action (end the process).
static sigset_t loop_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGUSR1);
  return mask;
}

Loop::Loop() {
  const sigset_t mask = loop_signals();
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = 16384;  // ample room so multishot polls are not ended by overflow
  // Completion work (the tap read's copy, poll wake-ups) runs when this
  // thread waits, not as an interruption whenever an event arrives: about
  // a fifth less CPU per forwarded datagram. Only this thread submits
  // (SINGLE_ISSUER); the API thread hands work over with post(). Linux
  // 6.1; older kernels refuse the flags and get the plain ring.
  // TASKRUN_FLAG: the kernel marks the ring when deferred work is waiting,
  // so the busy poll (poll_ring) can watch memory instead of entering the
  // kernel in a loop.
  p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int r = io_uring_queue_init_params(1024, &ring_, &p);
  if (r == -EINVAL) {
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 16384;
    r = io_uring_queue_init_params(1024, &ring_, &p);
  }
  if (r < 0) throw std::runtime_error(std::string("io_uring_queue_init: ") + strerror(-r));
  in_polls_.reserve(4096);
  fd_token_.reserve(4096);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + strerror(errno));
}

void Loop::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(job));
  }
  const uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof one);
}

void Loop::run_posted() {
  uint64_t count;
  (void)!read(event_fd_, &count, sizeof count);
  std::vector<std::function<void()>> jobs;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    jobs.swap(posted_);
  }
  for (auto& job : jobs) job();
}

Loop::~Loop() {
  io_uring_queue_exit(&ring_);
  std::free(tap_br_);
  if (signal_fd_ >= 0) close(signal_fd_);
  if (event_fd_ >= 0) close(event_fd_);
}

io_uring_sqe* Loop::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (!s) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void Loop::poll_add(int fd, uint64_t user_data, uint32_t mask, bool multishot) {
  io_uring_sqe* s = sqe();
  if (multishot) io_uring_prep_poll_multishot(s, fd, mask);
  else io_uring_prep_poll_add(s, fd, mask);
  io_uring_sqe_set_data64(s, user_data);
}

void Loop::watch(int fd, uint64_t token, bool in, bool out) {
  if (in && !in_polls_.count(token)) {
    in_polls_[token] = fd;
    fd_token_[fd] = token;
    poll_add(fd, token, kInMask, true);
  }
  if (out) poll_add(fd, token | kOutBit, POLLOUT, false);
  if (!in && !fd_token_.count(fd)) fd_token_[fd] = token;
}

void Loop::forget(int fd) {
  auto it = fd_token_.find(fd);
  if (it == fd_token_.end()) return;
  const uint64_t token = it->second;
  fd_token_.erase(it);
  // Cancel both kinds of poll for this socket; their final completions carry
  // a stale token and are ignored by the stack (generation check). An
  // ASYNC_CANCEL, not a POLL_REMOVE: with DEFER_TASKRUN a poll whose wake-up
  // is queued but not yet run (the peer closed in this very batch) refuses a
  // POLL_REMOVE with -EALREADY and, being multishot, then stays armed for
  // good, holding the closed socket's file (one leaked socket per
  // connection, and a cancel lookup that grows with them). ASYNC_CANCEL
  // marks it cancelled, and the pending wake-up ends it.
  for (uint64_t ud : {token, token | kOutBit}) {
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel64(s, ud, 0);
    io_uring_sqe_set_data64(s, kIgnoreData);
  }
  in_polls_.erase(token);
}

bool Loop::setup_tap_buffers(size_t frame_max) {
  if (const char* e = std::getenv("FERRY_TAP_READ"); e && std::strcmp(e, "poll") == 0) return false;
  tap_buf_size_ = (frame_max + 4095) / 4096 * 4096;
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, 4096) != 0) return false;
  std::memset(mem, 0, 4096);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(mem);
  reg.ring_entries = kTapBufs;
  reg.bgid = kTapBufGroup;
  if (int r = io_uring_register_buf_ring(&ring_, &reg, 0); r != 0) {
    spdlog::debug("no provided buffer ring ({}): reading the tap with read()", strerror(-r));
    std::free(mem);
    return false;
  }
  tap_br_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(tap_br_);
  tap_bufs_.reset(new uint8_t[kTapBufs * tap_buf_size_]);
  for (unsigned i = 0; i < kTapBufs; ++i)
    io_uring_buf_ring_add(tap_br_, tap_bufs_.get() + i * tap_buf_size_, unsigned(tap_buf_size_), uint16_t(i),
                          io_uring_buf_ring_mask(kTapBufs), int(i));
  io_uring_buf_ring_advance(tap_br_, kTapBufs);
  return true;
}

void Loop::arm_tap_read() {
  io_uring_sqe* s = sqe();
  io_uring_prep_rw(kOpReadMultishot, s, tap_fd_, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kTapBufGroup;
  io_uring_sqe_set_data64(s, kTapReadData);
}

void Loop::use_tap_poll() {
  tap_multishot_ = false;
  rx_.resize(tap_frame_max_);
  poll_add(tap_fd_, kTapData, POLLIN, true);
  tap_pending_ = true;
}

void Loop::on_tap_read(core::Stack& stack, const io_uring_cqe& cqe, uint64_t now) {
  const int res = cqe.res;
  if (res > 0 && (cqe.flags & IORING_CQE_F_BUFFER)) {
    tap_frames_seen_ = true;
    const unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
    uint8_t* buf = tap_bufs_.get() + size_t(id) * tap_buf_size_;
    stack.on_frame(std::span<const uint8_t>(buf, size_t(res)), now);
    io_uring_buf_ring_add(tap_br_, buf, unsigned(tap_buf_size_), uint16_t(id), io_uring_buf_ring_mask(kTapBufs), 0);
    io_uring_buf_ring_advance(tap_br_, 1);
  } else if (res == -ENOBUFS || res == -EINTR || res == -EAGAIN) {
    // Every buffer was taken before this batch gave them back: the read
    // ended; it is armed again below and the tap's queue holds the frames.
  } else if (!tap_frames_seen_ && (res == -EINVAL || res == -EOPNOTSUPP || res == -EBADF)) {
    spdlog::debug("no multishot read on the tap ({}): reading it with read()", strerror(-res));
    use_tap_poll();
    return;
  } else {
    // 0 or EBADFD/EIO: the tap was detached because its namespace went away.
    spdlog::info("the container's network namespace is gone ({}); exiting",
                 res == 0 ? "end of file" : strerror(-res));
    stop(0);
    return;
  }
  if (!(cqe.flags & IORING_CQE_F_MORE) && !stopping_) arm_tap_read();
}

void Loop::drain_tap(core::Stack& stack) {
  tap_pending_ = false;
  const uint64_t now = monotonic_ms();
  for (int i = 0; i < kTapBudget; ++i) {
    const ssize_t n = read(tap_fd_, rx_.data(), rx_.size());
    if (n > 0) {
      stack.on_frame(std::span<const uint8_t>(rx_.data(), size_t(n)), now);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    // EBADFD/EIO: the tap was detached because its namespace went away.
    spdlog::info("the container's network namespace is gone ({}); exiting",
                 n == 0 ? "end of file" : strerror(errno));
    stop(0);
    return;
  }
  tap_pending_ = true;  // budget spent; come back before sleeping
}

// Submits what is queued, then polls for a completion until `until_ns`,
// yielding the CPU between looks. With DEFER_TASKRUN a completion is only posted when this thread runs the
// ring's deferred work; the kernel sets IORING_SQ_TASKRUN when there is
// some, and only then does the poll enter the kernel to run it. Without
// DEFER_TASKRUN (older kernels) completions are posted on their own and the
// flag stays clear.
bool Loop::poll_ring(uint64_t until_ns) {
  io_uring_submit_and_get_events(&ring_);
  for (;;) {
    if (io_uring_cq_ready(&ring_)) return true;
    if (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) {
      io_uring_get_events(&ring_);
      continue;
    }
    if (monotonic_ns() >= until_ns) return false;
    // Any other task that can run on this CPU goes first (KVM polls only
    // while single_task_running()); with none, this returns at once.
    sched_yield();
  }
}

// Involuntary context switches of this thread so far: a yield that let
// another task run counts as one.
static long involuntary_switches() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nivcsw;
}

void Loop::handle_signals(core::Stack& stack) {
  signalfd_siginfo si{};
  while (read(signal_fd_, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGUSR1) {
      spdlog::info("counters:\n{}\ntap_read {}\nbusy_poll max {} us, window {} us, caught {}, slept {}, contended {}, bulk periods {}", stack.stats(),
                   tap_multishot_ ? "multishot" : "read()", busy_.max_ns() / 1000, busy_.window_ns() / 1000,
                   busy_.caught(), busy_.slept(), busy_.contended_count(), busy_.bulk_periods());
    } else {
      spdlog::debug("signal {}: exiting", si.ssi_signo);
      stop(0);
    }
  }
  poll_add(signal_fd_, kSignalData, POLLIN, false);
}

int Loop::run(core::Stack& stack, int tap_fd, size_t tap_frame_max, int exit_fd, GoneWatch gone) {
  tap_fd_ = tap_fd;
  tap_frame_max_ = std::max<size_t>(tap_frame_max, 65536 + 1024);
  sigset_t mask = loop_signals();
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  poll_add(signal_fd_, kSignalData, POLLIN, false);
  tap_multishot_ = setup_tap_buffers(tap_frame_max_);
  if (tap_multishot_) arm_tap_read();
  else use_tap_poll();
  if (exit_fd >= 0) poll_add(exit_fd, kExitData, POLLIN | POLLHUP | POLLERR | POLLRDHUP, false);
  if (gone.fd >= 0) poll_add(gone.fd, kGoneData, POLLIN, false);
  poll_add(event_fd_, kPostData, POLLIN, true);

  while (!stopping_) {
    uint64_t now = monotonic_ms();
    const uint64_t deadline = stack.next_deadline();
    uint64_t wait_ms = deadline > now ? deadline - now : 0;
    if (tap_pending_ || stack.has_pending()) wait_ms = 0;
    for (const EventSink* sink : sinks_)
      if (sink && sink->has_pending()) wait_ms = 0;
    __kernel_timespec ts{};
    ts.tv_sec = int64_t(wait_ms / 1000);
    ts.tv_nsec = int64_t(wait_ms % 1000) * 1000000;
    io_uring_cqe* cqe = nullptr;
    // Poll for a while before sleeping (busy_poll.hpp); the time to the
    // wake-up teaches the window.
    const bool may_poll = wait_ms > 0 && busy_.max_ns() > 0;
    const uint64_t t0 = may_poll ? monotonic_ns() : 0;
    bool caught = false, contended = false;
    if (may_poll && busy_.window_ns() > 0) {
      const long sw0 = involuntary_switches();
      caught = poll_ring(t0 + busy_.window_ns());
      contended = involuntary_switches() != sw0;
    }
    int r = caught ? 0 : io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    if (contended) busy_.contended();
    else if (may_poll) busy_.after_wait(caught, monotonic_ns() - t0);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY) {
      spdlog::error("io_uring wait failed: {}", strerror(-r));
      return 1;
    }
    now = monotonic_ms();
    unsigned head;
    unsigned seen = 0;
    bool tap_ready = tap_pending_;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t ud = io_uring_cqe_get_data64(cqe);
      const int res = cqe->res;
      const bool more = cqe->flags & IORING_CQE_F_MORE;
      if (ud == kTapReadData) {
        on_tap_read(stack, *cqe, now);
      } else if (ud == kTapData) {
        if (res < 0 || (res & (POLLERR | POLLHUP | POLLNVAL))) {
          if (res >= 0 && (res & POLLIN)) tap_ready = true;
          else {
            spdlog::info("the container's network namespace is gone; exiting");
            stop(0);
          }
        } else {
          tap_ready = true;
        }
        if (!more && !stopping_) poll_add(tap_fd_, kTapData, POLLIN, true);
      } else if (ud == kExitData) {
        spdlog::debug("exit fd closed: exiting");
        stop(0);
      } else if (ud == kGoneData) {
        if (gone.gone()) {
          spdlog::info("the container is gone; exiting");
          stop(0);
        } else {
          poll_add(gone.fd, kGoneData, POLLIN, false);
        }
      } else if (ud == kPostData) {
        run_posted();
        if (!more) poll_add(event_fd_, kPostData, POLLIN, true);
      } else if (ud == kSignalData) {
        handle_signals(stack);
      } else if (ud == kIgnoreData) {
        // completion of a poll cancellation
      } else if (const uint64_t token = ud & ~kOutBit; (token >> 56) >= 1 && (token >> 56) <= kLastSinkKind) {
        if (res == -ECANCELED) continue;
        const uint8_t kind = uint8_t(token >> 56);
        auto deliver = [&](uint32_t ev) {
          if (kind <= 2) stack.on_socket(token, ev, now);
          else if (sinks_[kind]) sinks_[kind]->on_event(token, ev, now);
        };
        if (ud & kOutBit) {
          deliver(res < 0 ? core::kEvErr : uint32_t(res));
        } else {
          if (res > 0) deliver(uint32_t(res));
          if (!more) {  // the kernel ended the multishot poll: re-arm if still ours
            auto it = in_polls_.find(token);
            if (it != in_polls_.end()) poll_add(it->second, token, kInMask, true);
          }
        }
      }
    }
    io_uring_cq_advance(&ring_, seen);
    if (tap_ready && !stopping_) drain_tap(stack);
    if (now >= next_tap_check_ && !stopping_) {
      // A tap whose namespace was destroyed is detached without waking its
      // pollers; TUNGETIFF then fails with EBADFD.
      next_tap_check_ = now + 1000;
      ifreq ifr{};
      if (ioctl(tap_fd_, TUNGETIFF, &ifr) < 0 && errno == EBADFD) {
        spdlog::info("the container's network namespace is gone; exiting");
        stop(0);
      }
    }
    if (busy_.max_ns() > 0 && now >= next_period_) {
      const core::Counters& c = stack.counters();
      const uint64_t total = c.bytes_in + c.bytes_out + moved_;
      busy_.period(total - period_bytes_);
      period_bytes_ = total;
      next_period_ = now + BusyPoll::kBulkPeriodMs;
    }
    if (stack.next_deadline() <= now) stack.on_timer(now);
    stack.flush(now);
    for (EventSink* sink : sinks_)
      if (sink) sink->flush();
  }
  return status_;
}

}  // namespace ferry::io
