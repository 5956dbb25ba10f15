// The apply thread on a real RocksDB: what it hands back to the owner's thread for the requests
// it applies.
#include "registry/applier.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>

#include "registry/storage_engine.h"
#include "tests/raft/crash_file_system.h"
#include "tests/raft/rocks_test_db.h"

namespace pharos::registry {
namespace {

constexpr uint64_t kSelf = 7;
constexpr uint64_t kOther = 9;

// An entry of term 1 at `index` that carries `message`: a request (normal) or a conf change.
raftpb::Entry EntryOf(uint64_t index, const google::protobuf::MessageLite& message,
                      raftpb::EntryType type = raftpb::ENTRY_NORMAL) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_type(type);
  e.set_data(message.SerializeAsString());
  return e;
}

raftpb::Entry PutEntry(uint64_t index, uint64_t request_id, uint64_t proposer) {
  pb::RaftRequest req;
  req.set_id(request_id);
  req.set_proposer(proposer);
  req.mutable_put()->set_key("k" + std::to_string(index));
  req.mutable_put()->set_value("v");
  return EntryOf(index, req);
}

// Only the member that proposed a request hands its answer on: on the others nobody waits for
// it, and each hand-over wakes the owner's thread.
TEST(ApplierTest, AnswersOnlyTheRequestsThisMemberProposed) {
  const std::string dir = pharos::testing::TestRocksDb::FreshDir("applier");
  {
    auto storage = StorageEngine::Open(dir);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    std::mutex mu;
    std::vector<uint64_t> answered;  // request ids, guarded by mu
    Applier::Callbacks callbacks;
    callbacks.applied = [&](AppliedRequest a) {
      std::lock_guard<std::mutex> lock(mu);
      answered.push_back(a.request_id);
    };
    // The owner's thread is played by the apply thread itself: run at once.
    Applier applier(
        **storage, kSelf, [](std::function<void()> fn) { fn(); }, callbacks,
        SystemClock::Instance());
    ASSERT_TRUE(applier.Start().ok());
    // Proposed here, elsewhere, and before entries named their proposer (0): answered, not,
    // answered.
    applier.Apply(std::nullopt,
                  {PutEntry(1, 101, kSelf), PutEntry(2, 102, kOther), PutEntry(3, 103, 0)});
    std::promise<int64_t> revision;
    applier.RunAt(3, [&](kv::MvccStore& store, kv::WatchHub&, kv::Lessor&) {
      revision.set_value(store.revision());
    });
    // Every entry was applied, whoever proposed it.
    EXPECT_EQ(revision.get_future().get(), 4);
    applier.Stop();
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(answered, (std::vector<uint64_t>{101, 103}));
  }
  std::filesystem::remove_all(dir);
}

// A task that holds the apply thread (a defragmentation, say) holds every keepalive queued behind
// it: the leases expire that much later. Before, a lease whose keepalive waited out a hold longer
// than its TTL was expired and revoked the moment the thread was free, its keepalive refused.
TEST(ApplierTest, ATaskThatHoldsTheApplyThreadDoesNotCountAgainstTheLeases) {
  const std::string dir = pharos::testing::TestRocksDb::FreshDir("applier");
  {
    auto storage = StorageEngine::Open(dir);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    FakeClock clock;
    Applier applier(
        **storage, kSelf, [](std::function<void()> fn) { fn(); }, {}, &clock);
    ASSERT_TRUE(applier.Start().ok());
    pb::RaftRequest grant;
    grant.set_id(1);
    grant.mutable_lease_grant()->set_id(42);
    grant.mutable_lease_grant()->set_ttl(2);
    applier.Apply(std::nullopt, {EntryOf(1, grant)});
    applier.RunAt(1, [](kv::MvccStore& store, kv::WatchHub&, kv::Lessor& lessor) {
      lessor.Promote(store.Leases());
    });
    // Held for 3 s, past the lease's TTL, with its keepalive queued behind.
    applier.Run([&](kv::MvccStore&, kv::WatchHub&, kv::Lessor&) {
      clock.Advance(std::chrono::seconds(3));
    });
    std::promise<std::pair<std::vector<int64_t>, Status>> after;
    applier.Run([&](kv::MvccStore&, kv::WatchHub&, kv::Lessor& lessor) {
      auto expired = lessor.Expired(10);
      after.set_value({expired, lessor.Renew(42).status()});
    });
    auto [expired, renewed] = after.get_future().get();
    EXPECT_TRUE(expired.empty());
    EXPECT_TRUE(renewed.ok()) << renewed.ToString();
    applier.Stop();
  }
  std::filesystem::remove_all(dir);
}

constexpr auto kDeadline = std::chrono::seconds(10);

raftpb::Entry RequestEntry(uint64_t index, pb::RaftRequest req) {
  req.set_id(1000 + index);
  req.set_proposer(kOther);
  return EntryOf(index, req);
}

raftpb::Entry AlarmEntry(uint64_t index, pb::AlarmRequest::Action action, uint64_t member) {
  pb::RaftRequest req;
  req.mutable_alarm()->set_action(action);
  req.mutable_alarm()->set_member_id(member);
  req.mutable_alarm()->set_alarm(pb::NOSPACE);
  return RequestEntry(index, std::move(req));
}

raftpb::Entry AddMemberEntry(uint64_t index, uint64_t id, const std::string& name) {
  pb::Member m;
  m.set_id(id);
  m.set_name(name);
  m.add_peer_urls("127.0.0.1:" + std::to_string(2380 + id));
  raftpb::ConfChange cc;
  cc.set_type(raftpb::CONF_ADD_VOTER);
  cc.set_node_id(id);
  cc.set_context(m.SerializeAsString());
  return EntryOf(index, cc, raftpb::ENTRY_CONF_CHANGE);
}

raftpb::Entry RemoveMemberEntry(uint64_t index, uint64_t id) {
  raftpb::ConfChange cc;
  cc.set_type(raftpb::CONF_REMOVE_NODE);
  cc.set_node_id(id);
  return EntryOf(index, cc, raftpb::ENTRY_CONF_CHANGE);
}

std::vector<std::pair<uint64_t, int>> Nospace(uint64_t member) { return {{member, pb::NOSPACE}}; }

// One member's storage and apply thread, which can be closed and opened again (a restart), and
// what the applier last published of its member and alarm tables.
class Member {
 public:
  explicit Member(const std::string& name) : dir_(pharos::testing::TestRocksDb::FreshDir(name)) {}
  ~Member() {
    Close();
    std::filesystem::remove_all(dir_);
  }

