#include "client/election.h"

#include <algorithm>

#include "client/kv.h"
#include "client/turn.h"

namespace pharos::client {
namespace {

// The oldest key of a listing: the leader.
std::optional<pb::KeyValue> Oldest(const pb::RangeResponse& r) {
  const pb::KeyValue* oldest = nullptr;
  for (const auto& kv : r.kvs()) {
    if (!oldest || kv.create_revision() < oldest->create_revision()) oldest = &kv;
  }
  if (!oldest) return std::nullopt;
  return *oldest;
}

// Re-reads the leader after every change under the prefix and reports it when it differs. The
// watch starts right after a read (its header revision + 1), so no change between the two is
// missed; when the watch ends (COMPACTED: a watch resumed after a reconnect can fall behind the
// compaction), the leader is read again and a new watch starts after that read. A failed read is
// retried with the client's backoff until it succeeds or the observer goes: else the observer
// would show a stale leader for as long as nothing else changes.
class ObserverImpl : public Election::Observer {
 public:
  ObserverImpl(Client& client, const std::string& prefix,
               std::function<void(const std::optional<pb::KeyValue>&)> cb)
      : state_(std::make_shared<State>()) {
    state_->client = &client;
    state_->prefix = prefix;
    state_->cb = std::move(cb);
    state_->Read(/*rewatch=*/true, 0);
  }
  ~ObserverImpl() override {
    std::unique_ptr<Watcher> watcher;
    std::shared_ptr<Client::Timer> retry;
    {
      std::lock_guard lock(state_->mu);
      state_->stopped = true;
      watcher = std::move(state_->watcher);
      retry = std::move(state_->retry);
    }
    if (retry) retry->Cancel();
    // Outside mu: the watcher's destructor waits for its running callback.
    watcher.reset();
  }

 private:
  struct State : std::enable_shared_from_this<State> {
    Client* client = nullptr;
    std::string prefix;
    std::function<void(const std::optional<pb::KeyValue>&)> cb;
    std::mutex mu;
    bool stopped = false;                  // guarded by mu
    bool reported = false;                 // guarded by mu
    int64_t reported_revision = 0;         // guarded by mu: older readings are dropped
    std::optional<pb::KeyValue> last;      // guarded by mu
    std::unique_ptr<Watcher> watcher;      // guarded by mu; replaced on the I/O thread only
    std::shared_ptr<Client::Timer> retry;  // guarded by mu: the pending retry of a read
    bool retry_rewatch = false;            // guarded by mu: ... and what it is for
    int retry_attempt = 0;                 // guarded by mu

    // Reads the leader and reports it; with `rewatch`, then (re)starts the watch after the read.
    void Read(bool rewatch, int attempt) {
      pb::Envelope e;
      *e.mutable_range() = MakeRangeRequest(prefix, {.prefix = true});
      client->CallAsync(std::move(e), {},
                        [self = shared_from_this(), rewatch, attempt](Result<pb::Envelope> r) {
                          if (!r.ok()) return self->RetryRead(rewatch, attempt);
                          self->OnRead(r->range_response(), rewatch);
                        });
    }

    void RetryRead(bool rewatch, int attempt) {
      std::lock_guard lock(mu);
      // The observer goes before its client, whose end fails the calls still pending.
      if (stopped) return;
      // One retry pending at a time: it stands for every read that failed before it.
      if (retry) {
        retry->Cancel();
        rewatch = rewatch || retry_rewatch;
        attempt = std::max(attempt, retry_attempt);
      }
      retry_rewatch = rewatch;
      retry_attempt = attempt;
      retry =
          client->After(client->Backoff(attempt), [self = shared_from_this(), rewatch, attempt] {
            {
              std::lock_guard lock(self->mu);
              if (self->stopped) return;
              self->retry.reset();
            }
            self->Read(rewatch, attempt + 1);
          });
    }

