// Three RaftDrivers on loopback in one process, with real RocksDB logs and TCP: a leader is
// elected, proposals commit everywhere, a restarted member catches up from its own log, and a
// leader keeps leading while its owner thread is stuck or its followers' disks stall. Each driver
// runs its core on a thread of its own; each member has an io_context playing its owner's thread
// (pharosd's client I/O thread), run by the test thread unless said otherwise, and everything a
// driver reports is handed to it.
#include "registry/raft_driver.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <optional>
#include <string_view>
#include <thread>

#include "common/asio.h"
#include "registry/cluster_id.h"
#include "registry/storage_engine.h"
#include "tests/raft/rocks_test_db.h"
#include "tests/registry/free_port.h"
#include "tests/registry/stalling_file_system.h"

namespace pharos::registry {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct Member {
  asio::io_context owner;
  std::string dir;
  std::unique_ptr<StorageEngine> storage;
  std::unique_ptr<RaftDriver> driver;
  std::vector<std::string> applied;  // owner's thread
  // The last index handed to the apply callback, as pharosd's applier publishes what it wrote.
  std::atomic<uint64_t> applied_index{0};
  std::atomic<int> snapshots{0};  // snapshots handed to the apply callback since the start
  std::atomic<uint64_t> last_snapshot_index{0};  // the last one's
  std::string last_snapshot_data;                // owner's thread
  // Plays a crash of the state machine at the next snapshot: nothing from there on is applied.
  std::atomic<bool> crash_at_snapshot{false};
  std::atomic<bool> crashed{false};
  // What the state machine says it applied when the member starts; unset: the log's snapshot
  // point (this state machine lives in memory and replays the log after that point).
  std::optional<uint64_t> applied_on_start;
  // Plays a raft thread kept busy: the apply callback (on that thread) holds it this long for
  // each entry whose data is kStallTheRaftThread.
  std::chrono::milliseconds raft_thread_stall{0};
};

constexpr std::string_view kStallTheRaftThread = "stall the raft thread";

class RaftDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint64_t id = 1; id <= 3; ++id) {
      peers_[id] = "127.0.0.1:" + std::to_string(pharos::testing::FreePort());
      members_[id].dir = pharos::testing::TestRocksDb::FreshDir("driver");
    }
    for (uint64_t id = 1; id <= 3; ++id) StartMember(id);
  }
  void TearDown() override {
    for (auto& [id, m] : members_) StopMember(id);
    for (auto& [id, m] : members_) std::filesystem::remove_all(m.dir);
  }
  void StartMember(uint64_t id) {
    Member& m = members_[id];
    m.applied.clear();
    m.snapshots = 0;
    m.crashed = false;
    auto storage = StorageEngine::Open(m.dir);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    m.storage = std::move(*storage);
    RaftDriverOptions o;
    o.id = id;
    o.listen_peer = peers_[id];
    o.peers = peers_;
    o.bootstrap_voters = {1, 2, 3};
    o.cluster_id = cluster_ids_[id];
    o.snapshot_count = snapshot_count_;
    o.snapshot_catchup_entries = catchup_entries_;
    o.warn_log_write_ms = warn_log_write_ms_;
    o.warn_raft_thread_late_ms = warn_raft_thread_late_ms_;
    o.heartbeat_ticks = heartbeat_ticks_;
    o.election_min_ticks = election_min_ticks_;
    o.election_max_ticks = election_max_ticks_;
    o.applied = m.applied_on_start.value_or(CompactedTo(id));
    m.applied_index = o.applied;
    o.applied_index = [&m] { return m.applied_index.load(); };
    RaftDriver::Callbacks cb;
    // On the raft thread: hop to the owner's, as pharosd's apply thread queue does.
    cb.apply = [&m](std::optional<raftpb::Snapshot> snapshot, std::vector<raftpb::Entry> entries) {
      if (m.crashed) return;
      if (snapshot) {
        ++m.snapshots;
        m.last_snapshot_index = snapshot->metadata().index();
        asio::post(m.owner, [&m, data = snapshot->data()] { m.last_snapshot_data = data; });
        if (m.crash_at_snapshot) {
          m.crashed = true;
          return;
        }
        m.applied_index = snapshot->metadata().index();
      }
      if (!entries.empty()) m.applied_index = entries.back().index();
      for (const auto& e : entries) {
        if (e.data() == kStallTheRaftThread) std::this_thread::sleep_for(m.raft_thread_stall);
      }
      asio::post(m.owner, [&m, entries = std::move(entries)] {
        for (const auto& e : entries) {
          if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) {
            m.applied.push_back(e.data());
          }
        }
      });
    };
    // The state machine's data names the index it holds, as pharosd's snapshot carries its own.
    cb.snapshot_data = [&m](std::function<void(Result<RaftDriver::SnapshotData>)> done) {
      const uint64_t at = m.applied_index;
      done(RaftDriver::SnapshotData{"state@" + std::to_string(at), at});
    };
    auto post = [&m](std::function<void()> fn) { asio::post(m.owner, std::move(fn)); };
    auto driver = RaftDriver::Start(*m.storage, o, post, cb);
    ASSERT_TRUE(driver.ok()) << driver.status().ToString();
    m.driver = std::move(*driver);
  }
  // Stops a member, then runs what its raft thread handed over before it stopped.
  void StopMember(uint64_t id) {
    Member& m = members_[id];
    m.driver.reset();
    m.storage.reset();
    m.owner.restart();
    m.owner.poll();
  }
  // Runs the owners' threads (all but `except`'s) until `done` holds or the deadline passes.
  template <typename Pred>
  bool RunUntil(Pred done, std::chrono::seconds deadline, uint64_t except = 0) {
    const auto until = Clock::now() + deadline;
    while (!done()) {
      if (Clock::now() > until) return false;
      asio::io_context* wait_on = nullptr;
      for (auto& [id, m] : members_) {
        if (id == except) continue;
        m.owner.restart();
        m.owner.poll();
        wait_on = &m.owner;
      }
      // Waits for the next handler of one owner, a few ms at most.
      wait_on->restart();
      wait_on->run_for(std::chrono::milliseconds(2));
    }
    return true;
  }
  // Proposes on `id`; a refusal is kept in refusals_ (only refusals are answered).
  void Propose(uint64_t id, std::string data) {
    members_[id].driver->Propose(std::move(data),
                                 [this](Status s) { refusals_.push_back(s.ToString()); });
  }
  // Every member has applied `n` entries, the last one `last` (or a proposal was refused).
  ::testing::AssertionResult WaitAllApplied(size_t n, const std::string& last) {
    const bool done = RunUntil(
        [&] {
          if (!refusals_.empty()) return true;
          for (auto& [id, m] : members_) {
            if (m.applied.size() != n || m.applied.back() != last) return false;
          }
          return true;
        },
        std::chrono::seconds(10));
    if (!refusals_.empty()) return ::testing::AssertionFailure() << "refused: " << refusals_[0];
    if (!done) return ::testing::AssertionFailure() << "not applied everywhere: " << last;
    return ::testing::AssertionSuccess();
  }
  // The index a member's log is compacted to, read from its RocksDB (safe beside the driver):
  // the snapshot record LogStore keeps (0 while it has none).
  uint64_t CompactedTo(uint64_t id) {
    StorageEngine& storage = *members_[id].storage;
    std::string record;
    if (!storage.db()->Get(rocksdb::ReadOptions(), storage.raft_meta(), "snapshot", &record).ok()) {
      return 0;
    }
    raftpb::SnapshotMetadata meta;
    return meta.ParseFromString(record) ? meta.index() : 0;
  }
  // Restarts every member with these compaction settings and waits for a leader; returns it.
  uint64_t RestartAllCompactingEvery(uint64_t snapshot_count, uint64_t catchup_entries) {
    for (auto& [id, m] : members_) StopMember(id);
    snapshot_count_ = snapshot_count;
    catchup_entries_ = catchup_entries;
    for (auto& [id, m] : members_) StartMember(id);
    return RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)) ? Leader() : 0;
  }
  // Restarts every member compacting every 20 entries with `catchup_entries` kept, applies a few
  // entries, stops a follower (`*follower`, which had applied up to `*before`) and proposes
  // `proposals` more until the others have compacted past where it stopped, then restarts the
  // others: it can only come back through a snapshot. Left running, the leader still held an
  // append it made before compacting, queued for the follower while it was away, and the
  // follower caught up from that (about 1 run in 10).
  void StopAFollowerUntilTheOthersCompactPastIt(uint64_t catchup_entries, int proposals,
                                                uint64_t* follower, uint64_t* before) {
    const uint64_t leader = RestartAllCompactingEvery(20, catchup_entries);
    ASSERT_NE(leader, 0u);
    for (int i = 0; i < 5; ++i) Propose(leader, "x" + std::to_string(i));
    ASSERT_TRUE(WaitAllApplied(5, "x4"));
    *follower = leader == 1 ? 2 : 1;
    *before = members_[*follower].applied_index.load();
    StopMember(*follower);
    for (int i = 0; i < proposals; ++i) Propose(leader, "y" + std::to_string(i));
    ASSERT_TRUE(RunUntil(
        [&] {
          for (auto& [id, m] : members_) {
            if (id != *follower && CompactedTo(id) <= *before) return false;
          }
          return true;
        },
        std::chrono::seconds(10), *follower));
    for (auto& [id, m] : members_) {
      if (id != *follower) StopMember(id);
    }
    for (auto& [id, m] : members_) {
      if (id != *follower) StartMember(id);
    }
  }
  uint64_t Leader() {
    for (auto& [id, m] : members_) {
      if (m.driver && m.driver->status().role == raft::Role::kLeader) return id;
    }
    return 0;
  }

  uint64_t snapshot_count_ = 10000;    // for the members started from now on
  uint64_t catchup_entries_ = 5000;    // likewise
  int warn_log_write_ms_ = -1;         // likewise
  int warn_raft_thread_late_ms_ = -1;  // likewise
  int heartbeat_ticks_ = 5;            // likewise
  int election_min_ticks_ = 15;        // likewise
  int election_max_ticks_ = 30;        // likewise
  std::map<uint64_t, std::string> peers_;
  std::map<uint64_t, uint64_t> cluster_ids_;  // member -> the id it starts with (0: none yet)
  std::map<uint64_t, Member> members_;
  std::vector<std::string> refusals_;  // owner's thread
};

