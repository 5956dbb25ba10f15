#include "client/election.h"

#include "client/kv.h"
#include "client/lease.h"
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

// Re-reads the leader after every change under the prefix and reports it when it differs.
class ObserverImpl : public Election::Observer {
 public:
  ObserverImpl(Client& client, const std::string& prefix,
               std::function<void(const std::optional<pb::KeyValue>&)> cb)
      : state_(std::make_shared<State>()) {
    state_->client = &client;
    state_->prefix = prefix;
    state_->cb = std::move(cb);
    state_->Read();
    watcher_ = std::make_unique<Watcher>(
        client, prefix, WatchOptions{.prefix = true},
        [s = state_](const std::vector<pb::Event>&, int64_t) { s->Read(); },
        [s = state_](const WatchError&) { s->Read(); });
  }
  ~ObserverImpl() override {
    watcher_.reset();
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
  }

 private:
  struct State : std::enable_shared_from_this<State> {
    Client* client = nullptr;
    std::string prefix;
    std::function<void(const std::optional<pb::KeyValue>&)> cb;
    std::mutex mu;
    bool stopped = false;
    bool reported = false;
    int64_t reported_revision = 0;  // readings older than the last report are dropped
    std::optional<pb::KeyValue> last;

    void Read() {
      pb::Envelope e;
      *e.mutable_range() = MakeRangeRequest(prefix, {.prefix = true});
      client->CallAsync(std::move(e), {}, [self = shared_from_this()](Result<pb::Envelope> r) {
        if (!r.ok()) return;  // the next change (or the watcher's resume) reads again
        auto leader = Oldest(r->range_response());
        std::lock_guard lock(self->mu);
        const int64_t rev = r->range_response().header().revision();
        if (self->stopped || rev < self->reported_revision) return;
        self->reported_revision = rev;
        const bool same = self->reported && leader.has_value() == self->last.has_value() &&
                          (!leader || (leader->key() == self->last->key() &&
                                       leader->value() == self->last->value()));
        if (same) return;
        self->reported = true;
        self->last = leader;
        self->cb(leader);
      });
    }
  };
  std::shared_ptr<State> state_;
  std::unique_ptr<Watcher> watcher_;
};

}  // namespace

Election::Election(Client& client, std::string name, ElectionOptions options)
    : client_(client),
      name_(std::move(name)),
      options_(std::move(options)),
      prefix_(options_.prefix + name_ + "/") {}

Election::~Election() {
  if (is_leader()) (void)Resign();
  if (session_) {
    const int64_t lease = session_->id();
    session_.reset();
    (void)Lease(client_).Revoke(lease);
  }
}

Status Election::Campaign(const std::string& value, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!session_ || session_->lost()) {
    session_.reset();
    auto s = Lease(client_).GrantAndKeepAlive(options_.ttl_seconds, [this](Status) {
      bool was = false;
      {
        std::lock_guard lock(mu_);
        was = leading_;
        leading_ = false;
      }
      if (was && options_.on_lost) options_.on_lost();
    });
    if (!s.ok()) return s.status();
    session_ = std::move(*s);
    key_ = ContenderKey(prefix_, session_->id());
  }
  KV kv(client_);
  Txn txn;
  txn.If(Compare::CreateRevision(key_, CompareOp::kEqual, 0))
      .Then(Op::Put(key_, value, {.lease = session_->id()}))
      .Else(Op::Get(key_));
  // Create-if-absent, else read: repeating it when its outcome is unknown finds our own key.
  auto r = kv.Commit(txn, {.timeout = timeout, .retry = RetryPolicy::kAlways});
  if (!r.ok()) return r.status();
  if (r->succeeded()) {
    create_revision_ = r->header().revision();
  } else {
    // Already a candidate (a campaign that timed out before): keep the place, take the value.
    create_revision_ = r->responses(0).response_range().kvs(0).create_revision();
    if (Status s = Proclaim(value); !s.ok() && s.code() != StatusCode::kFailedPrecondition) {
      return s;
    }
  }
  Status waited = WaitForTurn(client_, prefix_, key_, create_revision_, deadline);
  if (!waited.ok()) {
    (void)kv.Delete(key_);  // leave the line: nobody should wait behind a candidate who left
    return waited;
  }
  std::lock_guard lock(mu_);
  leading_ = true;
  return Status::Ok();
}

Status Election::Proclaim(const std::string& value) {
  if (key_.empty()) return Status::FailedPrecondition("not a candidate");
  Txn txn;
  txn.If(Compare::CreateRevision(key_, CompareOp::kEqual, create_revision_))
      .Then(Op::Put(key_, value, {.lease = session_->id()}));
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
  if (key_.empty()) return Status::Ok();
  auto r = KV(client_).Delete(key_);
  return r.ok() ? Status::Ok() : r.status();
}

bool Election::is_leader() const {
  std::lock_guard lock(mu_);
  return leading_ && session_ && std::chrono::steady_clock::now() < session_->deadline();
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
