#include "tools/bench/run_loop.h"

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace pharos::bench {
namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

LoopResult RunLoop(const WorkloadOptions& o, int64_t total, bool use_duration, double rate,
                   const OpFactory& factory) {
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> finished{false};
  std::mutex mu;
  LoopResult result;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.duration_s));
  std::thread progress;
  if (o.progress) {
    progress = std::thread([&] {
      int64_t last = 0;
      while (!finished.load()) {
        for (int i = 0; i < 10 && !finished.load(); ++i) {
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
  finished.store(true);
  if (progress.joinable()) progress.join();
  return result;
}

}  // namespace pharos::bench
