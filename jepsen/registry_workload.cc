#include "jepsen/registry_workload.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "client/client.h"
#include "client/discovery.h"
#include "client/kv.h"
#include "client/lease.h"
#include "client/lease_keepalive.h"
#include "client/service_instance.h"
#include "jepsen/registry_check.h"

namespace pharos::jepsen {
namespace {

constexpr int64_t kDiscoveryProcess = 1'000'000;  // discovery clients' process ids start here

bool Unknown(const Status& s) {
  return s.code() == StatusCode::kOutcomeUnknown || s.code() == StatusCode::kDeadlineExceeded;
}

std::unique_ptr<client::Client> NewClient(std::vector<std::string> endpoints, size_t first,
                                          std::chrono::milliseconds timeout) {
  client::ClientOptions o;
  // Each client starts at a different member, as independent programs would.
  std::rotate(endpoints.begin(), endpoints.begin() + first % endpoints.size(), endpoints.end());
  o.endpoints = std::move(endpoints);
  o.timeout = timeout;
  return std::make_unique<client::Client>(o);
}

}  // namespace

RegistryWorkload::RegistryWorkload(RegistryWorkloadOptions options, HistoryRecorder& history)
    : options_(std::move(options)), history_(history) {}

RegistryWorkload::~RegistryWorkload() {
  Stop();
  stop_poller_ = true;
  if (poller_.joinable()) poller_.join();
  // Everything built on a client goes before it. Live instances are not deregistered: the
  // cluster is about to be stopped, and a keepalive handle's end does not revoke.
  live_.clear();
  discoveries_.clear();
  discovery_clients_.clear();
  clients_.clear();
}

std::string RegistryWorkload::KeyOf(int process) const {
  return "/services/" + options_.service + "/i" + std::to_string(process);
}

void RegistryWorkload::Start() {
  for (int d = 0; d < options_.discoveries; ++d) {
    const int64_t process = kDiscoveryProcess + d;
    discovery_processes_.push_back(process);
    discovery_clients_.push_back(
        NewClient(options_.endpoints, static_cast<size_t>(d), std::chrono::seconds(2)));
    discoveries_.push_back(std::make_unique<client::Discovery>(
        *discovery_clients_.back(), options_.service,
        client::DiscoveryOptions{.on_change = [this, process](const client::InstanceChange& c) {
          if (c.kind == client::InstanceChange::Kind::kUpdated) return;  // never rewritten here
          const bool added = c.kind == client::InstanceChange::Kind::kAdded;
          history_.Observe(static_cast<int>(process), "discover",
                           "/services/" + c.instance.service + "/" + c.instance.id,
                           added ? "\"added\"" : "\"removed\"");
        }}));
    (void)discoveries_.back()->WaitReady(std::chrono::seconds(10));
  }
  for (int s = 0; s <= options_.instances; ++s) {  // the last one is the poller's
    clients_.push_back(
        NewClient(options_.endpoints, static_cast<size_t>(s), std::chrono::seconds(2)));
  }
  poller_ = std::thread([this] { Poller(); });
  for (int s = 0; s < options_.instances; ++s) threads_.emplace_back([this, s] { Slot(s); });
}

void RegistryWorkload::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void RegistryWorkload::Slot(int slot) {
  client::Client& c = *clients_[slot];
  client::KV kv(c);
  client::Lease leases(c);
  std::mt19937_64 rng(options_.seed * 1000003 + static_cast<uint64_t>(slot));
  const auto rest = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 450));
  };
  // The recorder's clock for a steady_clock instant (a keepalive's deadline).
  const auto recorder_time = [&](std::chrono::steady_clock::time_point tp) {
    return history_.Now() - std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now() - tp)
                                .count();
  };
  const std::string ttl = std::to_string(options_.ttl_seconds);
  while (!stop_) {
    const int process = next_process_++;
    const std::string key = KeyOf(process);
    const int64_t t = history_.Invoke(process, "register", key, "{\"ttl\":" + ttl + "}");
    auto lost = std::make_shared<std::atomic<bool>>(false);
    auto granted = leases.GrantAndKeepAlive(options_.ttl_seconds, [lost](Status) { *lost = true; });
    if (!granted.ok()) {
      history_.Complete(process, Unknown(granted.status()) ? "info" : "fail", "register", key,
                        "null", t);
      rest();
      continue;
    }
    std::unique_ptr<client::LeaseKeepAlive> keepalive = std::move(*granted);
    const int64_t lease = keepalive->id();
    client::ServiceInstance instance;
    instance.id = "i" + std::to_string(process);
    instance.service = options_.service;
    instance.address = "127.0.0.1";
    instance.port = static_cast<uint16_t>(10000 + process % 50000);
    // The same put again is harmless, so one whose outcome is unknown is repeated.
    Result<pb::PutResponse> put = Status::Unavailable("not tried");
    bool unknown = false;
    for (int attempt = 0; attempt < 3 && !stop_; ++attempt) {
      put = kv.Put(key, client::ToJson(instance), {.lease = lease});
      if (put.ok() || !Unknown(put.status())) break;
      unknown = true;
    }
    if (!put.ok()) {
      keepalive.reset();
      (void)leases.Revoke(lease);  // best effort: its TTL bounds it anyway
      history_.Complete(process, unknown || Unknown(put.status()) ? "info" : "fail", "register",
                        key, "null", t);
      rest();
      continue;
    }
    history_.Complete(process, "ok", "register", key,
                      "{\"lease\":" + std::to_string(lease) + ",\"revision\":" +
                          std::to_string(put->header().revision()) + ",\"ttl\":" + ttl + "}",
                      t);
    ++registered_;
    // Alive for 2..20 s: long enough, often, to be checked present for a while after its grace.
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(2000 + rng() % 18000);
    while (!stop_ && !*lost && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (stop_ && !*lost) {
      std::lock_guard guard(mu_);
      live_.push_back({process, key, lease, std::move(keepalive), lost});
      break;
    }
    const int64_t alive_until = recorder_time(keepalive->deadline());
    const bool was_lost = *lost;
    keepalive.reset();                 // keepalives stop here
    if (was_lost || rng() % 3 == 0) {  // lost its lease, or dies silently
      Expire(process, key, lease, alive_until);
      rest();
      continue;
    }
    const int64_t d =
        history_.Invoke(process, "deregister", key, "{\"lease\":" + std::to_string(lease) + "}");
    Result<pb::DeleteRangeResponse> del = Status::Unavailable("not tried");
    unknown = false;
    for (int attempt = 0; attempt < 3; ++attempt) {  // deleting again is harmless too
      del = kv.Delete(key);
      if (del.ok() || !Unknown(del.status())) break;
      unknown = true;
    }
    if (del.ok()) {
      history_.Complete(process, "ok", "deregister", key,
                        "{\"lease\":" + std::to_string(lease) +
                            ",\"revision\":" + std::to_string(del->header().revision()) + "}",
                        d);
      ++deregistered_;
      (void)leases.Revoke(lease);
    } else {
      history_.Complete(process, unknown || Unknown(del.status()) ? "info" : "fail", "deregister",
                        key, "null", d);
      Expire(process, key, lease, alive_until);  // its keepalives stopped all the same
    }
    rest();
  }
}

