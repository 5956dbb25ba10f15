#include "tools/bench/etcd_registry.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tools/bench/etcd_watch_stream.h"

namespace pharos::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Where a registry instance's record lives, the same for both systems (client::Registrar's
// default prefix).
std::string KeyOf(const std::string& service, const std::string& id) {
  return "/services/" + service + "/" + id;
}

class EtcdRegistry : public InstanceRegistry {
 public:
  EtcdRegistry(std::vector<Conn*> conns, int64_t ttl_seconds, std::chrono::milliseconds timeout)
      : conns_(std::move(conns)), ttl_(ttl_seconds), timeout_(timeout) {
    keepalive_thread_ = std::thread([this] { KeepAliveLoop(); });
  }

  // Revokes what is still registered, as the Registrar's destructor does.
  ~EtcdRegistry() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    keepalive_thread_.join();
    for (const auto& [key, held] : held_) (void)Revoke(held.conn, held.lease);
  }

  Status Register(int conn, const client::ServiceInstance& instance) override {
    const std::string key = KeyOf(instance.service, instance.id);
    const auto sent = Clock::now();
    epb::LeaseGrantRequest grant;
    grant.set_ttl(ttl_);
    epb::LeaseGrantResponse granted;
    auto ctx = ContextWithin(timeout_);
    if (auto s = FromGrpc(C(conn).lease->LeaseGrant(ctx.get(), grant, &granted)); !s.ok()) {
      return s;
    }
    if (!granted.error().empty()) return Status::Unavailable("etcd: " + granted.error());
    epb::PutRequest put;
    put.set_key(key);
    put.set_value(client::ToJson(instance));
    put.set_lease(granted.id());
    epb::PutResponse resp;
    ctx = ContextWithin(timeout_);
    if (auto s = FromGrpc(C(conn).kv->Put(ctx.get(), put, &resp)); !s.ok()) {
      (void)Revoke(conn, granted.id());  // best effort; it expires anyway
      return s;
    }
    {
      std::lock_guard lock(mu_);
      held_[key] = Held{.lease = granted.id(),
                        .conn = conn,
                        .renew_at = sent + std::chrono::milliseconds(ttl_ * 1000 / 3)};
    }
    cv_.notify_all();
    return Status::Ok();
  }

  Status Deregister(int conn, const std::string& service, const std::string& id) override {
    const std::string key = KeyOf(service, id);
    int64_t lease = 0;
    {
      std::lock_guard lock(mu_);
      auto it = held_.find(key);
      if (it == held_.end()) return Status::NotFound(key + " is not registered here");
      lease = it->second.lease;
      held_.erase(it);
    }
    if (auto s = Revoke(conn, lease); !s.ok()) return s;
    // As client::Registrar does, in case the record was written under another lease: the same
    // two round trips on both systems, so both acknowledge a deregistration at the same point.
    epb::DeleteRangeRequest del;
    del.set_key(key);
    epb::DeleteRangeResponse resp;
    auto ctx = ContextWithin(timeout_);
    return FromGrpc(C(conn).kv->DeleteRange(ctx.get(), del, &resp));
  }

 private:
  struct Held {
    int64_t lease = 0;
    int conn = 0;
    Clock::time_point renew_at;
  };

  Conn& C(int conn) { return *conns_[conn % conns_.size()]; }

  Status Revoke(int conn, int64_t lease) {
    epb::LeaseRevokeRequest req;
    req.set_id(lease);
    epb::LeaseRevokeResponse resp;
    auto ctx = ContextWithin(timeout_);
    return FromGrpc(C(conn).lease->LeaseRevoke(ctx.get(), req, &resp));
  }

  // Renews each held lease TTL/3 after its last renewal (or grant), on one keepalive stream per
  // connection; a renewal that fails is tried again a second later on a fresh stream.
  void KeepAliveLoop() {
    std::map<int, std::unique_ptr<EtcdKeepAlive>> streams;
    std::unique_lock lock(mu_);
    while (!stopping_) {
      auto next = Clock::now() + std::chrono::seconds(1);
      std::vector<std::pair<std::string, Held>> due;
      for (const auto& [key, held] : held_) {
        if (held.renew_at <= Clock::now()) {
          due.emplace_back(key, held);
        } else {
          next = std::min(next, held.renew_at);
        }
      }
      if (due.empty()) {
        cv_.wait_until(lock, next);
        continue;
      }
      lock.unlock();
      for (auto& [key, held] : due) {
        auto& stream = streams[held.conn % static_cast<int>(conns_.size())];
        if (!stream) stream = std::make_unique<EtcdKeepAlive>(C(held.conn));
        const auto sent = Clock::now();
        Status s = stream->KeepAlive(held.lease);
        if (!s.ok() && s.code() != StatusCode::kNotFound) stream.reset();
        held.renew_at = s.ok() ? sent + std::chrono::milliseconds(ttl_ * 1000 / 3)
                               : Clock::now() + std::chrono::seconds(1);
      }
      lock.lock();
      for (const auto& [key, held] : due) {
        auto it = held_.find(key);
        // Deregistered or registered anew meanwhile: that entry has its own schedule.
        if (it != held_.end() && it->second.lease == held.lease)
          it->second.renew_at = held.renew_at;
      }
    }
  }

  std::vector<Conn*> conns_;
  const int64_t ttl_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Held> held_;  // key -> its lease; guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::thread keepalive_thread_;
};

