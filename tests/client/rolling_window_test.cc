#include "client/rolling_window.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/clock.h"

namespace pharos::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(RollingWindowTest, CountsStayForTheWholeWindowThenLeave) {
  FakeClock clock;  // starts on a whole second: a bucket boundary
  RollingWindow<2> window(seconds(10), 10);
  window.Add(clock.Now(), 0);
  window.Add(clock.Now(), 1, 3);
  EXPECT_EQ(window.Sum(clock.Now()), (RollingWindow<2>::Counts{1, 3}));
  clock.Advance(seconds(10) - nanoseconds(1));
  EXPECT_EQ(window.Sum(clock.Now()), (RollingWindow<2>::Counts{1, 3}));
  clock.Advance(nanoseconds(1));
  EXPECT_EQ(window.Sum(clock.Now()), (RollingWindow<2>::Counts{0, 0}));
}

TEST(RollingWindowTest, BucketsLeaveOneAtATime) {
  FakeClock clock;
  RollingWindow<1> window(seconds(10), 10);
  for (int i = 0; i < 10; ++i) {
    window.Add(clock.Now(), 0, 1u << i);
    clock.Advance(seconds(1));
  }
  // Now in the 11th second: the first bucket has gone, the other nine remain.
  EXPECT_EQ(window.Sum(clock.Now())[0], 1023u - 1u);
  clock.Advance(seconds(4));
  EXPECT_EQ(window.Sum(clock.Now())[0], 1023u - 31u);
}

TEST(RollingWindowTest, AReusedSlotForgetsItsOldSlice) {
  FakeClock clock;
  RollingWindow<1> window(seconds(10), 10);
  window.Add(clock.Now(), 0, 5);
  clock.Advance(seconds(10));  // the same slot, ten slices later
  window.Add(clock.Now(), 0, 1);
  EXPECT_EQ(window.Sum(clock.Now())[0], 1u);
}

TEST(RollingWindowTest, ResetForgetsEverything) {
  FakeClock clock;
  RollingWindow<1> window(seconds(10), 10);
  window.Add(clock.Now(), 0, 5);
  window.Reset();
  EXPECT_EQ(window.Sum(clock.Now())[0], 0u);
}

TEST(RollingWindowTest, NonsenseSizesStillCount) {
  FakeClock clock;
  RollingWindow<1> window(milliseconds(0), 0);
  window.Add(clock.Now(), 0);
  EXPECT_EQ(window.Sum(clock.Now())[0], 1u);
  EXPECT_EQ(window.bucket_width(), nanoseconds(1));
}

}  // namespace
}  // namespace pharos::client