TEST_F(RaftDriverTest, ElectsReplicatesAndRecovers) {
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  const uint64_t leader = Leader();
  for (int i = 0; i < 50; ++i) Propose(leader, "w" + std::to_string(i));
  ASSERT_TRUE(WaitAllApplied(50, "w49"));

  // A follower restarts and replays its log from disk.
  const uint64_t follower = leader == 1 ? 2 : 1;
  StopMember(follower);
  StartMember(follower);
  Propose(leader, "after");
  ASSERT_TRUE(RunUntil(
      [&] {
        return !members_[follower].applied.empty() && members_[follower].applied.back() == "after";
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(members_[follower].applied.size(), 51u);
}

// The applied index is polled on the raft thread's ticks, not pushed after every batch.
TEST_F(RaftDriverTest, EveryMemberCompactsItsLogOnceEnoughIsApplied) {
  const uint64_t leader = RestartAllCompactingEvery(20, /*catchup_entries=*/0);
  ASSERT_NE(leader, 0u);
  for (auto& [id, m] : members_) EXPECT_EQ(CompactedTo(id), 0u) << "member " << id;
  for (int i = 0; i < 50; ++i) Propose(leader, "w" + std::to_string(i));
  ASSERT_TRUE(WaitAllApplied(50, "w49"));
  EXPECT_TRUE(RunUntil(
      [&] {
        for (auto& [id, m] : members_) {
          if (CompactedTo(id) <= 20) return false;
        }
        return true;
      },
      std::chrono::seconds(10)));
  // What is left still serves: a restarted member comes back on its compacted log.
  const uint64_t follower = leader == 1 ? 2 : 1;
  StopMember(follower);
  StartMember(follower);
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  Propose(Leader(), "after");
  EXPECT_TRUE(RunUntil(
      [&] {
        const auto& applied = members_[follower].applied;
        return !applied.empty() && applied.back() == "after";
      },
      std::chrono::seconds(10)));
}

// A compaction keeps RaftDriverOptions::snapshot_catchup_entries below the applied index. A
// follower down for fewer entries than that comes back through ordinary appends, every entry
// applied in order, and no snapshot of the whole store is sent to it. With none kept, as before,
// the leader has compacted past where the follower stopped and must send it a snapshot (checked
// by running this with 0 catch-up entries: the follower was sent one, 10 runs of 10).
TEST_F(RaftDriverTest, AFollowerBehindByFewerThanTheCatchUpEntriesCatchesUpFromTheLog) {
  const uint64_t leader = RestartAllCompactingEvery(20, /*catchup_entries=*/200);
  ASSERT_NE(leader, 0u);
  for (int i = 0; i < 300; ++i) Propose(leader, "a" + std::to_string(i));
  ASSERT_TRUE(WaitAllApplied(300, "a299"));
  const uint64_t follower = leader == 1 ? 2 : 1;
  const uint64_t stopped_at = members_[follower].applied_index.load();
  StopMember(follower);
  for (int i = 0; i < 150; ++i) Propose(leader, "b" + std::to_string(i));
  // The others compact on while the follower is away, to within 100 entries of where it stopped,
  // but keep what it still lacks.
  const auto compacted_past = [&](uint64_t index) {
    for (auto& [id, m] : members_) {
      if (id != follower && CompactedTo(id) <= index) return false;
    }
    return true;
  };
  ASSERT_TRUE(RunUntil([&] { return compacted_past(stopped_at - 100); }, std::chrono::seconds(10),
                       follower));
  for (auto& [id, m] : members_) {
    if (id == follower) continue;
    ASSERT_LT(CompactedTo(id), stopped_at) << "member " << id;
  }
  // The others restart too, so that no append the leader queued for the follower while it was
  // away reaches it afterwards: what it lacks must come from a log.
  for (auto& [id, m] : members_) {
    if (id != follower) StopMember(id);
  }
  for (auto& [id, m] : members_) StartMember(id);
  // It replays its own log (compacted too), then takes the rest from the new leader's.
  const auto& applied = members_[follower].applied;
  ASSERT_TRUE(RunUntil(
      [&] {
        return members_[follower].snapshots > 0 || (!applied.empty() && applied.back() == "b149");
      },
      std::chrono::seconds(10)));
  ASSERT_EQ(members_[follower].snapshots.load(), 0) << "the follower was sent a snapshot";
  const auto from = std::find(applied.begin(), applied.end(), "a299");
  ASSERT_NE(from, applied.end()) << "the follower's replay did not reach its last entry";
  std::vector<std::string> after(from + 1, applied.end());
  ASSERT_EQ(after.size(), 150u);
  for (int i = 0; i < 150; ++i) EXPECT_EQ(after[i], "b" + std::to_string(i));
}

// A follower stopped after its log took a snapshot but before its state machine restored it (a
// crash between the two) is handed that snapshot again when it starts, ahead of every entry. Its
// log starts past everything the state machine lacks: started as if restored, as before, it
// applied the entries after the snapshot on top of a state that lacked those before it.
TEST_F(RaftDriverTest, ASnapshotTheStateMachineNeverRestoredIsHandedOverAgainOnStart) {
  uint64_t follower = 0, before = 0;
  ASSERT_NO_FATAL_FAILURE(
      StopAFollowerUntilTheOthersCompactPastIt(/*catchup_entries=*/0, 60, &follower, &before));
  Member& f = members_[follower];

  // It comes back, is sent a snapshot, its log takes it, and it "crashes" before restoring it.
  f.applied_on_start = before;
  f.crash_at_snapshot = true;
  StartMember(follower);
  ASSERT_TRUE(RunUntil([&] { return f.snapshots > 0; }, std::chrono::seconds(10)));
  const uint64_t snapshot_index = f.last_snapshot_index;
  ASSERT_GT(snapshot_index, before);
  EXPECT_EQ(CompactedTo(follower), snapshot_index);
  StopMember(follower);

  // Its state machine still stands where it stood: the snapshot comes again, before any entry.
  f.crash_at_snapshot = false;
  f.last_snapshot_data.clear();
  StartMember(follower);
  EXPECT_EQ(f.snapshots.load(), 1) << "not handed over again on start";
  EXPECT_EQ(f.last_snapshot_index.load(), snapshot_index);
  ASSERT_TRUE(RunUntil([&] { return !f.last_snapshot_data.empty(); }, std::chrono::seconds(10)));
  EXPECT_EQ(f.last_snapshot_data, "state@" + std::to_string(snapshot_index));
  // And it serves on from there.
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  Propose(Leader(), "after");
  EXPECT_TRUE(RunUntil([&] { return !f.applied.empty() && f.applied.back() == "after"; },
                       std::chrono::seconds(10)));
  // Once the state machine is past it, the log drops the snapshot's data.
  EXPECT_TRUE(RunUntil(
      [&] {
        std::string kept;
        return f.storage->db()
            ->Get(rocksdb::ReadOptions(), f.storage->raft_meta(), "received_snapshot", &kept)
            .IsNotFound();
      },
      std::chrono::seconds(10)));
}

// The leader compacts snapshot_catchup_entries below its applied index, but the data it sends a
// follower is its state machine's as it is now. The snapshot is described by the data's own
// index, so the follower's log and state machine agree: described by the compacted point, as
// before, a follower restarted before its log caught up found its state machine ahead of its log,
// and Node::Create refused to start it ("applied index ... is beyond the last log index").
TEST_F(RaftDriverTest, ASnapshotIsDescribedByTheIndexItsDataHolds) {
  uint64_t follower = 0, before = 0;
  ASSERT_NO_FATAL_FAILURE(
      StopAFollowerUntilTheOthersCompactPastIt(/*catchup_entries=*/15, 80, &follower, &before));
  Member& f = members_[follower];
  f.applied_on_start = before;
  StartMember(follower);
  ASSERT_TRUE(RunUntil([&] { return !f.last_snapshot_data.empty(); }, std::chrono::seconds(10)));
  EXPECT_EQ(f.last_snapshot_data, "state@" + std::to_string(f.last_snapshot_index.load()));
  // Restarted at once, with its state machine where the data put it, it starts.
  f.applied_on_start = f.last_snapshot_index.load();
  StopMember(follower);
  StartMember(follower);
  ASSERT_TRUE(f.driver);
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  Propose(Leader(), "after");
  EXPECT_TRUE(RunUntil([&] { return !f.applied.empty() && f.applied.back() == "after"; },
                       std::chrono::seconds(10)));
}

// A member that does not know its cluster id yet adopts it from a peer's message, and keeps it
// (synced) on the raft thread before that message reaches its core: by the time anything it
// stepped is applied, the id is in its data directory, though nobody ran cluster_id_learned (a
// crash between the two would otherwise restart it with a log and no id, open to any cluster).
TEST_F(RaftDriverTest, AJoiningMemberKeepsTheClusterIdBeforeItActsOnIt) {
  for (auto& [id, m] : members_) StopMember(id);
  constexpr uint64_t kClusterId = 0xC1D;
  cluster_ids_ = {{1, kClusterId}, {2, kClusterId}, {3, 0}};
  for (uint64_t id = 1; id <= 3; ++id) StartMember(id);
  {
    auto id = LoadClusterId(*members_[3].storage);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ASSERT_EQ(*id, 0u);
  }
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  Propose(Leader(), "w");
  ASSERT_TRUE(WaitAllApplied(1, "w"));
  auto id = LoadClusterId(*members_[3].storage);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, kClusterId);
}

// A leader holds a new commit index back for RaftDriverOptions::commit_linger_us (200 us),
// waiting for the next proposal to carry it; with no next proposal it must still leave, not wait
// for the next heartbeat (50 ms). One proposal at a time, each alone: the followers apply each
// one within a few ms of its proposal. Were the commit index left to heartbeats, each proposal,
// made just after a heartbeat delivered the last one, would wait about a whole interval (50 ms
// in the median with the driver's timer disabled): the median bound below tells the two apart
// without timing any single proposal tightly.
TEST_F(RaftDriverTest, FollowersApplyALoneProposalWithoutWaitingForAHeartbeat) {
  // Heartbeats a second apart: waiting for one would take half a second on average, far from
  // anything a loaded machine adds to a commit (a 10 ms bound with 50 ms heartbeats failed once
  // under a CI run beside two builds).
  for (auto& [id, m] : members_) StopMember(id);
  heartbeat_ticks_ = 100;
  election_min_ticks_ = 300;
  election_max_ticks_ = 600;
  for (auto& [id, m] : members_) StartMember(id);
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(15)));
  const uint64_t leader = Leader();
  std::vector<double> waited_ms;
  for (int i = 0; i < 21; ++i) {
    const std::string data = "lone" + std::to_string(i);
    const auto proposed = Clock::now();
    Propose(leader, data);
    ASSERT_TRUE(WaitAllApplied(static_cast<size_t>(i) + 1, data));
    waited_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - proposed).count());
  }
  std::sort(waited_ms.begin(), waited_ms.end());
  EXPECT_LT(waited_ms[waited_ms.size() / 2], 100.0);
}

