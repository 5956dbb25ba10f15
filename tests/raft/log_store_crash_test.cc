// SIGKILL crash test of the log store: a child process appends and acknowledges entries; the
// parent kills it once it has acknowledged a random number of new entries, reopens the store and
// checks that every acknowledged entry is intact and the log is a clean prefix of what the child
// wrote. (SIGKILL keeps the page cache, so this cannot catch a missing fsync; the fault-injecting
// Env of the durability checks does that.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "raft/log_store.h"
#include "tests/raft/log_store_crash_data.h"
#include "tests/raft/rocks_test_db.h"

namespace pharos::raft {
namespace {

using pharos::testing::TestRocksDb;

struct Child {
  pid_t pid = -1;
  int out = -1;
};

Child Spawn(const std::string& dir) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(LOG_STORE_CRASH_CHILD, LOG_STORE_CRASH_CHILD, dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// Reads acknowledged indexes until `want` new ones arrived or the deadline passed; returns the
// highest index seen.
uint64_t ReadAcks(int fd, uint64_t highest, int want,
                  std::chrono::steady_clock::time_point deadline) {
  int got = 0;
  while (got < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    uint64_t index;
    const ssize_t n = read(fd, &index, sizeof(index));
    if (n != sizeof(index)) break;  // partial or closed: the child died
    highest = std::max(highest, index);
    ++got;
  }
  return highest;
}

TEST(LogStoreCrashTest, EveryAcknowledgedEntrySurvivesSigkill) {
  const std::string dir = TestRocksDb::FreshDir("logstore-crash");
  std::mt19937_64 rng(20261124);
  uint64_t acked = 0;
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    Child child = Spawn(dir);
    ASSERT_GT(child.pid, 0);
    const int want = 1 + static_cast<int>(rng() % 300);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    acked = ReadAcks(child.out, acked, want, deadline);
    kill(child.pid, SIGKILL);
    // Acks the child wrote before it died still count.
    acked = ReadAcks(child.out, acked, INT32_MAX,
                     std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    int status = 0;
    ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself with status " << status;
    close(child.out);

    TestRocksDb db(dir, {"raft_log", "raft_meta"});
    ASSERT_TRUE(db.status().ok()) << db.status().ToString();
    auto store = LogStore::Open(db.db(), db.cf("raft_log"), db.cf("raft_meta"));
    ASSERT_TRUE(store.ok()) << "round " << round << ": " << store.status().ToString();
    const uint64_t last = (*store)->LastIndex();
    ASSERT_GE(last, acked) << "round " << round << ": acknowledged entries lost";
    ASSERT_EQ((*store)->FirstIndex(), 1u);
    auto entries = (*store)->Entries(1, last + 1, UINT64_MAX);
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    ASSERT_EQ(entries->size(), last);
    for (const raftpb::Entry& e : *entries) {
      const raftpb::Entry want_entry = pharos::testing::CrashTestEntry(e.index());
      ASSERT_EQ(e.data(), want_entry.data()) << "round " << round << ", index " << e.index();
    }
    auto init = (*store)->GetInitialState();
    ASSERT_TRUE(init.ok());
    EXPECT_LE(init->hard_state.commit(), last);
  }
  EXPECT_GT(acked, uint64_t{kRounds});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pharos::raft
