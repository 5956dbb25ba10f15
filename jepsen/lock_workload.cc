#include "jepsen/lock_workload.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "client/client.h"
#include "client/lock.h"

namespace pharos::jepsen {
namespace {

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

LockWorkload::LockWorkload(std::vector<std::string> endpoints, int contenders, uint64_t seed,
                           HistoryRecorder& history)
    : endpoints_(std::move(endpoints)), contenders_(contenders), seed_(seed), history_(history) {}

LockWorkload::~LockWorkload() { Stop(); }

void LockWorkload::Start() {
  for (int p = 0; p < contenders_; ++p) threads_.emplace_back([this, p] { Contender(p); });
}

void LockWorkload::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void LockWorkload::Contender(int process) {
  client::ClientOptions o;
  o.endpoints = endpoints_;
  std::rotate(o.endpoints.begin(), o.endpoints.begin() + process % o.endpoints.size(),
              o.endpoints.end());
  o.timeout = std::chrono::seconds(2);
  client::Client c(o);
  client::Lock lock(c, "jepsen", {.prefix = "/jepsen/locks/", .ttl_seconds = 3});
  std::mt19937_64 rng(seed_ * 7919 + static_cast<uint64_t>(process));
  while (!stop_) {
    const int64_t asked = history_.Now();
    const Status acquired = lock.Acquire(std::chrono::seconds(2));
    history_.Note(acquired.ok() ? "ok" : "fail", "acquire", asked);
    if (!acquired.ok()) continue;
    const int64_t start = MonotonicNs();
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 20));  // the critical part
    const int64_t end = MonotonicNs();
    const bool still_mine = lock.held();
    {
      std::lock_guard guard(mu_);
      if (still_mine) {
        holds_.push_back({process, lock.fencing_token(), start, end});
      } else {
        ++lost_;
      }
    }
    (void)lock.Release();
  }
}

bool LockWorkload::Enough(int min_ok_per_key, std::vector<std::string>* why) const {
  // The one key is the lock; each completed hold is an acquire and a release that succeeded.
  std::lock_guard guard(mu_);
  if (holds_.size() >= static_cast<size_t>(min_ok_per_key)) return true;
  why->push_back("the lock has only " + std::to_string(holds_.size()) + " completed holds");
  return false;
}

Verdict CheckHolds(std::vector<LockWorkload::Hold> holds) {
  std::sort(holds.begin(), holds.end(),
            [](const auto& a, const auto& b) { return a.start_ns < b.start_ns; });
  Verdict v;
  for (size_t i = 1; i < holds.size(); ++i) {
    const auto& a = holds[i - 1];
    const auto& b = holds[i];
    if (a.end_ns >= b.start_ns) {
      v.problems.push_back("process " + std::to_string(a.process) + " (token " +
                           std::to_string(a.token) + ") and process " + std::to_string(b.process) +
                           " (token " + std::to_string(b.token) +
                           ") held the lock at the same time");
    }
    if (a.token >= b.token) {
      v.problems.push_back("token " + std::to_string(b.token) + " came after token " +
                           std::to_string(a.token));
    }
  }
  v.valid = v.problems.empty();
  v.summary = v.valid ? std::to_string(holds.size()) + " holds, none overlapping, tokens rising"
                      : std::to_string(v.problems.size()) + " lock violations";
  v.json = "{\"valid\":" + std::string(v.valid ? "true" : "false") +
           ",\"holds\":" + std::to_string(holds.size()) +
           ",\"violations\":" + std::to_string(v.problems.size()) + "}";
  return v;
}

Verdict LockWorkload::Check() {
  std::lock_guard guard(mu_);
  Verdict v = CheckHolds(holds_);
  if (lost_ > 0) {
    v.summary += " (" + std::to_string(lost_) + " holds given up when the lease deadline passed)";
  }
  return v;
}

}  // namespace pharos::jepsen