void RegistryWorkload::Expire(int process, const std::string& key, int64_t lease,
                              int64_t alive_until) {
  const int64_t t = history_.Invoke(process, "expire", key,
                                    "{\"lease\":" + std::to_string(lease) +
                                        ",\"alive_until\":" + std::to_string(alive_until) + "}");
  std::lock_guard guard(mu_);
  pending_.push_back({process, key, lease, t});
}

// Dates each expiry: a linearizable read that finds the record gone.
void RegistryWorkload::Poller() {
  client::KV kv(*clients_.back());
  while (!stop_poller_) {
    std::vector<Pending> now;
    {
      std::lock_guard guard(mu_);
      now = pending_;
    }
    for (const auto& p : now) {
      if (stop_poller_) break;
      auto r = kv.Get(p.key, {}, {.timeout = std::chrono::milliseconds(1000)});
      if (!r.ok() || r->kvs_size() != 0) continue;
      history_.Complete(p.process, "ok", "expire", p.key,
                        "{\"lease\":" + std::to_string(p.lease) +
                            ",\"revision\":" + std::to_string(r->header().revision()) + "}",
                        p.invoked_at);
      ++expired_;
      std::lock_guard guard(mu_);
      std::erase_if(pending_, [&](const Pending& q) { return q.process == p.process; });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

bool RegistryWorkload::Enough(int min_ok_per_key, std::vector<std::string>* why) const {
  // Each instance's key sees only a register and a deregister or expiry, so the key checked is
  // the service: every kind of change must have happened, and enough of them in all.
  const int changes = registered_ + deregistered_ + expired_;
  if (changes >= min_ok_per_key && registered_ >= 1 && deregistered_ >= 1 && expired_ >= 1) {
    return true;
  }
  why->push_back("the service saw only " + std::to_string(registered_) + " registrations, " +
                 std::to_string(deregistered_) + " deregistrations and " +
                 std::to_string(expired_) + " expiries (" + std::to_string(min_ok_per_key) +
                 " changes needed, each kind at least once)");
  return false;
}

Verdict RegistryWorkload::Check() {
  const auto grace = options_.grace;
  const auto ttl = std::chrono::seconds(options_.ttl_seconds);
  // Instances that lost their lease after the workload stopped are dated like the others.
  {
    std::vector<Live> lost;
    {
      std::lock_guard guard(mu_);
      for (auto it = live_.begin(); it != live_.end();) {
        if (*it->lost) {
          lost.push_back(std::move(*it));
          it = live_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& l : lost) {
      const auto left = l.keepalive->deadline() - std::chrono::steady_clock::now();
      const int64_t alive_until =
          history_.Now() + std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      l.keepalive.reset();
      Expire(l.process, l.key, l.lease, alive_until);
    }
  }
  // Every expiry gets its TTL + grace to be seen before the poller stops.
  const auto deadline = std::chrono::steady_clock::now() + ttl + grace;
  for (;;) {
    {
      std::lock_guard guard(mu_);
      if (pending_.empty()) break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling a condition
  }
  stop_poller_ = true;
  if (poller_.joinable()) poller_.join();
  for (const auto& p : pending_) {
    history_.Complete(p.process, "info", "expire", p.key, "null", p.invoked_at);
  }
  pending_.clear();

  Verdict v;
  // At the end each view must equal what the cluster holds, once it has had the grace to.
  std::set<std::string> truth;
  bool have_truth = false;
  {
    client::KV kv(*clients_.back());
    const std::string prefix = "/services/" + options_.service + "/";
    for (int attempt = 0; attempt < 5 && !have_truth; ++attempt) {
      auto r =
          kv.Get(prefix, {.prefix = true, .keys_only = true}, {.timeout = std::chrono::seconds(5)});
      if (!r.ok()) continue;
      for (const auto& kv_ : r->kvs()) truth.insert(kv_.key().substr(prefix.size()));
      have_truth = true;
    }
  }
  if (!have_truth) v.problems.push_back("could not read the services the cluster holds");
  for (size_t d = 0; d < discoveries_.size() && have_truth; ++d) {
    const auto view = [&] {
      std::set<std::string> ids;
      for (const auto& i : discoveries_[d]->Instances()) ids.insert(i.id);
      return ids;
    };
    const auto until = std::chrono::steady_clock::now() + grace;
    while (view() != truth && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a condition
    }
    if (const auto ids = view(); ids != truth) {
      v.problems.push_back("discovery process " + std::to_string(discovery_processes_[d]) +
                           " ends with " + std::to_string(ids.size()) +
                           " instances, the cluster holds " + std::to_string(truth.size()));
    }
  }

  // A history that lost lines (a write error) is not checked: judged, it would be a history that
  // never happened.
  const Status written = history_.Flush();
  std::ifstream in(history_.path());
  const Result<Verdict> checked =
      !written.ok()
          ? Result<Verdict>(written)
          : CheckRegistryHistory(
                in,
                {.grace_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count(),
                 .end_ns = history_.Now(),
                 .views = discovery_processes_});
  if (!checked.ok()) {
    const std::string unreadable =
        "the registry history is unreadable: " + checked.status().ToString();
    if (v.problems.empty()) {
      // Nothing shown wrong, and the history not checked: no verdict, and no anomaly either.
      v.no_verdict = NoVerdict::kUnreadable;
      v.summary = unreadable;
      v.json = "{\"valid\":\"unreadable\"}";
    } else {
      // What the end-of-run comparison above found stands, whatever the history would say.
      v.summary = v.problems.front() + "; " + unreadable;
      v.problems.push_back(unreadable);
      v.json = "{\"valid\":false}";
    }
    return v;
  }
  v.problems.insert(v.problems.end(), checked->problems.begin(), checked->problems.end());
  v.valid = v.problems.empty();
  v.summary = checked->summary;
  v.json = checked->json;
  if (checked->valid && !v.valid) {
    v.summary = "views differ from the cluster at the end; " + v.summary;
    v.json.replace(v.json.find("\"valid\":true"), 12, "\"valid\":false");
  }
  v.json.insert(v.json.size() - 1,
                std::string(",\"views_match_cluster_at_end\":") +
                    (checked->problems.size() == v.problems.size() ? "true" : "false") +
                    ",\"ttl_ms\":" + std::to_string(options_.ttl_seconds * 1000));
  return v;
}

}  // namespace pharos::jepsen
