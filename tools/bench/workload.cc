#include "tools/bench/workload.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "tools/bench/registry_workload.h"
#include "tools/bench/run_loop.h"

namespace pharos::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string KeyName(const std::string& prefix, int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%08" PRId64, i);
  return prefix + buf;
}

// Values are cut from a buffer of random bytes at varying offsets: a repeated value would let
// one store's compression (RocksDB's) shrink what the other (bbolt) stores as is.
class ValueSource {
 public:
  explicit ValueSource(int size) : size_(std::max(size, 16)) {
    std::mt19937_64 rng(42);
    buffer_.resize(64 * 1024 + size_);
    for (auto& c : buffer_) c = static_cast<char>('!' + rng() % 90);
  }
  std::string Get(int64_t i) const {
    const size_t offset = static_cast<size_t>(i * 37) % (buffer_.size() - size_);
    return buffer_.substr(offset, size_);
  }
  // A value that starts with the operation number in hex, for the watch workload.
  std::string WithSeq(int64_t seq) const {
    std::string v = Get(seq);
    char head[17];
    std::snprintf(head, sizeof(head), "%016" PRIx64, static_cast<uint64_t>(seq));
    v.replace(0, 16, head);
    return v;
  }
  static int64_t SeqOf(const std::string& v) {
    if (v.size() < 16) return -1;
    return static_cast<int64_t>(std::strtoull(v.substr(0, 16).c_str(), nullptr, 16));
  }

 private:
  int size_;
  std::string buffer_;
};

void Absorb(Report& r, LoopResult loop) {
  r.ok = loop.ok;
  r.errors = loop.errors;
  r.first_error = loop.first_error;
  r.seconds = loop.seconds;
  r.latency = loop.latency;
}

double Ms(int64_t nanos) { return nanos / 1e6; }