  Status Open() {
    auto storage = StorageEngine::Open(dir_);
    if (!storage.ok()) return storage.status();
    storage_ = std::move(*storage);
    Applier::Callbacks callbacks;
    callbacks.members = [this](std::vector<pb::Member> members) {
      std::lock_guard<std::mutex> lock(mu_);
      members_.clear();
      for (const pb::Member& m : members) members_.push_back(m.id());
    };
    callbacks.removed_members = [this](std::vector<pb::Member> removed) {
      std::lock_guard<std::mutex> lock(mu_);
      removed_.clear();
      for (const pb::Member& m : removed) {
        removed_.emplace_back(m.id(), m.peer_urls().empty() ? "" : m.peer_urls(0));
      }
    };
    callbacks.alarms = [this](std::vector<pb::AlarmMember> alarms) {
      std::lock_guard<std::mutex> lock(mu_);
      alarms_.clear();
      for (const pb::AlarmMember& a : alarms) alarms_.emplace_back(a.member_id(), a.alarm());
    };
    // The owner's thread is played by the thread that publishes: run at once.
    applier_ = std::make_unique<Applier>(
        *storage_, kSelf, [](std::function<void()> fn) { fn(); }, callbacks,
        SystemClock::Instance());
    return applier_->Start();
  }
  void Close() {
    applier_.reset();
    storage_.reset();
  }

