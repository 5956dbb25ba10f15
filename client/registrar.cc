#include "client/registrar.h"

#include <map>
#include <mutex>

#include "client/kv.h"
#include "client/lease.h"

namespace pharos::client {

// Every call here may be repeated when its outcome is unknown: a second grant leaves a lease
// nobody keeps alive, which expires; a second put writes the same record; revoke and delete
// are idempotent.
const CallOptions kRepeatable{.retry = RetryPolicy::kAlways};

struct Registrar::State : std::enable_shared_from_this<State> {
  struct Entry {
    ServiceInstance instance;
    int64_t lease = 0;
    std::unique_ptr<LeaseKeepAlive> keepalive;
    // Drawn from State::last_generation on every (re-)registration, so that a stale callback
    // never matches, not even an entry registered again under the same key after a Deregister.
    int64_t generation = 0;
    // Granted by the re-registration in flight and not yet kept alive: Deregister revokes it
    // too, or the record that re-registration writes would outlive the deregistration.
    int64_t pending_lease = 0;
    int failures = 0;
  };

  Client* client = nullptr;
  RegistrarOptions options;
  mutable std::mutex mu;
  std::map<std::string, Entry> entries;  // key -> entry; guarded by mu
  bool closed = false;                   // guarded by mu
  int64_t last_generation = 0;           // guarded by mu

  std::string KeyOf(const std::string& service, const std::string& id) const {
    return options.prefix + service + "/" + id;
  }

  std::function<void(Status)> OnLost(const std::string& key, int64_t generation) {
    std::weak_ptr<State> weak = shared_from_this();
    return [weak, key, generation](Status) {
      // Runs inside the keepalive's callback, which may not destroy it: re-register later.
      if (auto self = weak.lock()) {
        self->client->Post([self, key, generation] { self->Reregister(key, generation); });
      }
    };
  }

  // On the I/O thread: a new lease, then the record, then a keepalive — all asynchronous.
  void Reregister(const std::string& key, int64_t generation) {
    ServiceInstance instance;
    {
      std::lock_guard lock(mu);
      auto it = entries.find(key);
      if (closed || it == entries.end() || it->second.generation != generation) return;
      instance = it->second.instance;
    }
    auto self = shared_from_this();
    const auto sent = std::chrono::steady_clock::now();
    pb::Envelope grant;
    grant.mutable_lease_grant()->set_ttl(options.ttl_seconds);
    client->CallAsync(
        std::move(grant), {}, [self, key, generation, instance, sent](Result<pb::Envelope> r) {
          if (!r.ok()) return self->RetryLater(key, generation, r.status());
          const int64_t lease = r->lease_grant_response().id();
          const auto alive_until = sent + std::chrono::seconds(r->lease_grant_response().ttl());
          {
            std::lock_guard lock(self->mu);
            Entry* e = self->Current(key, generation);
            // Deregistered while the grant was in flight: a put now would bring the record back.
            if (e == nullptr) return self->RevokeAsync(lease);
            // Set before the put leaves, so that a Deregister from now on revokes it.
            e->pending_lease = lease;
          }
          pb::Envelope put;
          *put.mutable_put() = MakePutRequest(key, ToJson(instance), {.lease = lease});
          self->client->CallAsync(
              std::move(put), {},
              [self, key, generation, lease, alive_until](Result<pb::Envelope> p) {
                std::unique_ptr<LeaseKeepAlive> old;
                {
                  std::lock_guard lock(self->mu);
                  Entry* e = self->Current(key, generation);
                  if (e == nullptr) {
                    // Deregistered after the put left. Deregister revoked the lease too,
                    // unless that failed: a record the put wrote must not live out the TTL.
                    return self->RevokeAsync(lease);
                  }
                  if (p.ok()) {
                    old = std::move(e->keepalive);
                    e->lease = lease;
                    e->pending_lease = 0;
                    e->generation = ++self->last_generation;
                    e->failures = 0;
                    e->keepalive = std::make_unique<LeaseKeepAlive>(
                        *self->client, lease, alive_until, self->OnLost(key, e->generation));
                  }
                }
                if (!p.ok()) return self->RetryLater(key, generation, p.status());
                if (self->options.on_reregister) self->options.on_reregister(key, Status::Ok());
              });
        });
  }