// A put at a fixed rate into a prefix that `watchers` watchers watch; latency is from the put's
// acknowledgement to each watcher's receipt (0 when the event beat the acknowledgement), and the
// put's send time to receipt is reported beside it.
Result<Report> RunWatch(Backend& backend, const WorkloadOptions& o, Report report) {
  const bool use_duration = o.duration_s > 0;
  if (use_duration && o.rate <= 0) {
    return Status::InvalidArgument("watch: --duration needs --rate (or use --total)");
  }
  const int64_t max_ops = use_duration ? static_cast<int64_t>(o.rate * o.duration_s) + 1 : o.total;
  std::vector<std::atomic<int64_t>> sent(max_ops), acked(max_ops);
  const std::string prefix = o.prefix + "w/";
  const ValueSource values(std::max(o.value_size, 16));

  constexpr int kShards = 16;
  struct Shard {
    std::mutex mu;
    Histogram from_ack, from_send;
    int64_t delivered = 0, early = 0;
  };
  std::vector<Shard> shards(kShards);
  auto on_events = [&](int watcher, const std::vector<std::string>& vals) {
    const int64_t now = NowNanos();
    Shard& sh = shards[static_cast<unsigned>(watcher) % kShards];
    std::lock_guard<std::mutex> lock(sh.mu);
    for (const auto& v : vals) {
      const int64_t seq = ValueSource::SeqOf(v);
      if (seq < 0 || seq >= max_ops) continue;
      const int64_t ack = acked[seq].load(std::memory_order_acquire);
      if (ack == 0) {
        ++sh.early;
        sh.from_ack.Record(0);
      } else {
        sh.from_ack.Record(now - ack);
      }
      sh.from_send.Record(now - sent[seq].load(std::memory_order_acquire));
      ++sh.delivered;
    }
  };
  auto set = backend.Watch(prefix, o.watchers, on_events);
  if (!set.ok()) return set.status();
  if (auto s = (*set)->WaitCreated(std::chrono::seconds(60)); !s.ok()) return s;

  auto loop = RunLoop(o, max_ops, use_duration, o.rate, [&](int c) -> Op {
    return [&, c](int64_t i) {
      if (i >= max_ops) return Status::InvalidArgument("past the run's end");
      sent[i].store(NowNanos(), std::memory_order_release);
      Status s = Await([&](AsyncDone done) {
        backend.PutAsync(c, KeyName(prefix, i % 100), values.WithSeq(i), std::move(done));
      });
      if (s.ok()) acked[i].store(NowNanos(), std::memory_order_release);
      return s;
    };
  });
  // Every acknowledged put must reach every watcher; give the stragglers a few seconds.
  const int64_t expected = loop.ok * o.watchers;
  auto delivered = [&] {
    int64_t n = 0;
    for (auto& sh : shards) {
      std::lock_guard<std::mutex> lock(sh.mu);
      n += sh.delivered;
    }
    return n;
  };
  const auto wait_until = Clock::now() + std::chrono::seconds(10);
  while (delivered() < expected && Clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  set->reset();  // stop the streams before reading the shards for good

  Histogram from_ack, from_send;
  int64_t got = 0, early = 0;
  for (auto& sh : shards) {
    from_ack.Merge(sh.from_ack);
    from_send.Merge(sh.from_send);
    got += sh.delivered;
    early += sh.early;
  }
  report.ok = got;
  report.errors = loop.errors + std::max<int64_t>(0, expected - got);
  report.first_error = loop.first_error;
  if (report.first_error.empty() && got < expected) report.first_error = "events not delivered";
  report.seconds = loop.seconds;
  report.latency = from_ack;
  report.extra = {{"puts", static_cast<double>(loop.ok)},
                  {"puts_per_second", loop.seconds > 0 ? loop.ok / loop.seconds : 0},
                  {"put_p50_ms", Ms(loop.latency.Percentile(50))},
                  {"put_p99_ms", Ms(loop.latency.Percentile(99))},
                  {"events_expected", static_cast<double>(expected)},
                  {"events_before_ack", static_cast<double>(early)},
                  {"from_send_p50_ms", Ms(from_send.Percentile(50))},
                  {"from_send_p99_ms", Ms(from_send.Percentile(99))}};
  return report;
}

// Grants `leases` leases, then renews them round robin, each client on a keepalive stream of its
// own, and reports renewals per second.
Result<Report> RunLease(Backend& backend, const WorkloadOptions& o, Report report) {
  std::vector<int64_t> ids(o.leases);
  WorkloadOptions grant = o;
  grant.duration_s = 0;
  auto granted = RunLoop(grant, o.leases, false, 0, [&](int c) -> Op {
    return [&, c](int64_t i) {
      auto id = backend.GrantLease(c, o.lease_ttl);
      if (!id.ok()) return id.status();
      ids[i] = *id;
      return Status::Ok();
    };
  });
  if (granted.errors > 0) {
    return Status::Unavailable("lease: " + std::to_string(granted.errors) +
                               " grants failed: " + granted.first_error);
  }
  auto loop = RunClosedLoop(o, o.total, o.duration_s > 0, [&](int c) -> AsyncOp {
    auto stream = backend.OpenAsyncKeepAlive(c);
    auto holder = std::make_shared<std::unique_ptr<AsyncKeepAliveStream>>(
        stream.ok() ? std::move(*stream) : nullptr);
    return [&, holder](int64_t i, AsyncDone done) {
      if (!*holder) return done(Status::Unavailable("no keepalive stream"));
      (*holder)->KeepAlive(ids[i % ids.size()], std::move(done));
    };
  });
  Absorb(report, std::move(loop));
  report.extra = {{"leases", static_cast<double>(o.leases)},
                  {"grants_per_second", granted.seconds > 0 ? granted.ok / granted.seconds : 0},
                  {"grant_p99_ms", Ms(granted.latency.Percentile(99))}};
  return report;
}

// Whether every member reports the same commit index within a few seconds (followers learn it
// from the leader's next heartbeat).
bool CaughtUp(Backend& backend) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    const auto members = backend.Members(std::chrono::milliseconds(500));
    bool same = !members.empty();
    for (const MemberState& m : members) {
      same = same && m.reachable && m.commit_index == members.front().commit_index;
    }
    if (same) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// kill -9 of the leader, then puts (through a client already connected, as a service's would
// be) until one succeeds. `extra` names the killed member so the caller can restart it.
Result<Report> RunFailover(Backend& backend, const WorkloadOptions& o, Report report,
                           const std::vector<std::string>& endpoints) {
  if (o.pids.size() != endpoints.size()) {
    return Status::InvalidArgument("failover: --pids must list one pid per endpoint");
  }
  int leader = -1;
  for (int attempt = 0; attempt < 200 && leader < 0; ++attempt) {
    const auto members = backend.Members(std::chrono::milliseconds(500));
    int reachable = 0;
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i].reachable) ++reachable;
      if (members[i].is_leader) leader = static_cast<int>(i);
    }
    if (reachable < static_cast<int>(members.size())) leader = -1;  // wait for every member
    if (leader < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (leader < 0) return Status::Unavailable("failover: no leader with every member up");
  for (int i = 0; i < 200; ++i) {
    if (backend.PutAnywhere(o.prefix + "failover", "warmup", std::chrono::seconds(2)).ok()) break;
  }
  // The leader of a whole cluster is killed: every member holds what the leader has committed.
  // A member restarted by the previous run may still be catching up; killed then, the leader
  // leaves a survivor whose log is behind, the other refuses its (pre-)votes, and the election
  // waits for the second survivor's timer — a slower failover of a cluster that was not whole.
  if (!CaughtUp(backend)) return Status::Unavailable("failover: the members never caught up");
  if (::kill(o.pids[leader], SIGKILL) != 0) return Status::Internal("failover: kill failed");
  const auto t0 = Clock::now();
  int attempts = 0;
  Status s;
  do {
    ++attempts;
    s = backend.PutAnywhere(o.prefix + "failover", "after", o.attempt_timeout);
    char line[64];
    std::snprintf(line, sizeof(line), "%s%.0f ms: ", report.note.empty() ? "" : "; ",
                  std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    report.note += line + (s.ok() ? std::string("ok") : s.ToString());
  } while (!s.ok() && Clock::now() - t0 < std::chrono::seconds(30));
  const auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  report.seconds = nanos / 1e9;
  if (s.ok()) {
    report.ok = 1;
    report.latency.Record(nanos);
  } else {
    report.errors = 1;
    report.first_error = s.ToString();
  }
  report.extra = {{"killed", static_cast<double>(leader)},
                  {"attempts", static_cast<double>(attempts)}};
  return report;
}

struct TermView {
  uint64_t term = 0;
  std::string leader;
  int reachable = 0;
};

TermView ViewOf(Backend& backend) {
  TermView v;
  for (const auto& m : backend.Members(std::chrono::milliseconds(2000))) {
    if (!m.reachable) continue;
    ++v.reachable;
    v.term = std::max(v.term, m.term);
    if (m.is_leader) v.leader = m.endpoint;
  }
  return v;
}

}  // namespace