  Applier& applier() { return *applier_; }
  StorageEngine& storage() { return *storage_; }
  std::vector<uint64_t> members() {
    std::lock_guard<std::mutex> lock(mu_);
    return members_;
  }
  std::vector<std::pair<uint64_t, int>> alarms() {
    std::lock_guard<std::mutex> lock(mu_);
    return alarms_;
  }
  // (id, peer address) of each removed member.
  std::vector<std::pair<uint64_t, std::string>> removed() {
    std::lock_guard<std::mutex> lock(mu_);
    return removed_;
  }

  // Waits until every entry up to `index` is applied; false past the deadline.
  bool WaitApplied(uint64_t index) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> applied = done->get_future();
    applier_->RunAt(index,
                    [done](kv::MvccStore&, kv::WatchHub&, kv::Lessor&) { done->set_value(); });
    return applied.wait_for(kDeadline) == std::future_status::ready;
  }

  // What pharosd sends a member that catches up by snapshot (Server's snapshot_data): the
  // applier's tables, then the store's data, at the applied index. The two parts separately.
  struct SnapshotParts {
    std::string tables;
    std::string store;
    uint64_t index = 0;
  };
  std::optional<SnapshotParts> TakeSnapshot() {
    auto done = std::make_shared<std::promise<SnapshotParts>>();
    std::future<SnapshotParts> parts = done->get_future();
    applier_->Run([this, done](kv::MvccStore& store, kv::WatchHub&, kv::Lessor&) {
      SnapshotParts p{applier_->SnapshotPrefix(), "", store.applied_index()};
      auto reader = store.CreateSnapshot();
      for (;;) {
        auto chunk = reader->Next();
        if (!chunk.ok() || !chunk->has_value()) break;
        p.store += **chunk;
      }
      done->set_value(std::move(p));
    });
    if (parts.wait_for(kDeadline) != std::future_status::ready) return std::nullopt;
    return parts.get();
  }

  int64_t Count(const std::string& prefix) {
    auto done = std::make_shared<std::promise<int64_t>>();
    std::future<int64_t> count = done->get_future();
    applier_->Run([done, prefix](kv::MvccStore& store, kv::WatchHub&, kv::Lessor&) {
      pb::RangeRequest r;
      r.set_key(prefix);
      r.set_range_end(prefix + "\xff");
      auto got = store.Range(r);
      done->set_value(got.ok() ? got->count() : -1);
    });
    if (count.wait_for(kDeadline) != std::future_status::ready) return -2;
    return count.get();
  }

 private:
  std::string dir_;
  std::unique_ptr<StorageEngine> storage_;
  std::unique_ptr<Applier> applier_;
  std::mutex mu_;
  std::vector<uint64_t> members_;                          // guarded by mu_
  std::vector<std::pair<uint64_t, int>> alarms_;           // guarded by mu_
  std::vector<std::pair<uint64_t, std::string>> removed_;  // guarded by mu_
};

raftpb::Snapshot SnapshotOf(const std::string& data, uint64_t index) {
  raftpb::Snapshot snap;
  snap.set_data(data);
  snap.mutable_metadata()->set_index(index);
  snap.mutable_metadata()->set_term(1);
  return snap;
}