    // On the I/O thread, in a call's callback: never inside the watcher's own callbacks, so the
    // old watcher can be destroyed here.
    void OnRead(const pb::RangeResponse& range, bool rewatch) {
      auto leader = Oldest(range);
      const int64_t rev = range.header().revision();
      std::unique_ptr<Watcher> old;
      std::lock_guard lock(mu);
      if (stopped) return;
      if (rewatch) {
        old = std::move(watcher);
        std::weak_ptr<State> weak = weak_from_this();
        watcher = std::make_unique<Watcher>(
            *client, prefix, WatchOptions{.prefix = true, .start_revision = rev + 1},
            [weak](const std::vector<pb::Event>&, int64_t) {
              if (auto s = weak.lock()) s->Read(/*rewatch=*/false, 0);
            },
            // The watch has ended; the read's callback replaces it.
            [weak](const WatchError&) {
              if (auto s = weak.lock()) s->Read(/*rewatch=*/true, 0);
            });
      }
      if (rev < reported_revision) return;
      reported_revision = rev;
      const bool same =
          reported && leader.has_value() == last.has_value() &&
          (!leader || (leader->key() == last->key() && leader->value() == last->value()));
      if (same) return;
      reported = true;
      last = leader;
      cb(leader);
    }
  };
  std::shared_ptr<State> state_;
};

}  // namespace

Election::Election(Client& client, std::string name, ElectionOptions options)
    : client_(client),
      name_(std::move(name)),
      options_(std::move(options)),
      prefix_(options_.prefix + name_ + "/"),
      session_(client, prefix_, options_.ttl_seconds, [this] { OnSessionLost(); }) {}

Election::~Election() {
  if (is_leader()) (void)Resign();
  session_.Drop();
}

void Election::OnSessionLost() {
  bool was = false;
  {
    std::lock_guard lock(mu_);
    was = leading_;
    leading_ = false;
  }
  if (was && options_.on_lost) options_.on_lost();
}

Status Election::Campaign(const std::string& value, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (Status s = session_.Ensure(); !s.ok()) return s;
  const std::string key = session_.key();
  KV kv(client_);
  Txn txn;
  txn.If(Compare::CreateRevision(key, CompareOp::kEqual, 0))
      .Then(Op::Put(key, value, {.lease = session_.lease()}))
      .Else(Op::Get(key));
  // Create-if-absent, else read: repeating it when its outcome is unknown finds our own key.
  auto r = kv.Commit(txn, {.timeout = timeout, .retry = RetryPolicy::kAlways});
  if (!r.ok()) {
    // Given up after sending: our key may be there, kept alive by our session, and every
    // candidate behind it would wait for one who is not campaigning. Leave the line.
    if (r.status().code() == StatusCode::kOutcomeUnknown) (void)kv.Delete(key);
    return r.status();
  }
  if (r->succeeded()) {
    create_revision_ = r->header().revision();
  } else {
    if (r->responses_size() != 1 || r->responses(0).response_range().kvs_size() != 1) {
      return Status::Internal("campaign txn answered neither way");
    }
    // Already a candidate (a campaign that timed out before): keep the place, take the value.
    create_revision_ = r->responses(0).response_range().kvs(0).create_revision();
    if (Status s = Proclaim(value); !s.ok() && s.code() != StatusCode::kFailedPrecondition) {
      return s;
    }
  }
  Status waited = WaitForTurn(client_, prefix_, key, create_revision_, deadline);
  if (!waited.ok()) {
    (void)kv.Delete(key);  // leave the line: nobody should wait behind a candidate who left
    return waited;
  }
  std::lock_guard lock(mu_);
  leading_ = true;
  return Status::Ok();
}

Status Election::Proclaim(const std::string& value) {
  const std::string key = session_.key();
  if (key.empty()) return Status::FailedPrecondition("not a candidate");
  Txn txn;
  txn.If(Compare::CreateRevision(key, CompareOp::kEqual, create_revision_))
      .Then(Op::Put(key, value, {.lease = session_.lease()}));
  auto r = KV(client_).Commit(txn);
  if (!r.ok()) return r.status();
  if (!r->succeeded()) return Status::FailedPrecondition("no longer a candidate (lease lost)");
  return Status::Ok();
}

Status Election::Resign() {
  {
    std::lock_guard lock(mu_);
    leading_ = false;
  }
  const std::string key = session_.key();
  if (key.empty()) return Status::Ok();
  auto r = KV(client_).Delete(key);
  return r.ok() ? Status::Ok() : r.status();
}

bool Election::is_leader() const {
  std::lock_guard lock(mu_);
  return leading_ && std::chrono::steady_clock::now() < session_.deadline();
}

Result<std::optional<pb::KeyValue>> Election::Leader() {
  auto r = KV(client_).Get(prefix_, {.prefix = true});
  if (!r.ok()) return r.status();
  return Oldest(*r);
}

std::unique_ptr<Election::Observer> Election::Observe(
    std::function<void(const std::optional<pb::KeyValue>&)> cb) {
  return std::make_unique<ObserverImpl>(client_, prefix_, std::move(cb));
}

}  // namespace pharos::client
