#include "client/prefix_cache.h"

#include <condition_variable>
#include <mutex>

#include "client/txn.h"
#include "client/watch.h"

namespace pharos::client {

struct PrefixCache::State : std::enable_shared_from_this<State> {
  Client* client = nullptr;
  std::string prefix;
  ChangeCallback on_change;

  mutable std::mutex mu;
  std::condition_variable ready_cv;
  bool ready = false;                       // guarded by mu
  bool started = false;                     // guarded by mu
  bool stopped = false;                     // guarded by mu
  std::map<std::string, std::string> data;  // guarded by mu
  int64_t revision = 0;                     // guarded by mu
  int lists = 0;                            // guarded by mu
  std::unique_ptr<Watcher> watcher;         // guarded by mu
  std::shared_ptr<Client::Timer> retry;     // guarded by mu
  int failures = 0;                         // I/O thread
  std::mutex callback_mu;                   // held while on_change runs

  void List() {
    pb::Envelope e;
    *e.mutable_range() = MakeRangeRequest(prefix, {.prefix = true});
    client->CallAsync(std::move(e), {}, [self = shared_from_this()](Result<pb::Envelope> r) {
      self->OnListed(std::move(r));
    });
  }

  void OnListed(Result<pb::Envelope> r) {
    if (!r.ok()) {
      std::lock_guard lock(mu);
      if (stopped) return;
      retry =
          client->After(client->Backoff(failures++), [self = shared_from_this()] { self->List(); });
      return;
    }
    failures = 0;
    std::map<std::string, std::string> fresh;
    for (const auto& kv : r->range_response().kvs()) fresh[kv.key()] = kv.value();
    const int64_t listed_at = r->range_response().header().revision();
    // Reconcile: report what differs from what the cache held (nothing on a quiet re-list).
    std::vector<std::pair<std::string, std::optional<std::string>>> changes;
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      for (const auto& [k, v] : data) {
        if (!fresh.count(k)) changes.emplace_back(k, std::nullopt);
      }
      for (const auto& [k, v] : fresh) {
        auto it = data.find(k);
        if (it == data.end() || it->second != v) changes.emplace_back(k, v);
      }
      data = std::move(fresh);
      revision = listed_at;
      ++lists;
      ready = true;
      watcher.reset();
    }
    ready_cv.notify_all();
    Notify(changes);
    auto self = shared_from_this();
    auto w = std::make_unique<Watcher>(
        *client, prefix, WatchOptions{.prefix = true, .start_revision = listed_at + 1},
        [self](const std::vector<pb::Event>& events, int64_t rev) { self->OnEvents(events, rev); },
        [self](const WatchError& error) { self->OnWatchError(error); });
    std::lock_guard lock(mu);
    if (!stopped) watcher = std::move(w);
  }

  void OnEvents(const std::vector<pb::Event>& events, int64_t rev) {
    std::vector<std::pair<std::string, std::optional<std::string>>> changes;
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      for (const auto& e : events) {
        if (e.type() == pb::Event::DELETE) {
          data.erase(e.kv().key());
          changes.emplace_back(e.kv().key(), std::nullopt);
        } else {
          data[e.kv().key()] = e.kv().value();
          changes.emplace_back(e.kv().key(), e.kv().value());
        }
      }
      revision = rev;
    }
    Notify(changes);
  }

  void OnWatchError(const WatchError&) {
    // Compacted (or refused): what happened meanwhile is gone from history; list again. The
    // watcher cannot be destroyed from its own callback, so the re-list runs as a new task.
    client->Post([self = shared_from_this()] { self->List(); });
  }

  void Notify(const std::vector<std::pair<std::string, std::optional<std::string>>>& changes) {
    if (!on_change || changes.empty()) return;
    std::lock_guard callback_lock(callback_mu);
    {
      std::lock_guard lock(mu);
      if (stopped) return;
    }
    for (const auto& [k, v] : changes) on_change(k, v);
  }
};

PrefixCache::PrefixCache(Client& client, std::string prefix, ChangeCallback on_change)
    : state_(std::make_shared<State>()) {
  state_->client = &client;
  state_->prefix = std::move(prefix);
  state_->on_change = std::move(on_change);
}

PrefixCache::~PrefixCache() { Stop(); }

void PrefixCache::Start() {
  {
    std::lock_guard lock(state_->mu);
    if (state_->started || state_->stopped) return;
    state_->started = true;
  }
  state_->client->Post([s = state_] { s->List(); });
}

void PrefixCache::Stop() {
  std::unique_ptr<Watcher> watcher;
  {
    std::lock_guard callback_lock(state_->callback_mu);
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
    watcher = std::move(state_->watcher);
    if (state_->retry) state_->retry->Cancel();
  }
  state_->ready_cv.notify_all();
  // `watcher` is destroyed here, outside the locks its callbacks take.
}

Status PrefixCache::WaitReady(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  if (!state_->ready_cv.wait_for(lock, timeout, [&] { return state_->ready || state_->stopped; })) {
    return Status(StatusCode::kDeadlineExceeded,
                  "the first list of " + state_->prefix + " did not arrive in time");
  }
  return state_->ready ? Status::Ok() : Status::Unavailable("closed");
}

std::optional<std::string> PrefixCache::Get(const std::string& key) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->data.find(key);
  if (it == state_->data.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, std::string> PrefixCache::Snapshot() const {
  std::lock_guard lock(state_->mu);
  return state_->data;
}

int64_t PrefixCache::revision() const {
  std::lock_guard lock(state_->mu);
  return state_->revision;
}

int PrefixCache::lists() const {
  std::lock_guard lock(state_->mu);
  return state_->lists;
}

}  // namespace pharos::client