// A member that catches up by snapshot after a NOSPACE alarm was raised (and the log holding it
// compacted) must have the alarm too: without it, it accepts the writes the others refuse, and
// `alarm list` differs between members.
TEST(ApplierSnapshotTest, AMemberThatCatchesUpBySnapshotHasTheAlarmsOfTheOthers) {
  Member a("applier-alarm-a");
  ASSERT_TRUE(a.Open().ok());
  a.applier().Apply(std::nullopt,
                    {PutEntry(1, 1, kOther), AlarmEntry(2, pb::AlarmRequest::ACTIVATE, kOther)});
  ASSERT_TRUE(a.WaitApplied(2));
  ASSERT_EQ(a.alarms(), Nospace(kOther));
  auto parts = a.TakeSnapshot();
  ASSERT_TRUE(parts.has_value());

  Member b("applier-alarm-b");
  ASSERT_TRUE(b.Open().ok());
  ASSERT_TRUE(b.alarms().empty());
  b.applier().Apply(SnapshotOf(parts->tables + parts->store, parts->index), {});
  ASSERT_TRUE(b.WaitApplied(parts->index));
  EXPECT_EQ(b.alarms(), Nospace(kOther));
  EXPECT_EQ(b.Count("k"), 1);
  // And it keeps it across a restart.
  b.Close();
  ASSERT_TRUE(b.Open().ok());
  EXPECT_EQ(b.alarms(), Nospace(kOther));
}

// A removed member is kept aside with its address, across restarts and in the snapshots that
// catch a member up: a member that was down while it was removed, started again after every
// other member has restarted, must still be told (the server links to that address). Before,
// the table forgot it at once, and the answer had nowhere to go once the members restarted.
TEST(ApplierSnapshotTest, ARemovedMemberIsRememberedWithItsAddressForGood) {
  Member a("applier-removed-a");
  ASSERT_TRUE(a.Open().ok());
  a.applier().Apply(std::nullopt, {AddMemberEntry(1, 21, "m21"), AddMemberEntry(2, 22, "m22"),
                                   RemoveMemberEntry(3, 22), PutEntry(4, 1, kOther)});
  ASSERT_TRUE(a.WaitApplied(4));
  const std::vector<std::pair<uint64_t, std::string>> removed{{22, "127.0.0.1:2402"}};
  EXPECT_EQ(a.members(), std::vector<uint64_t>{21});
  EXPECT_EQ(a.removed(), removed);
  a.Close();
  ASSERT_TRUE(a.Open().ok());
  EXPECT_EQ(a.members(), std::vector<uint64_t>{21});
  EXPECT_EQ(a.removed(), removed);

  auto parts = a.TakeSnapshot();
  ASSERT_TRUE(parts.has_value());
  {
    // A version that reads the member table as a MemberListResponse finds the members alone.
    const std::string tag = "pharos-members/1";
    ASSERT_TRUE(parts->tables.starts_with(tag));
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(parts->tables[tag.size() + i]);
    pb::MemberListResponse old_reading;
    ASSERT_TRUE(old_reading.ParseFromString(parts->tables.substr(tag.size() + 4, n)));
    ASSERT_EQ(old_reading.members_size(), 1);
    EXPECT_EQ(old_reading.members(0).id(), 21u);
  }
  Member b("applier-removed-b");
  ASSERT_TRUE(b.Open().ok());
  b.applier().Apply(SnapshotOf(parts->tables + parts->store, parts->index), {});
  ASSERT_TRUE(b.WaitApplied(parts->index));
  EXPECT_EQ(b.members(), std::vector<uint64_t>{21});
  EXPECT_EQ(b.removed(), removed);
  EXPECT_EQ(b.Count("k"), 1);
  b.Close();
  ASSERT_TRUE(b.Open().ok());
  EXPECT_EQ(b.removed(), removed);

  // A snapshot from a leader that removed nobody (or predates the section) leaves them be.
  Member c("applier-removed-c");
  ASSERT_TRUE(c.Open().ok());
  c.applier().Apply(std::nullopt,
                    {AddMemberEntry(1, 21, "m21"), PutEntry(2, 1, kOther), PutEntry(3, 2, kOther),
                     PutEntry(4, 3, kOther), PutEntry(5, 4, kOther)});
  ASSERT_TRUE(c.WaitApplied(5));
  auto without = c.TakeSnapshot();
  ASSERT_TRUE(without.has_value());
  ASSERT_GT(without->index, parts->index);
  b.applier().Apply(SnapshotOf(without->tables + without->store, without->index), {});
  ASSERT_TRUE(b.WaitApplied(without->index));
  EXPECT_EQ(b.members(), std::vector<uint64_t>{21});
  EXPECT_EQ(b.removed(), removed);
  b.Close();
  ASSERT_TRUE(b.Open().ok());
  EXPECT_EQ(b.removed(), removed);
}

