// How long the event loop polls for completions before it sleeps.
//
// A request/response or connect/close workload hands every packet from one
// process to another: the container's application, ferry, the host's peer.
// Each hand-off to a sleeping ferry costs a wake-up, and on a virtual
// machine a wake-up of an idle CPU is an inter-processor interrupt and a
// halt exit: tens of microseconds that the connection waits for. Polling
// the ring for a short while before sleeping catches the next event without
// that wake-up, at the cost of the CPU time spent polling.
//
// The window adapts by the rule KVM uses for halt polling
// (virt/kvm/kvm_main.c, grow_halt_poll_ns/shrink_halt_poll_ns): it starts
// at zero; a wait that slept and was woken within the maximum window grows
// it (to kStartNs, then doubling, up to the maximum), since polling would
// have caught that event; a wait that slept longer than the maximum resets
// it to zero, so an idle or slow-paced container costs no polling at all; a
// wait whose event arrived while polling keeps the window. KVM polls only
// while no other task wants the CPU (single_task_running()); the loop's
// equivalent yields the CPU between looks at the ring, and a poll during
// which another task ran (the thread's involuntary context switches grew)
// halves the window, as KVM's shrink_halt_poll_ns does with a shrink factor
// of 2, and a window halved below kStartNs is zero: on a machine whose CPUs
// are all busy (the peers of a bulk transfer), repeated contention stops
// polling within a few waits, while a single task passing through keeps
// most of the window it earned. Resetting to zero on the first contention
// made the loop sleep through request/response exchanges it could have
// polled for: the round trip's p50 was 46-47 us with the reset and 38 us
// with halving on a 2-CPU VM (docs/performance.md, "Connection rate").
//
// Bulk transfers do not poll at all. When ferry is faster than the peers of
// a transfer, a sleep lets their packets pile up, and the next wake-up
// handles them in one batch (one recvmmsg, one GSO send, one splice);
// polling would catch them one by one, for more CPU per byte and, on a
// small machine, less throughput. The loop measures the bytes it moves
// (kBulkBytes in a kBulkPeriodMs period marks a bulk transfer) and keeps
// the window at zero while they flow; requests, answers and handshakes move
// a few kilobytes a millisecond. Pure logic, no clock: the loop passes the
// times and byte counts in.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ferry::io {

class BusyPoll {
 public:
  static constexpr uint64_t kStartNs = 10'000;
  // 512 KiB in 10 ms: about 420 Mbit/s. A connect/request/close loop at
  // 10,000 connections a second moves about 10 MB/s through ferry.
  static constexpr uint64_t kBulkPeriodMs = 10;
  static constexpr uint64_t kBulkBytes = 512 * 1024;

  // max_ns 0: never poll.
  explicit BusyPoll(uint64_t max_ns = 0) : max_ns_(max_ns) {}

  // How long to poll before the next sleep.
  uint64_t window_ns() const { return window_ns_; }
  uint64_t max_ns() const { return max_ns_; }

  // After a wait: `caught`, the event arrived while polling; otherwise the
  // loop slept and `waited_ns` passed from the start of the poll to the
  // wake-up.
  void after_wait(bool caught, uint64_t waited_ns) {
    if (caught) {
      ++caught_;
      return;
    }
    ++slept_;
    if (bulk_) return;
    if (waited_ns > max_ns_) {
      window_ns_ = 0;
    } else if (window_ns_ < max_ns_ && waited_ns > window_ns_) {
      window_ns_ = std::min(max_ns_, std::max(kStartNs, window_ns_ * 2));
    }
  }

  // Every kBulkPeriodMs: the bytes the loop moved in that period.
  void period(uint64_t bytes) {
    bulk_ = bytes > kBulkBytes;
    if (bulk_) {
      ++bulk_periods_;
      window_ns_ = 0;
    }
  }
  bool bulk() const { return bulk_; }

  // Another task wanted this CPU while the loop polled: poll half as long.
  void contended() {
    ++contended_;
    window_ns_ /= 2;
    if (window_ns_ < kStartNs) window_ns_ = 0;
  }

  // Counters for the loop's statistics.
  uint64_t contended_count() const { return contended_; }
  uint64_t bulk_periods() const { return bulk_periods_; }
  uint64_t caught() const { return caught_; }
  uint64_t slept() const { return slept_; }

 private:
  uint64_t max_ns_;
  uint64_t window_ns_ = 0;
  uint64_t caught_ = 0;
  uint64_t slept_ = 0;
  uint64_t contended_ = 0;
  uint64_t bulk_periods_ = 0;
  bool bulk_ = false;
};

}  // namespace ferry::io
