#include "tools/bench/registry_workload.h"

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tools/bench/run_loop.h"

namespace pharos::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(int64_t nanos) { return nanos / 1e6; }

void StoreMax(std::atomic<int64_t>& target, int64_t value) {
  int64_t seen = target.load(std::memory_order_relaxed);
  while (seen < value && !target.compare_exchange_weak(seen, value)) {
  }
}

// One register or deregister. Change numbers 0..instances-1 are the registrations made before
// the run (not measured); run operation i is change instances + i.
struct Change {
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> acked{0};  // 0: not (yet) acknowledged, or failed
  std::atomic<int> seen_by{0};    // discovery clients that saw it
  std::atomic<int64_t> last_seen{0};
  // The instance's next change, set before that one is sent: what a removal following this
  // registration is.
  std::atomic<int64_t> next{-1};
};

struct Instance {
  std::mutex mu;  // one change of an instance at a time, so its changes alternate
  bool registered = false;
  int64_t last_change = -1;
};

// What one discovery client has seen of each instance; its callbacks come one at a time, the
// lock only makes that independent of the driver.
struct ClientView {
  std::mutex mu;
  std::vector<int64_t> last_registration;  // per instance: the registration it saw last, or -1
  std::vector<int64_t> last_delivered;     // per instance: the last change counted, or -1
};

std::string InstanceId(int k) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "instance-%05d", k);
  return buf;
}

int InstanceIndex(const std::string& id) {
  int k = -1;
  if (std::sscanf(id.c_str(), "instance-%d", &k) != 1) return -1;
  return k;
}

// A record as a real instance's: address, port, weight, zone, version, and the change number.
client::ServiceInstance Record(const std::string& service, int k, int64_t change) {
  client::ServiceInstance r;
  r.id = InstanceId(k);
  r.service = service;
  r.address = "10.0." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
  r.port = 8080;
  r.weight = 1;
  r.zone = "zone-" + std::to_string(k % 3);
  r.version = "1.0.0";
  r.metadata["change"] = std::to_string(change);
  return r;
}

std::string ServiceName(const WorkloadOptions& o) {
  if (!o.service.empty()) return o.service;
  // A service of its own per run: instances a previous run left behind (their leases not yet
  // expired) cannot be mistaken for this run's.
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "bench-%08x", rd());
  return buf;
}

}  // namespace