// The removal's own write (the member deleted, its record set aside) can outlive a crash that the
// store's batch, with its applied index, does not: the entry is then applied again, to a table
// that no longer has the member. Its address set aside must survive that.
TEST(ApplierSnapshotTest, ARemovalAppliedAgainAfterACrashKeepsTheAddress) {
  Member a("applier-removed-again");
  ASSERT_TRUE(a.Open().ok());
  a.applier().Apply(std::nullopt, {AddMemberEntry(1, 21, "m21"), AddMemberEntry(2, 22, "m22")});
  ASSERT_TRUE(a.WaitApplied(2));
  a.Close();
  // What the removal's write left, without the store's batch that followed it.
  ASSERT_TRUE(a.Open().ok());
  pb::MemberListResponse set_aside;
  pb::Member* m22 = set_aside.add_members();
  m22->set_id(22);
  m22->set_name("m22");
  m22->add_peer_urls("127.0.0.1:2402");
  rocksdb::WriteBatch removal;
  removal.Delete(a.storage().members(), std::string(7, '\0') + '\x16');
  removal.Put(a.storage().alarms(), "removed-members", set_aside.SerializeAsString());
  ASSERT_TRUE(a.storage().db()->Write(rocksdb::WriteOptions(), &removal).ok());
  a.Close();
  ASSERT_TRUE(a.Open().ok());
  ASSERT_EQ(a.members(), std::vector<uint64_t>{21});

  a.applier().Apply(std::nullopt, {RemoveMemberEntry(3, 22)});
  ASSERT_TRUE(a.WaitApplied(3));
  EXPECT_EQ(a.members(), std::vector<uint64_t>{21});
  EXPECT_EQ(a.removed(), (std::vector<std::pair<uint64_t, std::string>>{{22, "127.0.0.1:2402"}}));
}

// The snapshot's alarm table replaces the member's: an alarm the others disarmed (in entries
// this member never saw) goes too.
TEST(ApplierSnapshotTest, ASnapshotClearsAnAlarmItDoesNotHave) {
  Member a("applier-clear-a");
  ASSERT_TRUE(a.Open().ok());
  a.applier().Apply(std::nullopt,
                    {AlarmEntry(1, pb::AlarmRequest::ACTIVATE, kOther),
                     AlarmEntry(2, pb::AlarmRequest::DEACTIVATE, kOther), PutEntry(3, 3, kOther)});
  ASSERT_TRUE(a.WaitApplied(3));
  auto parts = a.TakeSnapshot();
  ASSERT_TRUE(parts.has_value());

  Member b("applier-clear-b");
  ASSERT_TRUE(b.Open().ok());
  b.applier().Apply(std::nullopt, {AlarmEntry(1, pb::AlarmRequest::ACTIVATE, kOther)});
  ASSERT_TRUE(b.WaitApplied(1));
  ASSERT_EQ(b.alarms(), Nospace(kOther));
  b.applier().Apply(SnapshotOf(parts->tables + parts->store, parts->index), {});
  ASSERT_TRUE(b.WaitApplied(parts->index));
  EXPECT_TRUE(b.alarms().empty());
  b.Close();
  ASSERT_TRUE(b.Open().ok());
  EXPECT_TRUE(b.alarms().empty());
}