// Discovery clients: what each has seen is kept per client (the ids it knows), touched only by
// the thread that lists it and then by its stream's reader thread.
class EtcdDiscoverySet : public DiscoverySet {
 public:
  EtcdDiscoverySet(std::string service, int count, DiscoveryCallback on_change)
      : service_(std::move(service)),
        prefix_("/services/" + service_ + "/"),
        known_(count),
        on_change_(std::move(on_change)) {}

  Status Start(const std::vector<Conn*>& conns, std::chrono::milliseconds timeout) {
    std::vector<std::vector<EtcdWatchStream::Spec>> by_conn(conns.size());
    for (int i = 0; i < static_cast<int>(known_.size()); ++i) {
      Conn& conn = *conns[i % conns.size()];
      epb::RangeRequest req;
      req.set_key(prefix_);
      req.set_range_end(PrefixEnd(prefix_));
      epb::RangeResponse resp;
      auto ctx = ContextWithin(timeout);
      if (auto s = FromGrpc(conn.kv->Range(ctx.get(), req, &resp)); !s.ok()) return s;
      for (const auto& kv : resp.kvs()) OnPut(i, kv);
      by_conn[i % conns.size()].push_back(
          {.watcher = i, .start_revision = resp.header().revision() + 1});
    }
    for (size_t c = 0; c < conns.size(); ++c) {
      if (by_conn[c].empty()) continue;
      streams_.push_back(std::make_unique<EtcdWatchStream>(
          *conns[c], prefix_, by_conn[c],
          [this](int client, const google::protobuf::RepeatedPtrField<epb::Event>& events) {
            if (client < 0) return;
            for (const auto& e : events) {
              if (e.type() == epb::Event::DELETE) {
                OnDelete(client, e.kv());
              } else {
                OnPut(client, e.kv());
              }
            }
          }));
    }
    return Status::Ok();
  }

  Status WaitReady(std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    for (const auto& s : streams_) {
      while (!s->AllCreated()) {
        if (Clock::now() > deadline) return Status::Unavailable("etcd: watches not created");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    return Status::Ok();
  }

 private:
  // As client::Discovery: records that are not instance JSON are skipped.
  void OnPut(int client, const epb::KeyValue& kv) {
    auto instance = client::InstanceFromJson(kv.value());
    if (!instance.ok()) return;
    const bool added = known_[client].insert(kv.key().substr(prefix_.size())).second;
    on_change_(client, {added ? client::InstanceChange::Kind::kAdded
                              : client::InstanceChange::Kind::kUpdated,
                        std::move(*instance)});
  }

  void OnDelete(int client, const epb::KeyValue& kv) {
    const std::string id = kv.key().substr(prefix_.size());
    if (!known_[client].erase(id)) return;
    client::ServiceInstance gone;
    gone.id = id;
    gone.service = service_;
    on_change_(client, {client::InstanceChange::Kind::kRemoved, std::move(gone)});
  }

  const std::string service_;
  const std::string prefix_;
  std::vector<std::set<std::string>> known_;  // per client: the instance ids it has seen
  DiscoveryCallback on_change_;
  std::vector<std::unique_ptr<EtcdWatchStream>> streams_;  // last: stopped before the rest goes
};

}  // namespace

std::unique_ptr<InstanceRegistry> MakeEtcdRegistry(std::vector<Conn*> conns, int64_t ttl_seconds,
                                                   std::chrono::milliseconds timeout) {
  return std::make_unique<EtcdRegistry>(std::move(conns), ttl_seconds, timeout);
}

Result<std::unique_ptr<DiscoverySet>> MakeEtcdDiscovery(std::vector<Conn*> conns,
                                                        const std::string& service, int count,
                                                        DiscoveryCallback on_change,
                                                        std::chrono::milliseconds timeout) {
  auto set = std::make_unique<EtcdDiscoverySet>(service, count, std::move(on_change));
  if (auto s = set->Start(conns, timeout); !s.ok()) return s;
  return std::unique_ptr<DiscoverySet>(std::move(set));
}

}  // namespace pharos::bench
