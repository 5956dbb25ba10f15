// Child process of the log store crash test: appends entries to the log in DIR from several
// threads (so group commit is in play) and writes each acknowledged index, as 8 raw bytes, to
// stdout once its write is durable. Runs until killed.
//   log_store_crash_child DIR
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "raft/log_store.h"
#include "tests/raft/log_store_crash_data.h"
#include "tests/raft/rocks_test_db.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: log_store_crash_child DIR\n");
    return 2;
  }
  pharos::testing::TestRocksDb db(argv[1], {"raft_log", "raft_meta"});
  if (!db.status().ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str());
    return 1;
  }
  auto store = pharos::raft::LogStore::Open(db.db(), db.cf("raft_log"), db.cf("raft_meta"));
  if (!store.ok()) {
    std::fprintf(stderr, "log store: %s\n", store.status().ToString().c_str());
    return 1;
  }
  std::mutex mu;
  uint64_t next = (*store)->LastIndex() + 1;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        std::promise<pharos::Status> done;
        uint64_t index;
        {
          std::lock_guard<std::mutex> lock(mu);
          index = next++;
          pharos::raft::LogStore::Write w;
          w.entries.push_back(pharos::testing::CrashTestEntry(index));
          pharos::raftpb::HardState hs;
          hs.set_term(1);
          hs.set_commit(index);
          w.hard_state = hs;
          (*store)->Submit(std::move(w),
                           [&done](pharos::Status s) { done.set_value(std::move(s)); });
        }
        if (!done.get_future().get().ok()) std::_Exit(3);
        // Acknowledge only after the write is durable.
        std::lock_guard<std::mutex> lock(mu);
        if (write(STDOUT_FILENO, &index, sizeof(index)) != sizeof(index)) std::_Exit(4);
      }
    });
  }
  for (auto& t : threads) t.join();
  return 0;
}
