#include "client/lease_keepalive.h"

#include <mutex>

#include "client/client.h"

namespace pharos::client {

using SteadyClock = std::chrono::steady_clock;

struct LeaseKeepAlive::State : std::enable_shared_from_this<State> {
  Client* client = nullptr;
  int64_t id = 0;
  mutable std::mutex mu;
  // Held while on_lost runs, so that once the destructor has it no callback is running or to come.
  std::mutex callback_mu;
  Clock::TimePoint deadline;  // guarded by mu
  int64_t ttl = 0;            // guarded by mu
  bool lost = false;          // guarded by mu
  bool stopped = false;       // guarded by mu
  std::function<void(Status)> on_lost;
  std::shared_ptr<Client::Timer> next, expiry;  // I/O thread
  int failures = 0;                             // I/O thread

  void Lose(const Status& why) {
    std::lock_guard callback_lock(callback_mu);
    {
      std::lock_guard lock(mu);
      if (lost || stopped) return;
      lost = true;
    }
    if (next) next->Cancel();
    if (expiry) expiry->Cancel();
    if (on_lost) on_lost(why);
  }

  // Runs on the I/O thread.
  void Renew() {
    {
      std::lock_guard lock(mu);
      if (lost || stopped) return;
    }
    const auto sent = SteadyClock::now();
    pb::Envelope e;
    e.mutable_lease_keep_alive()->set_id(id);
    CallOptions call;
    call.timeout = std::chrono::milliseconds(std::max<int64_t>(500, ttl_ms() / 3));
    call.retry = RetryPolicy::kNever;  // this loop retries on its own schedule
    client->CallAsync(std::move(e), call,
                      [self = shared_from_this(), sent](Result<pb::Envelope> r) {
                        self->OnRenewed(sent, std::move(r));
                      });
  }

  int64_t ttl_ms() const {
    std::lock_guard lock(mu);
    return ttl * 1000;
  }

  void OnRenewed(SteadyClock::time_point sent, Result<pb::Envelope> r) {
    if (r.ok() && r->lease_keep_alive_response().ttl() > 0) {
      const int64_t granted = r->lease_keep_alive_response().ttl();
      {
        std::lock_guard lock(mu);
        if (lost || stopped) return;
        ttl = granted;
        deadline = std::max(deadline, sent + std::chrono::seconds(granted));
      }
      failures = 0;
      ArmExpiry();
      // Renew at a third of the TTL, as etcd's clients do: two more tries before it runs out.
      next = client->After(std::chrono::milliseconds(granted * 1000 / 3),
                           [self = shared_from_this()] { self->Renew(); });
      return;
    }
    if (r.ok() || r.status().code() == StatusCode::kLeaseNotFound) {
      return Lose(Status(StatusCode::kLeaseNotFound, "lease expired or was revoked"));
    }
    // Unreachable or no leader: try again soon; the expiry timer decides when it is too late.
    next =
        client->After(client->Backoff(failures++), [self = shared_from_this()] { self->Renew(); });
  }

  void ArmExpiry() {
    if (expiry) expiry->Cancel();
    Clock::TimePoint until;
    {
      std::lock_guard lock(mu);
      until = deadline;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
    expiry =
        client->After(std::max(left, std::chrono::milliseconds(0)), [self = shared_from_this()] {
          Clock::TimePoint d;
          {
            std::lock_guard lock(self->mu);
            d = self->deadline;
          }
          if (SteadyClock::now() >= d) {
            self->Lose(Status::Unavailable("no renewal acknowledged before the lease's deadline"));
          } else {
            self->ArmExpiry();
          }
        });
  }
};

LeaseKeepAlive::LeaseKeepAlive(Client& client, int64_t id, Clock::TimePoint known_alive_until,
                               std::function<void(Status)> on_lost)
    : id_(id), state_(std::make_shared<State>()) {
  state_->client = &client;
  state_->id = id;
  state_->deadline = known_alive_until;
  state_->on_lost = std::move(on_lost);
  client.Post([s = state_] {
    s->ArmExpiry();
    s->Renew();
  });
}

LeaseKeepAlive::~LeaseKeepAlive() {
  {
    std::lock_guard callback_lock(state_->callback_mu);
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
  }
  // The timers are touched on the I/O thread only; cancel them there.
  state_->client->Post([s = state_] {
    if (s->next) s->next->Cancel();
    if (s->expiry) s->expiry->Cancel();
  });
}

Clock::TimePoint LeaseKeepAlive::deadline() const {
  std::lock_guard lock(state_->mu);
  return state_->deadline;
}

bool LeaseKeepAlive::lost() const {
  std::lock_guard lock(state_->mu);
  return state_->lost;
}

int64_t LeaseKeepAlive::ttl() const {
  std::lock_guard lock(state_->mu);
  return state_->ttl;
}

}  // namespace pharos::client
