// Three RaftDrivers on loopback in one process, with real RocksDB logs and TCP: a leader is
// elected, proposals commit everywhere, and a restarted member catches up from its own log.
#include "registry/raft_driver.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/asio.h"
#include "registry/storage_engine.h"
#include "tests/raft/rocks_test_db.h"
#include "tests/registry/free_port.h"

namespace pharos::registry {
namespace {

namespace asio = boost::asio;

template <typename Pred>
bool RunUntil(asio::io_context& io, Pred done, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

struct Member {
  std::string dir;
  std::unique_ptr<StorageEngine> storage;
  std::unique_ptr<RaftDriver> driver;
  std::vector<std::string> applied;
};

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
    for (auto& [id, m] : members_) {
      m.driver.reset();
      m.storage.reset();
      std::filesystem::remove_all(m.dir);
    }
  }
  void StartMember(uint64_t id) {
    Member& m = members_[id];
    m.applied.clear();
    auto storage = StorageEngine::Open(m.dir);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    m.storage = std::move(*storage);
    RaftDriverOptions o;
    o.id = id;
    o.listen_peer = peers_[id];
    o.peers = peers_;
    o.bootstrap_voters = {1, 2, 3};
    RaftDriver::Callbacks cb;
    cb.apply = [&m](std::optional<raftpb::Snapshot>, std::vector<raftpb::Entry> entries) {
      for (const auto& e : entries) {
        if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) m.applied.push_back(e.data());
      }
    };
    auto driver = RaftDriver::Start(io_, *m.storage, o, cb);
    ASSERT_TRUE(driver.ok()) << driver.status().ToString();
    m.driver = std::move(*driver);
  }
  uint64_t Leader() {
    for (auto& [id, m] : members_) {
      if (m.driver && m.driver->status().role == raft::Role::kLeader) return id;
    }
    return 0;
  }

  asio::io_context io_;
  std::map<uint64_t, std::string> peers_;
  std::map<uint64_t, Member> members_;
};

TEST_F(RaftDriverTest, ElectsReplicatesAndRecovers) {
  ASSERT_TRUE(RunUntil(
      io_, [&] { return Leader() != 0; }, std::chrono::seconds(10)));
  const uint64_t leader = Leader();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(members_[leader].driver->Propose("w" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(RunUntil(
      io_,
      [&] {
        for (auto& [id, m] : members_) {
          if (m.applied.size() != 50) return false;
        }
        return true;
      },
      std::chrono::seconds(10)));
  for (auto& [id, m] : members_) EXPECT_EQ(m.applied.back(), "w49");

  // A follower restarts and replays its log from disk.
  const uint64_t follower = leader == 1 ? 2 : 1;
  members_[follower].driver.reset();
  members_[follower].storage.reset();
  StartMember(follower);
  ASSERT_TRUE(members_[leader].driver->Propose("after").ok());
  ASSERT_TRUE(RunUntil(
      io_,
      [&] {
        return !members_[follower].applied.empty() && members_[follower].applied.back() == "after";
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(members_[follower].applied.size(), 51u);
}

}  // namespace
}  // namespace pharos::registry
