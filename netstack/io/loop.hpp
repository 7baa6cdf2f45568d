// The data-plane event loop, on io_uring (liburing).
//
// One thread owns the ring and the Stack (IORING_SETUP_SINGLE_ISSUER with
// DEFER_TASKRUN: completion work runs when that thread waits). Everything that can become ready
// is watched with IORING_OP_POLL_ADD: the tap and every host socket with a
// multishot POLLIN poll (one registration per socket for its whole life,
// re-armed only if the kernel ends it), a socket that must report
// writability with a one-shot POLLOUT poll, the exit fd and a signalfd with
// one-shot polls. Timers are the wait's timeout (io_uring_submit_and_wait_
// timeout), so there is no timer fd and no timer syscall. Once a second the
// loop asks the tap whether its namespace still exists (TUNGETIFF).
//
// Frames from the tap arrive as completions of one multishot read
// (IORING_OP_READ_MULTISHOT, Linux 6.7) into a ring of provided buffers:
// one request for the tap's whole life, one completion per frame, in the
// order the container sent them, and no read system call per frame. Each
// frame goes to the translator from its completion handler, and its buffer
// goes back to the ring at once. On an older kernel (the opcode or the
// buffer ring refused) the loop falls back to a multishot POLLIN poll and
// non-blocking read()s, up to kTapBudget frames per batch.
//
// With --busy-poll the loop polls the ring for a short, adaptive while
// before it sleeps (busy_poll.hpp), trading CPU time for wake-ups.
//
// Host sockets are read and written with plain non-blocking system calls
// from the completion handlers: TCP data is read with MSG_PEEK at a moving
// offset, which io_uring's queued reads could reorder. Completions are
// handled in batches: coalesced ACKs and queued datagrams are flushed at the
// end of a batch, and all poll (re-)arms of a batch go to the kernel in one
// io_uring_enter together with the wait.
#pragma once

#include "netstack/core/host.hpp"
#include "netstack/io/busy_poll.hpp"
#include "netstack/core/stack.hpp"

#include <liburing.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry::io {

uint64_t monotonic_ms();

// Something other than the translator that owns watched descriptors (port
// forwarders): it gets the events of tokens whose top byte is its kind.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_event(uint64_t token, uint32_t events, uint64_t now_ms) = 0;
  // Called once per loop iteration, after events, before sleeping.
  virtual void flush() {}
  // Work left that no poll will report again (a receive budget ran out):
  // the loop must not sleep, and calls flush() again at once.
  virtual bool has_pending() const { return false; }
};

class Loop {
 public:
  // Token kinds 1 and 2 are the translator's (core::TokenKind); 3 to 15 are
  // free for EventSinks.
  static constexpr uint8_t kFirstSinkKind = 3, kLastSinkKind = 15;
  void add_sink(uint8_t kind, EventSink* sink) { sinks_[kind] = sink; }
  // Bytes a sink moved between host sockets (the busy poll's bulk gate;
  // the translator's tap bytes are counted by the Stack).
  void moved(uint64_t bytes) { moved_ += bytes; }

  // Runs `job` on the loop's thread, soon, in the order posted. Thread-safe:
  // the control plane (the API server's thread) hands work to the data plane
  // this way, woken through an eventfd.
  void post(std::function<void()> job);

  static constexpr int kTapBudget = 128;

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Host sockets (called by RealHost).
  void watch(int fd, uint64_t token, bool in, bool out);
  void forget(int fd);  // before close(fd)

  // How the loop learns that the container's namespace went away: the tap
  // descriptor itself keeps the namespace alive, so ferry watches what the
  // engine controls instead: a pidfd of the target process (readable when it
  // exits) or an inotify descriptor on the netns file's folder. When `fd`
  // is readable, `gone()` says whether that really happened.
  struct GoneWatch {
    int fd = -1;
    std::function<bool()> gone;
  };

  // Runs until stop() or a fatal condition. `exit_fd` < 0: none.
  // Returns the process exit status.
  int run(core::Stack& stack, int tap_fd, size_t tap_frame_max, int exit_fd, GoneWatch gone);
  // Poll at most `us` microseconds for events before sleeping (adaptive,
  // busy_poll.hpp); 0: always sleep at once. Before run().
  void set_busy_poll_us(unsigned us) { busy_ = BusyPoll(uint64_t(us) * 1000); }

  void stop(int status) {
    stopping_ = true;
    status_ = status;
  }

 private:
  io_uring_sqe* sqe();
  void poll_add(int fd, uint64_t user_data, uint32_t mask, bool multishot);
  void drain_tap(core::Stack& stack);
  // The multishot tap read: sets up the provided buffer ring (false if the
  // kernel refuses it), arms the read, handles one of its completions.
  bool setup_tap_buffers(size_t frame_max);
  void arm_tap_read();
  void on_tap_read(core::Stack& stack, const io_uring_cqe& cqe, uint64_t now);
  void use_tap_poll();
  void handle_signals(core::Stack& stack);

  void run_posted();
  bool poll_ring(uint64_t until_ns);

  EventSink* sinks_[16] = {};
  int event_fd_ = -1;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  io_uring ring_{};
  // For each watched host socket: its token, so a multishot poll that the
  // kernel ended can be re-armed (keyed by token, the only thing a completion
  // carries).
  std::unordered_map<uint64_t, int> in_polls_;
  std::unordered_map<int, uint64_t> fd_token_;
  int tap_fd_ = -1;
  int signal_fd_ = -1;
  size_t tap_frame_max_ = 0;
  std::vector<uint8_t> rx_;  // the fallback's read() buffer
  bool tap_pending_ = false;
  bool tap_multishot_ = false;
  bool tap_frames_seen_ = false;
  io_uring_buf_ring* tap_br_ = nullptr;
  std::unique_ptr<uint8_t[]> tap_bufs_;
  size_t tap_buf_size_ = 0;
  uint64_t next_tap_check_ = 0;
  BusyPoll busy_;
  uint64_t moved_ = 0;         // bytes moved by sinks (moved())
  uint64_t period_bytes_ = 0;  // tap and sink bytes at the last period's start
  uint64_t next_period_ = 0;   // monotonic ms
  bool stopping_ = false;
  int status_ = 0;
};

}  // namespace ferry::io
