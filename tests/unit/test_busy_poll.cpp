// The loop's adaptive busy poll (io/busy_poll.hpp): the window grows while
// the loop's sleeps end within the maximum, stays while polling catches the
// events, and drops to zero after a sleep longer than the maximum, so an
// idle container costs no polling; another task wanting the CPU halves it,
// and a bulk transfer stops it.
#include "netstack/io/busy_poll.hpp"

#include <gtest/gtest.h>

using ferry::io::BusyPoll;

namespace {

constexpr uint64_t us = 1000;

TEST(BusyPoll, OffNeverPolls) {
  BusyPoll b(0);
  for (int i = 0; i < 10; ++i) b.after_wait(false, 5 * us);
  EXPECT_EQ(b.window_ns(), 0u);
}

TEST(BusyPoll, ShortSleepsGrowTheWindowToTheMaximum) {
  BusyPoll b(50 * us);
  EXPECT_EQ(b.window_ns(), 0u);
  b.after_wait(false, 30 * us);  // slept 30 us: polling would have caught it
  EXPECT_EQ(b.window_ns(), BusyPoll::kStartNs);
  b.after_wait(false, 30 * us);
  EXPECT_EQ(b.window_ns(), 20 * us);
  b.after_wait(false, 30 * us);
  EXPECT_EQ(b.window_ns(), 40 * us);
  b.after_wait(false, 45 * us);
  EXPECT_EQ(b.window_ns(), 50 * us);  // capped
  b.after_wait(false, 50 * us);
  EXPECT_EQ(b.window_ns(), 50 * us);
  EXPECT_EQ(b.slept(), 5u);
}

TEST(BusyPoll, AWindowThatCatchesEventsStays) {
  BusyPoll b(50 * us);
  b.after_wait(false, 15 * us);
  b.after_wait(false, 15 * us);
  ASSERT_EQ(b.window_ns(), 20 * us);
  for (int i = 0; i < 100; ++i) b.after_wait(true, 15 * us);
  EXPECT_EQ(b.window_ns(), 20 * us);
  EXPECT_EQ(b.caught(), 100u);
  // A sleep shorter than the window means the wait ended for another
  // reason (a timer): no growth.
  b.after_wait(false, 5 * us);
  EXPECT_EQ(b.window_ns(), 20 * us);
}

TEST(BusyPoll, ALongSleepStopsPolling) {
  BusyPoll b(50 * us);
  for (int i = 0; i < 5; ++i) b.after_wait(false, 45 * us);
  ASSERT_EQ(b.window_ns(), 50 * us);
  b.after_wait(false, 2'000 * us);  // the container went quiet
  EXPECT_EQ(b.window_ns(), 0u);
  b.after_wait(false, 1'000'000 * us);
  EXPECT_EQ(b.window_ns(), 0u);
}

TEST(BusyPoll, ContentionHalvesTheWindow) {
  BusyPoll b(50 * us);
  for (int i = 0; i < 5; ++i) b.after_wait(false, 45 * us);
  ASSERT_EQ(b.window_ns(), 50 * us);
  b.contended();
  EXPECT_EQ(b.window_ns(), 25 * us);
  EXPECT_EQ(b.contended_count(), 1u);
  // Short sleeps grow it back.
  b.after_wait(false, 30 * us);
  EXPECT_EQ(b.window_ns(), 50 * us);
}

TEST(BusyPoll, RepeatedContentionStopsPollingUntilShortSleepsComeBack) {
  BusyPoll b(50 * us);
  for (int i = 0; i < 5; ++i) b.after_wait(false, 45 * us);
  ASSERT_EQ(b.window_ns(), 50 * us);
  b.contended();  // 25 us
  b.contended();  // 12.5 us
  EXPECT_EQ(b.window_ns(), 12'500u);
  b.contended();  // 6.25 us is below the start: no polling
  EXPECT_EQ(b.window_ns(), 0u);
  b.contended();
  EXPECT_EQ(b.window_ns(), 0u);
  EXPECT_EQ(b.contended_count(), 4u);
  b.after_wait(false, 30 * us);
  EXPECT_EQ(b.window_ns(), BusyPoll::kStartNs);
}

TEST(BusyPoll, BulkTransfersDoNotPoll) {
  BusyPoll b(50 * us);
  for (int i = 0; i < 5; ++i) b.after_wait(false, 45 * us);
  ASSERT_EQ(b.window_ns(), 50 * us);
  b.period(100 * 1024);  // requests and answers: polling stays
  EXPECT_EQ(b.window_ns(), 50 * us);
  b.period(BusyPoll::kBulkBytes + 1);  // a bulk transfer
  EXPECT_TRUE(b.bulk());
  EXPECT_EQ(b.window_ns(), 0u);
  for (int i = 0; i < 5; ++i) b.after_wait(false, 30 * us);
  EXPECT_EQ(b.window_ns(), 0u);  // short sleeps do not grow it while bulk
  b.period(0);  // the transfer ended
  EXPECT_FALSE(b.bulk());
  b.after_wait(false, 30 * us);
  EXPECT_EQ(b.window_ns(), BusyPoll::kStartNs);
  EXPECT_EQ(b.bulk_periods(), 1u);
}

}  // namespace