  // The entry at `key` if it is still the one a callback of `generation` works for; mu held.
  Entry* Current(const std::string& key, int64_t generation) {
    auto it = entries.find(key);
    if (closed || it == entries.end() || it->second.generation != generation) return nullptr;
    return &it->second;
  }

  // Best effort: a lease nobody keeps alive expires anyway, this only ends it sooner.
  void RevokeAsync(int64_t lease) {
    pb::Envelope revoke;
    revoke.mutable_lease_revoke()->set_id(lease);
    client->CallAsync(std::move(revoke), kRepeatable, [](Result<pb::Envelope>) {});
  }

  void RetryLater(const std::string& key, int64_t generation, const Status& why) {
    int failures = 0;
    {
      std::lock_guard lock(mu);
      Entry* e = Current(key, generation);
      if (e == nullptr) return;
      failures = e->failures++;
    }
    if (options.on_reregister) options.on_reregister(key, why);
    auto self = shared_from_this();
    client->After(client->Backoff(failures),
                  [self, key, generation] { self->Reregister(key, generation); });
  }
};

Registrar::Registrar(Client& client, RegistrarOptions options) : state_(std::make_shared<State>()) {
  state_->client = &client;
  state_->options = std::move(options);
}

Registrar::~Registrar() {
  std::vector<std::pair<std::string, std::string>> held;
  {
    std::lock_guard lock(state_->mu);
    for (const auto& [key, e] : state_->entries) {
      held.emplace_back(e.instance.service, e.instance.id);
    }
  }
  for (const auto& [service, id] : held) (void)Deregister(service, id);
  std::lock_guard lock(state_->mu);
  state_->closed = true;
}

std::string Registrar::KeyOf(const std::string& service, const std::string& id) const {
  return state_->KeyOf(service, id);
}

Status Registrar::Register(const ServiceInstance& instance) {
  if (instance.service.empty() || instance.id.empty() ||
      instance.service.find('/') != std::string::npos ||
      instance.id.find('/') != std::string::npos) {
    return Status::InvalidArgument("an instance needs a service and an id without '/'");
  }
  const std::string key = KeyOf(instance.service, instance.id);
  // The entry is taken before the grant leaves. Taken at the end, two Registers of one instance
  // from two threads both went through, and the one whose entry went in last could hold the
  // lease whose record the other's put had already replaced: that lease was kept alive while
  // the record's own lease expired and took the instance out of the registry for good.
  int64_t generation = 0;
  {
    std::lock_guard lock(state_->mu);
    if (state_->entries.count(key)) {
      return Status::FailedPrecondition(key + " is already registered, or being registered");
    }
    State::Entry& e = state_->entries[key];
    e.instance = instance;
    e.generation = generation = ++state_->last_generation;
  }
  const Status deregistered =
      Status::FailedPrecondition(key + " was deregistered while it was being registered");
  // Gives the entry up after a failure; a Deregister that took it first is what the caller hears
  // of (the failure, a put refused under the revoked lease, follows from it).
  auto let_go = [&](const Status& failure) {
    std::lock_guard lock(state_->mu);
    if (state_->Current(key, generation) == nullptr) return deregistered;
    state_->entries.erase(key);
    return failure;
  };
  Lease lease(*state_->client);
  const auto sent = std::chrono::steady_clock::now();
  auto granted = lease.Grant(state_->options.ttl_seconds, 0, kRepeatable);
  if (!granted.ok()) return let_go(granted.status());
  {
    std::lock_guard lock(state_->mu);
    State::Entry* e = state_->Current(key, generation);
    if (e == nullptr) {
      state_->RevokeAsync(granted->id());
      return deregistered;
    }
    // Set before the put leaves, so that a Deregister from now on revokes it, as for a
    // re-registration.
    e->pending_lease = granted->id();
  }
  KV kv(*state_->client);
  auto put = kv.Put(key, ToJson(instance), {.lease = granted->id()}, kRepeatable);
  if (!put.ok()) {
    // Revoked before the entry is given up: a put of ours that lands late then writes nothing,
    // even over the record of a Register that takes the entry next.
    (void)lease.Revoke(granted->id(), kRepeatable);  // best effort; it expires anyway
    return let_go(put.status());
  }
  std::lock_guard lock(state_->mu);
  State::Entry* e = state_->Current(key, generation);
  if (e == nullptr) {
    // Deregister revoked the lease, which deleted the record; unless that failed, in which case
    // the record must not live out the TTL.
    state_->RevokeAsync(granted->id());
    return deregistered;
  }
  e->lease = granted->id();
  e->pending_lease = 0;
  e->keepalive = std::make_unique<LeaseKeepAlive>(*state_->client, granted->id(),
                                                  sent + std::chrono::seconds(granted->ttl()),
                                                  state_->OnLost(key, e->generation));
  return Status::Ok();
}

Status Registrar::Update(const ServiceInstance& instance) {
  const std::string key = KeyOf(instance.service, instance.id);
  int64_t lease = 0;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->entries.find(key);
    if (it == state_->entries.end()) return Status::NotFound(key + " is not registered here");
    // Its put would write the record under no lease, to outlive the instance.
    if (it->second.lease == 0) {
      return Status::FailedPrecondition(key + " is still being registered");
    }
    it->second.instance = instance;  // a re-registration writes the new record too
    lease = it->second.lease;
  }
  KV kv(*state_->client);
  auto put = kv.Put(key, ToJson(instance), {.lease = lease}, kRepeatable);
  return put.ok() ? Status::Ok() : put.status();
}

