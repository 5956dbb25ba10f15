#include "client/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/fixed_window_limiter.h"
#include "client/leaky_bucket.h"
#include "client/sliding_window_limiter.h"
#include "client/token_bucket.h"
#include "common/clock.h"

namespace pharos::client {
namespace {

using std::chrono::seconds;

constexpr int kBudget = 50;

// With the clock stopped, no refill happens: however the threads interleave, exactly the budget
// gets through, once.
TEST(RateLimiterTest, ThreadsHammeringAllowAdmitExactlyTheBudget) {
  struct Case {
    std::string name;
    std::function<std::unique_ptr<RateLimiter>(const Clock*)> make;
  };
  const std::vector<Case> cases = {
      {"token bucket", [](const Clock* c) { return std::make_unique<TokenBucket>(1, kBudget, c); }},
      {"leaky bucket", [](const Clock* c) { return std::make_unique<LeakyBucket>(1, kBudget, c); }},
      {"fixed window",
       [](const Clock* c) { return std::make_unique<FixedWindowLimiter>(kBudget, seconds(1), c); }},
      {"sliding window",
       [](const Clock* c) {
         return std::make_unique<SlidingWindowLimiter>(kBudget, seconds(1), c);
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeClock clock;
    std::unique_ptr<RateLimiter> limiter = c.make(&clock);
    std::atomic<int> admitted = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
          if (limiter->Allow()) ++admitted;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(admitted.load(), kBudget);
  }
}

}  // namespace
}  // namespace pharos::client
