#include "tools/bench/run_loop.h"

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pharos::bench {
namespace {
using Clock = std::chrono::steady_clock;

// With --progress, a line a second on stderr: operations so far and in the last second.
class ProgressLine {
 public:
  ProgressLine(const WorkloadOptions& o, const std::atomic<int64_t>& done) {
    if (!o.progress) return;
    thread_ = std::thread([this, &o, &done] {
      int64_t last = 0;
      while (!finished_.load()) {
        for (int i = 0; i < 10 && !finished_.load(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        const int64_t now = done.load();
        std::fprintf(stderr, "\r%s: %" PRId64 " ops, %" PRId64 "/s   ", o.workload.c_str(), now,
                     now - last);
        last = now;
      }
      std::fprintf(stderr, "\n");
    });
  }
  ~ProgressLine() {
    finished_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

// One client of RunLoopAsync: its operation, what it measured, and the hand-shake that lets an
// operation completing before its start returned continue the loop where it is instead of
// recursing (a backend that fails a call at once would otherwise grow the stack per operation).
struct AsyncClient {
  enum : int { kStarting, kReturned, kCompleted };
  AsyncOp op;
  Histogram hist;
  int64_t ok = 0, errors = 0;
  std::string first_error;
  Clock::time_point t0;
  std::atomic<int> phase{kStarting};
};

// A RunLoopAsync run, shared with the completions in flight so that the last of them, returning
// after the run is over, still finds it.
struct AsyncRun : std::enable_shared_from_this<AsyncRun> {
  int64_t total = 0;
  bool use_duration = false;
  Clock::time_point end;
  std::atomic<int64_t> next{0}, done{0};
  std::vector<std::unique_ptr<AsyncClient>> clients;
  std::mutex mu;
  std::condition_variable all_stopped;
  int running = 0;  // guarded by mu

  // Starts client `c`'s operations until one is left in flight (its completion goes on from
  // there) or the run is over for it.
  void Drive(AsyncClient& c) {
    for (;;) {
      const int64_t i = next.fetch_add(1);
      c.t0 = Clock::now();
      if ((!use_duration && i >= total) || (use_duration && c.t0 >= end)) {
        std::lock_guard<std::mutex> lock(mu);
        if (--running == 0) all_stopped.notify_all();
        return;
      }
      c.phase.store(AsyncClient::kStarting);
      c.op(i, [self = shared_from_this(), &c](Status s) { self->Completed(c, s); });
      // Completed already: go on here. Else the completion goes on when it comes.
      if (c.phase.exchange(AsyncClient::kReturned) != AsyncClient::kCompleted) return;
    }
  }

  void Completed(AsyncClient& c, const Status& s) {
    if (s.ok()) {
      ++c.ok;
      c.hist.Record(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - c.t0).count());
    } else {
      ++c.errors;
      if (c.first_error.empty()) c.first_error = s.ToString();
    }
    done.fetch_add(1);
    if (c.phase.exchange(AsyncClient::kCompleted) == AsyncClient::kReturned) Drive(c);
  }
};

}  // namespace

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

LoopResult RunLoop(const WorkloadOptions& o, int64_t total, bool use_duration, double rate,
                   const OpFactory& factory) {
  std::atomic<int64_t> next{0}, done{0};
  std::mutex mu;
  LoopResult result;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.duration_s));
  ProgressLine progress(o, done);
  std::vector<std::thread> threads;
  for (int c = 0; c < std::max(1, o.clients); ++c) {
    threads.emplace_back([&, c] {
      Op op = factory(c);
      Histogram hist;
      int64_t ok = 0, errors = 0;
      std::string first_error;
      for (;;) {
        const int64_t i = next.fetch_add(1);
        if (!use_duration && i >= total) break;
        Clock::time_point t0 = Clock::now();
        if (rate > 0) {
          const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(i / rate));
          if (use_duration && due >= end) break;
          std::this_thread::sleep_until(due);
          t0 = due;
        } else if (use_duration && t0 >= end) {
          break;
        }
        Status s = op(i);
        if (s.ok()) {
          ++ok;
          hist.Record(
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
        } else {
          ++errors;
          if (first_error.empty()) first_error = s.ToString();
        }
        done.fetch_add(1);
      }
      std::lock_guard<std::mutex> lock(mu);
      result.ok += ok;
      result.errors += errors;
      result.latency.Merge(hist);
      if (result.first_error.empty()) result.first_error = first_error;
    });
  }
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

LoopResult RunLoopAsync(const WorkloadOptions& o, int64_t total, bool use_duration,
                        const AsyncOpFactory& factory) {
  auto run = std::make_shared<AsyncRun>();
  run->total = total;
  run->use_duration = use_duration;
  run->running = std::max(1, o.clients);
  for (int c = 0; c < run->running; ++c) {
    run->clients.push_back(std::make_unique<AsyncClient>());
    run->clients.back()->op = factory(c);
  }
  const auto start = Clock::now();
  run->end = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(o.duration_s));
  ProgressLine progress(o, run->done);
  for (auto& c : run->clients) run->Drive(*c);
  {
    std::unique_lock<std::mutex> lock(run->mu);
    run->all_stopped.wait(lock, [&] { return run->running == 0; });
  }
  LoopResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& c : run->clients) {
    result.ok += c->ok;
    result.errors += c->errors;
    result.latency.Merge(c->hist);
    if (result.first_error.empty()) result.first_error = c->first_error;
    // Here, not on whichever backend thread drops the run last: an op may own a stream whose
    // destructor waits for that very thread.
    c->op = nullptr;
  }
  return result;
}

LoopResult RunClosedLoop(const WorkloadOptions& o, int64_t total, bool use_duration,
                         const AsyncOpFactory& factory) {
  if (o.rate <= 0) return RunLoopAsync(o, total, use_duration, factory);
  return RunLoop(o, total, use_duration, o.rate, [&](int client) -> Op {
    return [op = factory(client)](int64_t seq) {
      return Await([&](AsyncDone done) { op(seq, std::move(done)); });
    };
  });
}

Status Await(const std::function<void(AsyncDone)>& start) {
  // Shared with the completion: it may still be inside set_value when get() returns here.
  auto outcome = std::make_shared<std::promise<Status>>();
  std::future<Status> f = outcome->get_future();
  start([outcome](Status s) { outcome->set_value(std::move(s)); });
  return f.get();
}

}  // namespace pharos::bench