Status Registrar::Deregister(const std::string& service, const std::string& id) {
  const std::string key = KeyOf(service, id);
  std::unique_ptr<LeaseKeepAlive> keepalive;
  int64_t lease = 0;
  int64_t pending_lease = 0;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->entries.find(key);
    if (it == state_->entries.end()) return Status::NotFound(key + " is not registered here");
    keepalive = std::move(it->second.keepalive);
    lease = it->second.lease;
    pending_lease = it->second.pending_lease;
    state_->entries.erase(it);
  }
  keepalive.reset();
  // A re-registration in flight may still put the record under its new lease; once that lease
  // is revoked the server refuses the put, or the revoke deletes what it wrote. A grant still
  // in flight is revoked by its callback, which finds the entry gone.
  Status pending = Status::Ok();
  if (pending_lease != 0) {
    auto revoked = Lease(*state_->client).Revoke(pending_lease, kRepeatable);
    if (!revoked.ok() && revoked.status().code() != StatusCode::kLeaseNotFound) {
      pending = revoked.status();
    }
  }
  // Revoking the lease deletes the record in the same revision. An instance still being
  // registered holds none yet (its Register revokes the grant it is waiting for).
  if (lease != 0) {
    auto revoked = Lease(*state_->client).Revoke(lease, kRepeatable);
    if (!revoked.ok() && revoked.status().code() != StatusCode::kLeaseNotFound) {
      return revoked.status();
    }
  }
  KV kv(*state_->client);
  auto deleted =
      kv.Delete(key, {}, kRepeatable);  // in case the record was written under another lease
  if (!deleted.ok()) return deleted.status();
  return pending;  // not OK: that put may still land
}

int64_t Registrar::LeaseOf(const std::string& service, const std::string& id) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->entries.find(KeyOf(service, id));
  return it == state_->entries.end() ? 0 : it->second.lease;
}

}  // namespace pharos::client
