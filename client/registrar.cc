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
    int generation = 0;  // bumped on every (re-)registration; stale callbacks compare it
    int failures = 0;
  };

  Client* client = nullptr;
  RegistrarOptions options;
  mutable std::mutex mu;
  std::map<std::string, Entry> entries;  // key -> entry; guarded by mu
  bool closed = false;                   // guarded by mu

  std::string KeyOf(const std::string& service, const std::string& id) const {
    return options.prefix + service + "/" + id;
  }

  std::function<void(Status)> OnLost(const std::string& key, int generation) {
    std::weak_ptr<State> weak = shared_from_this();
    return [weak, key, generation](Status) {
      // Runs inside the keepalive's callback, which may not destroy it: re-register later.
      if (auto self = weak.lock()) {
        self->client->Post([self, key, generation] { self->Reregister(key, generation); });
      }
    };
  }

  // On the I/O thread: a new lease, then the record, then a keepalive — all asynchronous.
  void Reregister(const std::string& key, int generation) {
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
          pb::Envelope put;
          *put.mutable_put() = MakePutRequest(key, ToJson(instance), {.lease = lease});
          self->client->CallAsync(
              std::move(put), {},
              [self, key, generation, lease, alive_until](Result<pb::Envelope> p) {
                if (!p.ok()) return self->RetryLater(key, generation, p.status());
                std::unique_ptr<LeaseKeepAlive> old;
                Status status = Status::Ok();
                {
                  std::lock_guard lock(self->mu);
                  auto it = self->entries.find(key);
                  if (self->closed || it == self->entries.end() ||
                      it->second.generation != generation) {
                    return;  // deregistered meanwhile; the new lease expires on its own
                  }
                  Entry& e = it->second;
                  old = std::move(e.keepalive);
                  e.lease = lease;
                  e.generation = generation + 1;
                  e.failures = 0;
                  e.keepalive = std::make_unique<LeaseKeepAlive>(*self->client, lease, alive_until,
                                                                 self->OnLost(key, e.generation));
                }
                if (self->options.on_reregister) self->options.on_reregister(key, status);
              });
        });
  }

  void RetryLater(const std::string& key, int generation, const Status& why) {
    int failures = 0;
    {
      std::lock_guard lock(mu);
      auto it = entries.find(key);
      if (closed || it == entries.end() || it->second.generation != generation) return;
      failures = it->second.failures++;
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
  {
    std::lock_guard lock(state_->mu);
    if (state_->entries.count(key)) {
      return Status::FailedPrecondition(key + " is already registered; use Update");
    }
  }
  Lease lease(*state_->client);
  const auto sent = std::chrono::steady_clock::now();
  auto granted = lease.Grant(state_->options.ttl_seconds, 0, kRepeatable);
  if (!granted.ok()) return granted.status();
  KV kv(*state_->client);
  auto put = kv.Put(key, ToJson(instance), {.lease = granted->id()}, kRepeatable);
  if (!put.ok()) {
    (void)lease.Revoke(granted->id(), kRepeatable);  // best effort; it expires anyway
    return put.status();
  }
  std::lock_guard lock(state_->mu);
  State::Entry& e = state_->entries[key];
  e.instance = instance;
  e.lease = granted->id();
  e.keepalive = std::make_unique<LeaseKeepAlive>(*state_->client, granted->id(),
                                                 sent + std::chrono::seconds(granted->ttl()),
                                                 state_->OnLost(key, e.generation));
  return Status::Ok();
}

Status Registrar::Update(const ServiceInstance& instance) {
  const std::string key = KeyOf(instance.service, instance.id);
  int64_t lease = 0;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->entries.find(key);
    if (it == state_->entries.end()) return Status::NotFound(key + " is not registered here");
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
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->entries.find(key);
    if (it == state_->entries.end()) return Status::NotFound(key + " is not registered here");
    keepalive = std::move(it->second.keepalive);
    lease = it->second.lease;
    state_->entries.erase(it);
  }
  keepalive.reset();
  // Revoking the lease deletes the record in the same revision.
  auto revoked = Lease(*state_->client).Revoke(lease, kRepeatable);
  if (revoked.ok() || revoked.status().code() == StatusCode::kLeaseNotFound) {
    KV kv(*state_->client);
    auto deleted =
        kv.Delete(key, {}, kRepeatable);  // in case the record was written under another lease
    return deleted.ok() ? Status::Ok() : deleted.status();
  }
  return revoked.status();
}

int64_t Registrar::LeaseOf(const std::string& service, const std::string& id) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->entries.find(KeyOf(service, id));
  return it == state_->entries.end() ? 0 : it->second.lease;
}

}  // namespace pharos::client