// Snapshots from leaders that predate the alarm table (only the member table before the store's
// data, or the store's data alone) still restore. They say nothing of alarms, so the member's
// stay as they were.
TEST(ApplierSnapshotTest, ASnapshotWithoutTheAlarmTableStillRestores) {
  Member a("applier-old-a");
  ASSERT_TRUE(a.Open().ok());
  a.applier().Apply(std::nullopt,
                    {AddMemberEntry(1, 21, "m21"), PutEntry(2, 2, kOther), PutEntry(3, 3, kOther)});
  ASSERT_TRUE(a.WaitApplied(3));
  auto parts = a.TakeSnapshot();
  ASSERT_TRUE(parts.has_value());
  // The member table alone, as pharos-members/1 leaders framed it.
  pb::MemberListResponse members;
  members.add_members()->set_id(21);
  const std::string body = members.SerializeAsString();
  std::string members_only = "pharos-members/1";
  for (int i = 3; i >= 0; --i) members_only.push_back(static_cast<char>(body.size() >> (8 * i)));
  members_only += body;

  for (const std::string& data : {members_only + parts->store, parts->store}) {
    Member b("applier-old-b");
    ASSERT_TRUE(b.Open().ok());
    b.applier().Apply(std::nullopt, {AlarmEntry(1, pb::AlarmRequest::ACTIVATE, kOther)});
    ASSERT_TRUE(b.WaitApplied(1));
    b.applier().Apply(SnapshotOf(data, parts->index), {});
    ASSERT_TRUE(b.WaitApplied(parts->index));
    EXPECT_EQ(b.Count("k"), 2);
    EXPECT_EQ(b.alarms(), Nospace(kOther));
    if (data.starts_with("pharos-members/1")) {
      EXPECT_EQ(b.members(), std::vector<uint64_t>{21});
    }
  }
}

// The member and alarm tables a snapshot carried are written in the same synced write as the
// restored state. Written after it (unsynced), a power cut in between kept the old tables beside
// the new state for good: the log that could rebuild them is below the snapshot, gone.
TEST(ApplierSnapshotTest, TheTablesASnapshotCarriedSurviveAPowerCutRightAfterTheRestore) {
  Member a("applier-crash-a");
  ASSERT_TRUE(a.Open().ok());
  a.applier().Apply(std::nullopt,
                    {AddMemberEntry(1, 21, "m21"), AddMemberEntry(2, 22, "m22"),
                     AlarmEntry(3, pb::AlarmRequest::ACTIVATE, 22), PutEntry(4, 4, kOther)});
  ASSERT_TRUE(a.WaitApplied(4));
  auto parts = a.TakeSnapshot();
  ASSERT_TRUE(parts.has_value());

  pharos::testing::CrashFileSystem fs;
  StorageEngine::UseEnvForTesting(fs.env());
  struct DefaultEnvAfter {
    ~DefaultEnvAfter() { StorageEngine::UseEnvForTesting(nullptr); }
  } restore_env;
  Member b("applier-crash-b");
  ASSERT_TRUE(b.Open().ok());
  // The member table it had before, on disk for sure.
  pb::Member old;
  old.set_id(5);
  old.set_name("m5");
  rocksdb::WriteOptions synced;
  synced.sync = true;
  ASSERT_TRUE(b.storage()
                  .db()
                  ->Put(synced, b.storage().members(), std::string(7, '\0') + '\x05',
                        old.SerializeAsString())
                  .ok());
  b.applier().Apply(SnapshotOf(parts->tables + parts->store, parts->index), {});
  ASSERT_TRUE(b.WaitApplied(parts->index));
  ASSERT_EQ(b.members(), (std::vector<uint64_t>{21, 22}));
  fs.Crash();
  b.Close();
  fs.DropUnsyncedData();
  StorageEngine::UseEnvForTesting(nullptr);
  ASSERT_TRUE(b.Open().ok());
  EXPECT_EQ(b.Count("k"), 1);
  EXPECT_EQ(b.members(), (std::vector<uint64_t>{21, 22}));
  EXPECT_EQ(b.alarms(), Nospace(22));
}

}  // namespace
}  // namespace pharos::registry
