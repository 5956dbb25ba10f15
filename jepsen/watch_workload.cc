#include "jepsen/watch_workload.h"

#include <algorithm>
#include <set>

#include "client/client.h"
#include "client/kv.h"
#include "client/watch.h"

namespace pharos::jepsen {
namespace {

constexpr const char* kPrefix = "/jepsen/watch/";

}  // namespace

WatchWorkload::WatchWorkload(std::vector<std::string> endpoints, int writers, int watchers,
                             HistoryRecorder& history)
    : endpoints_(std::move(endpoints)), writers_(writers), watchers_(watchers), history_(history) {}

WatchWorkload::~WatchWorkload() {
  Stop();
  watches_.clear();  // before their clients
  watch_clients_.clear();
}

void WatchWorkload::Start() {
  for (int w = 0; w < watchers_; ++w) {
    client::ClientOptions o;
    o.endpoints = endpoints_;
    o.timeout = std::chrono::seconds(2);
    watch_clients_.push_back(std::make_unique<client::Client>(o));
    seen_.push_back(std::make_unique<Seen>());
    Seen* seen = seen_.back().get();
    watches_.push_back(std::make_unique<client::Watcher>(
        *watch_clients_.back(), kPrefix,
        client::WatchOptions{
            .prefix = true, .start_revision = 1, .endpoint = endpoints_[w % endpoints_.size()]},
        [seen](const std::vector<pb::Event>& events, int64_t revision) {
          std::lock_guard lock(seen->mu);
          for (size_t i = 0; i < events.size(); ++i) seen->revisions.push_back(revision);
        },
        [](const client::WatchError&) {}));
  }
  for (int p = 0; p < writers_; ++p) threads_.emplace_back([this, p] { Writer(p); });
}

void WatchWorkload::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WatchWorkload::Writer(int process) {
  client::ClientOptions o;
  o.endpoints = endpoints_;
  o.timeout = std::chrono::seconds(2);
  client::Client c(o);
  client::KV kv(c);
  for (int i = 0; !stop_; ++i) {
    const int64_t t = history_.Now();
    auto r = kv.Put(std::string(kPrefix) + std::to_string(process) + "-" + std::to_string(i), "v");
    history_.Note(r.ok() ? "ok"
                  : r.status().code() == StatusCode::kOutcomeUnknown ||
                          r.status().code() == StatusCode::kDeadlineExceeded
                      ? "info"
                      : "fail",
                  "write", t);
    if (r.ok()) {
      std::lock_guard lock(mu_);
      acked_.push_back(r->header().revision());
    }
  }
}

bool WatchWorkload::Enough(int min_ok_per_key, std::vector<std::string>* why) const {
  // The one key checked is the watched prefix.
  std::lock_guard lock(mu_);
  if (acked_.size() >= static_cast<size_t>(min_ok_per_key)) return true;
  why->push_back("only " + std::to_string(acked_.size()) +
                 " writes to the watched prefix acknowledged");
  return false;
}

Verdict WatchWorkload::Check() {
  Verdict v;
  // The truth: every key under the prefix (each written once) with the revision that wrote it.
  client::ClientOptions o;
  o.endpoints = endpoints_;
  o.timeout = std::chrono::seconds(10);
  client::Client c(o);
  // Page through the keys: one answer for all of them could exceed the frame limit.
  std::vector<int64_t> truth;
  std::string from = kPrefix;
  for (;;) {
    auto page = client::KV(c).Get(
        from, {.range_end = client::PrefixEnd(kPrefix), .limit = 5000, .keys_only = true});
    if (!page.ok()) {
      v.summary = "could not read the final state: " + page.status().ToString();
      v.problems.push_back(v.summary);
      v.json = "{\"valid\":false}";
      return v;
    }
    for (const auto& kv : page->kvs()) truth.push_back(kv.mod_revision());
    if (!page->more() || page->kvs().empty()) break;
    from = page->kvs(page->kvs_size() - 1).key() + std::string(1, '\0');
  }
  std::sort(truth.begin(), truth.end());
  const int64_t last = truth.empty() ? 0 : truth.back();
  // Watchers catch up within a deadline; then each must hold exactly the truth, in order.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (size_t w = 0; w < watches_.size(); ++w) {
    while (watches_[w]->last_revision() < last && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
    }
  }
  const std::set<int64_t> truth_set(truth.begin(), truth.end());
  for (size_t w = 0; w < seen_.size(); ++w) {
    std::lock_guard lock(seen_[w]->mu);
    const auto& got = seen_[w]->revisions;
    if (got != truth) {
      size_t i = 0;
      while (i < got.size() && i < truth.size() && got[i] == truth[i]) ++i;
      v.problems.push_back("watcher " + std::to_string(w) + " saw " + std::to_string(got.size()) +
                           " events, the cluster holds " + std::to_string(truth.size()) +
                           "; first difference at event " + std::to_string(i));
    }
  }
  {
    std::lock_guard lock(mu_);
    for (int64_t r : acked_) {
      if (!truth_set.count(r)) {
        v.problems.push_back("acknowledged write at revision " + std::to_string(r) + " is lost");
      }
    }
  }
  v.valid = v.problems.empty();
  v.summary = v.valid ? std::to_string(seen_.size()) + " watchers each saw all " +
                            std::to_string(truth.size()) + " events in order"
                      : std::to_string(v.problems.size()) + " watch anomalies";
  v.json = "{\"valid\":" + std::string(v.valid ? "true" : "false") +
           ",\"events\":" + std::to_string(truth.size()) +
           ",\"watchers\":" + std::to_string(seen_.size()) +
           ",\"anomalies\":" + std::to_string(v.problems.size()) + "}";
  return v;
}

}  // namespace pharos::jepsen