Result<Report> RunWorkload(Backend& backend, const WorkloadOptions& o) {
  Report report;
  report.workload = o.workload;
  report.target = o.target;
  report.clients = o.clients;
  report.connections = backend.connections();
  if (o.workload == "failover") {
    std::vector<std::string> endpoints;
    for (const auto& m : backend.Members(std::chrono::milliseconds(500))) {
      endpoints.push_back(m.endpoint);
    }
    return RunFailover(backend, o, std::move(report), endpoints);
  }

  const TermView before = ViewOf(backend);
  const bool use_duration = o.duration_s > 0;
  const ValueSource values(o.value_size);
  Result<Report> result = Status::InvalidArgument("unknown workload " + o.workload);
  if (o.workload == "put" || o.workload == "get" || o.workload == "mixed") {
    auto loop = RunClosedLoop(o, o.total, use_duration, [&](int c) -> AsyncOp {
      auto rng = std::make_shared<std::mt19937_64>(c * 7919 + 1);
      return [&, c, rng](int64_t i, AsyncDone done) {
        bool read = o.workload == "get";
        if (o.workload == "mixed") read = ((*rng)() % 10000) < o.read_ratio * 10000;
        if (read) {
          return backend.GetAsync(c, KeyName(o.prefix, (*rng)() % o.keys), o.serializable,
                                  std::move(done));
        }
        backend.PutAsync(c, KeyName(o.prefix, i % o.keys), values.Get(i), std::move(done));
      };
    });
    Absorb(report, std::move(loop));
    result = std::move(report);
  } else if (o.workload == "txn") {
    // Each client swaps its own key (with --keys below --clients, clients share keys and some
    // swaps lose); a lost swap learns the winner's revision and counts as a conflict, not an
    // error.
    std::atomic<int64_t> conflicts{0};
    auto loop = RunLoop(o, o.total, use_duration, o.rate, [&](int c) -> Op {
      const std::string key = KeyName(o.prefix + "txn/", c % std::max<int64_t>(o.keys, 1));
      auto expected = std::make_shared<int64_t>(-1);
      return [&, c, key, expected](int64_t i) {
        if (*expected < 0) {
          auto rev = backend.ModRevision(c, key);
          if (!rev.ok()) return rev.status();
          *expected = *rev;
        }
        auto out = backend.CompareAndSwap(c, key, *expected, values.Get(i));
        if (!out.ok()) {
          *expected = -1;
          return out.status();
        }
        if (!out->succeeded) conflicts.fetch_add(1);
        *expected = out->mod_revision;
        return Status::Ok();
      };
    });
    Absorb(report, std::move(loop));
    report.extra = {{"conflicts", static_cast<double>(conflicts.load())}};
    result = std::move(report);
  } else if (o.workload == "watch") {
    result = RunWatch(backend, o, std::move(report));
  } else if (o.workload == "lease") {
    result = RunLease(backend, o, std::move(report));
  } else if (o.workload == "registry") {
    result = RunRegistry(backend, o, std::move(report));
  }
  if (!result.ok()) return result;

  const TermView after = ViewOf(backend);
  result->term_before = before.term;
  result->term_after = after.term;
  if (before.leader.empty()) {
    result->valid = false;
    result->invalid_reason = "no leader before the run";
  } else if (before.term != after.term || before.leader != after.leader) {
    result->valid = false;
    result->invalid_reason = "the leader changed during the run (term " +
                             std::to_string(before.term) + " -> " + std::to_string(after.term) +
                             ")";
  }
  return result;
}

}  // namespace pharos::bench
