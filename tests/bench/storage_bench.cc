// Microbenchmarks of the storage layer (Google Benchmark): Raft log appends with group commit,
// applying puts to the MVCC store, prefix ranges, and watch dispatch. Not a test: run by hand,
// in a Release build, and quote the figures.
//   build-release/tests/bench/storage_bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "kvstore/mvcc_store.h"
#include "kvstore/watch_hub.h"
#include "raft/log_store.h"
#include "tests/kvstore/kv_requests.h"
#include "tests/kvstore/kv_test_store.h"
#include "tests/raft/rocks_test_db.h"

namespace pharos {
namespace {

using kv::testing::KvTestStore;
using kv::testing::PutReq;

// Appenders each submit one 256-byte entry at a time and wait for it to be durable; indexes are
// handed out under a lock so the log stays contiguous. Reports entries per fsync.
void BM_LogAppend(benchmark::State& state) {
  const int appenders = static_cast<int>(state.range(0));
  const std::string dir = testing::TestRocksDb::FreshDir("bench-log");
  uint64_t total = 0;
  double batches = 0, writes = 0;
  {
    testing::TestRocksDb db(dir, {"raft_log", "raft_meta"});
    auto store = raft::LogStore::Open(db.db(), db.cf("raft_log"), db.cf("raft_meta"));
    std::mutex mu;
    uint64_t next = 1;
    const std::string payload(256, 'p');
    for (auto _ : state) {
      constexpr int kPerAppender = 64;
      std::vector<std::thread> threads;
      for (int t = 0; t < appenders; ++t) {
        threads.emplace_back([&] {
          for (int i = 0; i < kPerAppender; ++i) {
            std::promise<Status> done;
            {
              std::lock_guard<std::mutex> lock(mu);
              raft::LogStore::Write w;
              raftpb::Entry& e = w.entries.emplace_back();
              e.set_index(next++);
              e.set_term(1);
              e.set_data(payload);
              (*store)->Submit(std::move(w), [&done](Status s) { done.set_value(s); });
            }
            if (!done.get_future().get().ok()) std::abort();
          }
        });
      }
      for (auto& th : threads) th.join();
      total += uint64_t(appenders) * kPerAppender;
    }
    const auto stats = (*store)->stats();
    batches = double(stats.batches);
    writes = double(stats.writes);
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(int64_t(total));
  state.counters["entries_per_fsync"] = writes / std::max(1.0, batches);
}
BENCHMARK(BM_LogAppend)->Arg(1)->Arg(8)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ApplyPut256(benchmark::State& state) {
  KvTestStore store("bench-apply");
  const std::string value(256, 'v');
  uint64_t index = 0;
  for (auto _ : state) {
    ++index;
    auto r = store->Apply(index, PutReq("key" + std::to_string(index % 100000), value));
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(int64_t(index));
}
BENCHMARK(BM_ApplyPut256);

void BM_PrefixRange1000(benchmark::State& state) {
  KvTestStore store("bench-range");
  uint64_t index = 0;
  for (int i = 0; i < 1000; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "/services/greeter/%04d", i);
    if (!store->Apply(++index, PutReq(name, std::string(256, 'v'))).ok()) std::abort();
  }
  for (int i = 0; i < 5000; ++i) {
    if (!store->Apply(++index, PutReq("other/" + std::to_string(i), "x")).ok()) std::abort();
  }
  for (auto _ : state) {
    auto r = store->Range(kv::testing::RangeReq("/services/greeter/", "/services/greeter0"));
    if (!r.ok() || r->kvs_size() != 1000) state.SkipWithError("range returned the wrong keys");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_PrefixRange1000);

void BM_DispatchTo1000Watchers(benchmark::State& state) {
  KvTestStore store("bench-watch");
  uint64_t ready = 0;
  kv::WatchHub hub(&*store, {}, [&ready](int64_t) { ++ready; });
  std::vector<int64_t> ids;
  for (int i = 0; i < 1000; ++i) {
    pb::WatchCreateRequest w;
    w.set_key("/services/");
    w.set_range_end("/services0");
    ids.push_back(*hub.Watch(w));
  }
  uint64_t index = 0;
  for (auto _ : state) {
    ++index;
    auto r = store->Apply(index, PutReq("/services/greeter/1", "v" + std::to_string(index)));
    hub.OnApply(r->revision, r->events);
    // The readers drain, as connections would.
    for (int64_t id : ids) benchmark::DoNotOptimize(hub.Poll(id, 16));
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.counters["ready_calls"] = double(ready);
}
BENCHMARK(BM_DispatchTo1000Watchers);

}  // namespace
}  // namespace pharos

BENCHMARK_MAIN();
