// RunLoopAsync: every operation number taken once, one operation in flight per client, errors
// counted, the duration honoured, and operations that complete inline run in a loop rather than
// a recursion. RunClosedLoop with a rate, and Await.
#include "tools/bench/run_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pharos::bench {
namespace {

// A backend's I/O thread, in miniature: completes what is handed to it, in order, on its thread.
class Completer {
 public:
  Completer() : thread_([this] { Run(); }) {}
  ~Completer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Complete(AsyncDone done, Status s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.emplace_back(std::move(done), std::move(s));
    }
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto [done, s] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      done(s);
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<AsyncDone, Status>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

WorkloadOptions Clients(int n) {
  WorkloadOptions o;
  o.clients = n;
  return o;
}

TEST(RunLoopAsyncTest, TakesEveryOperationOnceWithOneInFlightPerClient) {
  constexpr int kClients = 8;
  constexpr int64_t kTotal = 20000;
  std::vector<std::atomic<int>> taken(kTotal);
  std::vector<std::atomic<int>> in_flight(kClients);
  std::atomic<int> overlaps{0};
  std::vector<std::unique_ptr<Completer>> threads;
  for (int i = 0; i < 3; ++i) threads.push_back(std::make_unique<Completer>());

  const LoopResult r = RunLoopAsync(Clients(kClients), kTotal, false, [&](int c) -> AsyncOp {
    return [&, c](int64_t seq, AsyncDone done) {
      taken[seq].fetch_add(1);
      if (in_flight[c].fetch_add(1) != 0) overlaps.fetch_add(1);
      threads[seq % threads.size()]->Complete(
          [&, c, done = std::move(done)](Status s) {
            in_flight[c].fetch_sub(1);
            done(s);
          },
          Status::Ok());
    };
  });

  EXPECT_EQ(r.ok, kTotal);
  EXPECT_EQ(r.errors, 0);
  EXPECT_EQ(r.latency.count(), kTotal);
  EXPECT_EQ(overlaps.load(), 0);
  for (int64_t i = 0; i < kTotal; ++i) ASSERT_EQ(taken[i].load(), 1) << "operation " << i;
}

TEST(RunLoopAsyncTest, OperationsCompletingInlineRunInALoopNotARecursion) {
  // A million inline completions would exhaust the stack if each started the next from inside
  // the last; the stack must stay where the first operation found it.
  constexpr int64_t kTotal = 1000000;
  uintptr_t lowest = UINTPTR_MAX, highest = 0;
  const LoopResult r = RunLoopAsync(Clients(1), kTotal, false, [&](int) -> AsyncOp {
    return [&](int64_t, AsyncDone done) {
      int here = 0;
      const auto at = reinterpret_cast<uintptr_t>(&here);
      lowest = std::min(lowest, at);
      highest = std::max(highest, at);
      done(Status::Ok());
    };
  });
  EXPECT_EQ(r.ok, kTotal);
  EXPECT_LT(highest - lowest, 4096u);
}

TEST(RunLoopAsyncTest, CountsErrorsAndKeepsTheFirstMessage) {
  Completer completer;
  const LoopResult r = RunLoopAsync(Clients(4), 1000, false, [&](int) -> AsyncOp {
    return [&](int64_t seq, AsyncDone done) {
      // Half inline, half on the other thread: both paths count.
      Status s = seq % 2 == 1 ? Status::Unavailable("odd operation refused") : Status::Ok();
      if (seq % 4 < 2) return done(s);
      completer.Complete(std::move(done), s);
    };
  });
  EXPECT_EQ(r.ok, 500);
  EXPECT_EQ(r.errors, 500);
  EXPECT_NE(r.first_error.find("odd operation refused"), std::string::npos) << r.first_error;
  EXPECT_EQ(r.latency.count(), 500);
}

TEST(RunLoopAsyncTest, ADurationRunStopsWhenItsTimeIsUp) {
  Completer completer;
  WorkloadOptions o = Clients(4);
  o.duration_s = 0.3;
  const LoopResult r = RunLoopAsync(o, 0, true, [&](int) -> AsyncOp {
    return [&](int64_t, AsyncDone done) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      completer.Complete(std::move(done), Status::Ok());
    };
  });
  EXPECT_GT(r.ok, 0);
  EXPECT_GE(r.seconds, 0.3);
  // Each client stops at the first operation it would start after the end; none runs for long.
  EXPECT_LT(r.seconds, 5.0);
}

TEST(RunClosedLoopTest, WithARateEachClientThreadWaitsForItsOperation) {
  Completer completer;
  WorkloadOptions o = Clients(4);
  o.rate = 2000;
  std::atomic<int> in_flight{0}, most_in_flight{0};
  const LoopResult r = RunClosedLoop(o, 200, false, [&](int) -> AsyncOp {
    return [&](int64_t seq, AsyncDone done) {
      const int now = in_flight.fetch_add(1) + 1;
      int seen = most_in_flight.load();
      while (now > seen && !most_in_flight.compare_exchange_weak(seen, now)) {
      }
      completer.Complete(
          [&, done = std::move(done)](Status s) {
            in_flight.fetch_sub(1);
            done(s);
          },
          seq == 7 ? Status::Unavailable("seven") : Status::Ok());
    };
  });
  EXPECT_EQ(r.ok, 199);
  EXPECT_EQ(r.errors, 1);
  EXPECT_NE(r.first_error.find("seven"), std::string::npos) << r.first_error;
  // A thread per client, each blocked on its own operation: never more in flight than clients.
  EXPECT_LE(most_in_flight.load(), 4);
  // 200 operations due over 0.1 s at 2,000/s: the rate was kept, not run flat out.
  EXPECT_GE(r.seconds, 0.09);
}

TEST(AwaitTest, ReturnsTheOutcomeGivenOnAnotherThread) {
  Completer completer;
  EXPECT_TRUE(
      Await([&](AsyncDone done) { completer.Complete(std::move(done), Status::Ok()); }).ok());
  const Status s =
      Await([&](AsyncDone done) { completer.Complete(std::move(done), Status::NotFound("gone")); });
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  // And one given before the start returned.
  EXPECT_EQ(Await([](AsyncDone done) { done(Status::Unavailable("at once")); }).code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace pharos::bench
