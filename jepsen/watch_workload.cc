#include "jepsen/watch_workload.h"

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
          for (const auto& e : events) {
            seen->events.push_back({.revision = revision,
                                    .mod_revision = e.kv().mod_revision(),
                                    .key = e.kv().key(),
                                    .type = e.type() == pb::Event::DELETE
                                                ? WatchedEvent::Type::kDelete
                                                : WatchedEvent::Type::kPut,
                                    .value = e.kv().value()});
          }
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
    const std::string key =
        std::string(kPrefix) + std::to_string(process) + "-" + std::to_string(i);
    auto r = kv.Put(key, "v");
    history_.Note(r.ok() ? "ok"
                  : r.status().code() == StatusCode::kOutcomeUnknown ||
                          r.status().code() == StatusCode::kDeadlineExceeded
                      ? "info"
                      : "fail",
                  "write", t);
    if (r.ok()) {
      std::lock_guard lock(mu_);
      acked_.push_back({r->header().revision(), key});
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
  // The truth: every key under the prefix (each written once), its value and the revision that
  // wrote it.
  client::ClientOptions o;
  o.endpoints = endpoints_;
  o.timeout = std::chrono::seconds(10);
  client::Client c(o);
  // Page through the keys: one answer for all of them could exceed the frame limit.
  std::vector<WatchedEvent> final_state;
  std::string from = kPrefix;
  for (;;) {
    auto page = client::KV(c).Get(from, {.range_end = client::PrefixEnd(kPrefix), .limit = 5000});
    if (!page.ok()) {
      v.summary = "could not read the final state: " + page.status().ToString();
      v.problems.push_back(v.summary);
      v.json = "{\"valid\":false}";
      return v;
    }
    for (const auto& kv : page->kvs()) {
      final_state.push_back(
          {.mod_revision = kv.mod_revision(), .key = kv.key(), .value = kv.value()});
    }
    if (!page->more() || page->kvs().empty()) break;
    from = page->kvs(page->kvs_size() - 1).key() + std::string(1, '\0');
  }
  const std::vector<WatchedEvent> truth = ExpectedWatchEvents(std::move(final_state));
  const int64_t last = truth.empty() ? 0 : truth.back().mod_revision;
  // Watchers catch up within a deadline; then each must hold exactly the truth, in order.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (size_t w = 0; w < watches_.size(); ++w) {
    while (watches_[w]->last_revision() < last && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
    }
  }
  std::vector<std::vector<WatchedEvent>> watched;
  for (const auto& seen : seen_) {
    std::lock_guard lock(seen->mu);
    watched.push_back(seen->events);
  }
  std::vector<AckedWrite> acked;
  {
    std::lock_guard lock(mu_);
    acked = acked_;
  }
  v.problems = CheckWatchEvents(truth, watched, acked);
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