// DESIGN.md §8: client work never delays a heartbeat. The leader's owner thread (pharosd's client
// I/O thread) is stuck in one handler for over three election timeouts (at most 300 ms each),
// while the followers' owners run as usual; the leader's raft thread must go on heartbeating, so
// no follower campaigns and the term stays. (With the core on the owner's thread, as it was, the
// followers elect a new leader here.)
TEST_F(RaftDriverTest, ALeaderWhoseOwnerThreadIsStuckKeepsLeading) {
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  const uint64_t leader = Leader();
  Propose(leader, "before");  // the leader's term has a committed entry
  ASSERT_TRUE(WaitAllApplied(1, "before"));
  const uint64_t term = members_[leader].driver->status().term;
  auto term_held = [&] {
    for (auto& [id, m] : members_) {
      const raft::NodeStatus st = m.driver->status();
      if (st.term != term || st.lead != leader) return false;
    }
    return true;
  };

  // Blocked for a second (sleeping, not spinning: on 2 shared cores a spin would starve the other
  // members), stopping early only if the term has already been lost.
  std::atomic<bool> stuck_done{false};
  // Taken here: the stuck thread must not touch members_ while RunUntil iterates it.
  asio::io_context& owner = members_[leader].owner;
  asio::post(owner, [&] {
    const auto busy_until = Clock::now() + std::chrono::seconds(1);
    while (Clock::now() < busy_until && term_held()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stuck_done = true;
  });
  std::thread stuck([&] {  // the leader's owner thread, until it has run the stuck handler
    while (!stuck_done) {
      owner.restart();
      owner.run_one();
    }
  });
  const bool came_back = RunUntil([&] { return stuck_done.load(); }, std::chrono::seconds(10),
                                  /*except=*/leader);
  stuck.join();
  ASSERT_TRUE(came_back);
  for (auto& [id, m] : members_) {
    const raft::NodeStatus st = m.driver->status();
    EXPECT_EQ(st.term, term) << "member " << id;
    EXPECT_EQ(st.lead, leader) << "member " << id;
  }
  // And it still commits, once its owner runs again.
  Propose(leader, "after");
  ASSERT_TRUE(WaitAllApplied(2, "after"));
}

// DESIGN.md §8 and §3 (CheckQuorum): a stalled disk must not depose a healthy leader. Both
// followers' log syncs take a second longer, over three election timeouts, as another process's
// writes made them on this project's machine. A follower's raft thread never waits on its disk,
// so it goes on answering heartbeats: no one campaigns, the leader keeps hearing a quorum, the
// term holds, and the entry proposed meanwhile commits once a follower's sync is done. (With
// followers writing their log on their raft threads, as they once did, CheckQuorum deposed the
// leader here, and in a benchmark run beside such writes the leader changed 5 times in 20 s.)
TEST_F(RaftDriverTest, ALeaderWhoseFollowersDisksStallKeepsLeading) {
  // Static: the storage engine keeps an Env made on this file system for the process's life.
  static pharos::testing::StallingFileSystem stalling;
  for (auto& [id, m] : members_) StopMember(id);
  StorageEngine::UseEnvForTesting(stalling.env());
  for (uint64_t id = 1; id <= 3; ++id) StartMember(id);
  StorageEngine::UseEnvForTesting(nullptr);
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  const uint64_t leader = Leader();
  Propose(leader, "before");  // the leader's term has a committed entry
  ASSERT_TRUE(WaitAllApplied(1, "before"));
  const uint64_t term = members_[leader].driver->status().term;

  constexpr auto kStall = std::chrono::milliseconds(1000);
  for (auto& [id, m] : members_) {
    if (id != leader) stalling.Stall(m.dir, kStall);
  }
  const auto stalled_at = Clock::now();
  Propose(leader, "during");
  const ::testing::AssertionResult applied = WaitAllApplied(2, "during");
  const auto took = Clock::now() - stalled_at;
  stalling.StopStalling();
  ASSERT_TRUE(applied);
  // The stall really held the commit back: the leader's own sync alone is no quorum.
  EXPECT_GE(stalling.stalled_syncs(), 2);
  EXPECT_GE(took, kStall);
  for (auto& [id, m] : members_) {
    const raft::NodeStatus st = m.driver->status();
    EXPECT_EQ(st.term, term) << "member " << id;
    EXPECT_EQ(st.lead, leader) << "member " << id;
  }
}

// The log lines written while it captures (the last 4,096), for the tests of warnings. Made and
// stopped while no driver runs: spdlog's list of sinks is not safe to change under a logging
// thread. A test that returns before Stop() leaves its sink in place (it lives on with the
// logger's reference) rather than remove it under running drivers.
class CapturedLog {
 public:
  CapturedLog() { spdlog::default_logger()->sinks().push_back(sink_); }
  void Stop() {
    if (!capturing_) return;
    spdlog::default_logger()->sinks().pop_back();
    capturing_ = false;
  }
  bool Has(const std::string& text) const {
    const std::vector<std::string> lines = sink_->last_formatted();
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_ =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
  bool capturing_ = true;
};

TEST_F(RaftDriverTest, ALogWriteSlowerThanTheWarningIsLogged) {
  // Every write counts as slow here: the warning of each role (leader, follower) must reach the
  // log.
  for (auto& [id, m] : members_) StopMember(id);
  CapturedLog log;
  warn_log_write_ms_ = 0;
  for (uint64_t id = 1; id <= 3; ++id) StartMember(id);
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  Propose(Leader(), "slow");
  const ::testing::AssertionResult applied = WaitAllApplied(1, "slow");
  for (auto& [id, m] : members_) StopMember(id);
  log.Stop();
  ASSERT_TRUE(applied);
  EXPECT_TRUE(log.Has("(leader): raft log write took"));
  EXPECT_TRUE(log.Has("(follower): raft log write took"));
}

// A raft thread held busy (here by its apply callback, for 600 ms) is named in the log; the log
// write that was in flight meanwhile (every sync takes 150 ms here, the warning is at 400 ms) is
// not called slow for it.
// Timed after the hop back to the raft thread, that write once read as 600 ms of disk.
TEST_F(RaftDriverTest, ABusyRaftThreadIsLoggedAndNotBlamedOnTheDisk) {
  // Static: the storage engine keeps an Env made on this file system for the process's life.
  static pharos::testing::StallingFileSystem stalling;
  for (auto& [id, m] : members_) StopMember(id);
  CapturedLog log;
  warn_log_write_ms_ = 400;
  warn_raft_thread_late_ms_ = 100;
  // Elections take a second at least: the hold is not to depose the leader (its proposal would
  // be lost with it).
  election_min_ticks_ = 100;
  election_max_ticks_ = 200;
  StorageEngine::UseEnvForTesting(stalling.env());
  for (uint64_t id = 1; id <= 3; ++id) {
    members_[id].raft_thread_stall = std::chrono::milliseconds(600);
    StartMember(id);
  }
  StorageEngine::UseEnvForTesting(nullptr);
  ASSERT_TRUE(RunUntil([&] { return Leader() != 0; }, std::chrono::seconds(10)));
  const uint64_t leader = Leader();
  for (auto& [id, m] : members_) stalling.Stall(m.dir, std::chrono::milliseconds(150));
  // "after" is proposed while the stalling entry's own write runs, so it takes a write of its
  // own, submitted before the stalling entry can commit: that write is in flight during the hold.
  const uint64_t before = members_[leader].driver->status().last_index;
  Propose(leader, std::string(kStallTheRaftThread));
  ASSERT_TRUE(RunUntil([&] { return members_[leader].driver->status().last_index > before; },
                       std::chrono::seconds(10)));
  Propose(leader, "after");
  const ::testing::AssertionResult applied = WaitAllApplied(2, "after");
  stalling.StopStalling();
  for (auto& [id, m] : members_) StopMember(id);
  log.Stop();
  ASSERT_TRUE(applied);
  EXPECT_TRUE(log.Has("the raft thread ran"));
  EXPECT_FALSE(log.Has("raft log write took")) << "the disk was blamed for the raft thread";
}

}  // namespace
}  // namespace pharos::registry