Result<Report> RunRegistry(Backend& backend, const WorkloadOptions& o, Report report) {
  const bool use_duration = o.duration_s > 0;
  if (use_duration && o.rate <= 0) {
    return Status::InvalidArgument("registry: --duration needs --rate (or use --total)");
  }
  if (o.instances <= 0 || o.discoverers <= 0) {
    return Status::InvalidArgument("registry: --instances and --discoverers must be positive");
  }
  const int n = o.instances;
  const int m = o.discoverers;
  const int64_t max_ops = use_duration ? static_cast<int64_t>(o.rate * o.duration_s) + 1 : o.total;
  const std::string service = ServiceName(o);
  std::vector<Change> changes(n + max_ops);
  std::vector<Instance> instances(n);
  std::vector<ClientView> views(m);
  for (auto& v : views) {
    v.last_registration.assign(n, -1);
    v.last_delivered.assign(n, -1);
  }
  std::atomic<int64_t> unexpected{0}, duplicates{0};
  const int conns = std::max(1, backend.connections());

  auto deliver = [&](ClientView& view, int k, int64_t change, int64_t now) {
    if (change <= view.last_delivered[k]) {
      duplicates.fetch_add(1);
      return;
    }
    view.last_delivered[k] = change;
    Change& c = changes[change];
    StoreMax(c.last_seen, now);
    c.seen_by.fetch_add(1, std::memory_order_acq_rel);
  };
  auto on_change = [&](int client, const client::InstanceChange& change) {
    const int64_t now = NowNanos();
    const int k = InstanceIndex(change.instance.id);
    if (client < 0 || client >= m || k < 0 || k >= n) {
      unexpected.fetch_add(1);
      return;
    }
    ClientView& view = views[client];
    std::lock_guard lock(view.mu);
    if (change.kind == client::InstanceChange::Kind::kRemoved) {
      const int64_t registration = view.last_registration[k];
      const int64_t removal =
          registration < 0 ? -1 : changes[registration].next.load(std::memory_order_acquire);
      view.last_registration[k] = -1;
      if (removal < 0) {
        unexpected.fetch_add(1);
        return;
      }
      deliver(view, k, removal, now);
      return;
    }
    auto it = change.instance.metadata.find("change");
    const int64_t number =
        it == change.instance.metadata.end() ? -1 : std::strtoll(it->second.c_str(), nullptr, 10);
    if (number < 0 || number >= static_cast<int64_t>(changes.size())) {
      unexpected.fetch_add(1);
      return;
    }
    view.last_registration[k] = number;
    deliver(view, k, number, now);
  };

  // Issues change `number` on instance `k`: a registration if it is not registered, else a
  // deregistration; with `measure`, its acknowledgement's latency is recorded for its kind.
  std::mutex latency_mu;
  Histogram register_latency, deregister_latency;  // guarded by latency_mu
  auto flip = [&](InstanceRegistry& registry, int k, int64_t number, bool measure) {
    Instance& inst = instances[k];
    std::lock_guard lock(inst.mu);
    if (inst.last_change >= 0) {
      changes[inst.last_change].next.store(number, std::memory_order_release);
    }
    inst.last_change = number;
    Change& c = changes[number];
    const bool registration = !inst.registered;
    const int64_t sent = NowNanos();
    c.sent.store(sent, std::memory_order_release);
    Status s = registration ? registry.Register(k % conns, Record(service, k, number))
                            : registry.Deregister(k % conns, service, InstanceId(k));
    const int64_t acked = NowNanos();
    // A registrar that failed holds nothing (its lease is revoked or left to expire), so the
    // next change of this instance is a registration either way.
    inst.registered = registration && s.ok();
    if (!s.ok()) return s;
    c.acked.store(acked, std::memory_order_release);
    if (measure) {
      std::lock_guard latency_lock(latency_mu);
      (registration ? register_latency : deregister_latency).Record(acked - sent);
    }
    return Status::Ok();
  };

  auto registry = backend.OpenRegistry(o.instance_ttl);
  if (!registry.ok()) return registry.status();
  // Before the run: every instance registered (change k registers instance k), then the
  // discovery clients list them and start watching.
  WorkloadOptions setup = o;
  setup.duration_s = 0;
  setup.progress = false;
  auto registered = RunLoop(setup, n, false, 0, [&](int) -> Op {
    return [&](int64_t i) { return flip(**registry, static_cast<int>(i), i, false); };
  });
  if (registered.errors > 0) {
    return Status::Unavailable("registry: " + std::to_string(registered.errors) +
                               " registrations before the run failed: " + registered.first_error);
  }
  auto discovery = backend.Discover(service, m, on_change);
  if (!discovery.ok()) return discovery.status();
  if (auto s = (*discovery)->WaitReady(std::chrono::seconds(60)); !s.ok()) return s;
  auto seen_by_all = [&](int64_t from, int64_t to) {
    for (int64_t i = from; i < to; ++i) {
      if (changes[i].acked.load() != 0 && changes[i].seen_by.load() < m) return false;
    }
    return true;
  };
  for (const auto deadline = Clock::now() + std::chrono::seconds(30); !seen_by_all(0, n);) {
    if (Clock::now() > deadline) {
      return Status::Unavailable("registry: the discovery clients never listed every instance");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  auto loop = RunLoop(o, max_ops, use_duration, o.rate, [&](int) -> Op {
    return [&](int64_t i) {
      if (i >= max_ops) return Status::InvalidArgument("past the run's end");
      return flip(**registry, static_cast<int>(i % n), n + i, true);
    };
  });
  const int64_t issued = std::min<int64_t>(max_ops, loop.ok + loop.errors);
  // Every acknowledged change must reach every discovery client; give the stragglers a while.
  for (const auto deadline = Clock::now() + std::chrono::seconds(10);
       !seen_by_all(n, n + issued) && Clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  discovery->reset();  // no callback after this

  Histogram from_ack, from_send;
  int64_t all_saw = 0, unseen = 0, before_ack = 0;
  for (int64_t i = n; i < n + issued; ++i) {
    const Change& c = changes[i];
    const int64_t acked = c.acked.load();
    if (acked == 0) continue;  // failed: counted by the loop
    if (c.seen_by.load() < m) {
      ++unseen;
      continue;
    }
    ++all_saw;
    const int64_t last = c.last_seen.load();
    if (last <= acked) ++before_ack;
    from_ack.Record(std::max<int64_t>(0, last - acked));
    from_send.Record(last - c.sent.load());
  }
  registry->reset();  // deregisters what is still registered

  report.ok = all_saw;
  report.errors = loop.errors + unseen;
  report.first_error = loop.first_error;
  if (report.first_error.empty() && unseen > 0) {
    report.first_error = std::to_string(unseen) + " changes not seen by every discovery client";
  }
  report.seconds = loop.seconds;
  report.latency = from_ack;
  report.extra = {{"instances", static_cast<double>(n)},
                  {"discoverers", static_cast<double>(m)},
                  {"changes", static_cast<double>(loop.ok)},
                  {"changes_per_second", loop.seconds > 0 ? loop.ok / loop.seconds : 0},
                  {"registrations", static_cast<double>(register_latency.count())},
                  {"deregistrations", static_cast<double>(deregister_latency.count())},
                  {"register_p50_ms", Ms(register_latency.Percentile(50))},
                  {"register_p99_ms", Ms(register_latency.Percentile(99))},
                  {"deregister_p50_ms", Ms(deregister_latency.Percentile(50))},
                  {"deregister_p99_ms", Ms(deregister_latency.Percentile(99))},
                  {"from_send_p50_ms", Ms(from_send.Percentile(50))},
                  {"from_send_p90_ms", Ms(from_send.Percentile(90))},
                  {"from_send_p99_ms", Ms(from_send.Percentile(99))},
                  {"from_send_max_ms", Ms(from_send.max_nanos())},
                  {"seen_by_all_before_ack", static_cast<double>(before_ack)},
                  {"changes_not_seen_by_all", static_cast<double>(unseen)},
                  {"unexpected_events", static_cast<double>(unexpected.load())},
                  {"duplicate_events", static_cast<double>(duplicates.load())}};
  return report;
}

}  // namespace pharos::bench
