// What every packet-script fixture of the translator holds: a configuration
// and limits to adjust before make_stack(), the fakes, a frame builder, the
// stack under test and the injected clock. in() plays one frame from the
// container and ends the batch, as the io_uring loop does.
#pragma once

#include "fakes.hpp"
#include "netstack/core/stack.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace ferry::test {

class StackFixture : public ::testing::Test {
 protected:
  core::NetConfig cfg;
  core::Limits lim;
  FakeHost host;
  FakeTap tap;
  SeqRandom rng;
  FrameBuilder fb;
  std::unique_ptr<core::Stack> stack;
  uint64_t now = 5000;

  void make_stack(bool vnet = false) {
    fb.vnet = vnet;
    stack = std::make_unique<core::Stack>(cfg, host, tap, rng, vnet, lim);
  }
  void in(const Bytes& f) {
    stack->on_frame(f, now);
    stack->flush(now);
  }
  uint64_t dropped(wire::Drop d) const { return stack->counters().dropped(d); }
};

}  // namespace ferry::test
