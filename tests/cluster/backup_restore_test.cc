// Backup and restore (issue 11, item 1): a 3-member cluster's state saved with `pharosctl snapshot
// save`, described by `snapshot status`, restored with `snapshot restore` into the data
// directories of a fresh 3-member cluster on new ports, which then serves the same keys with the
// same revisions, versions, history and leases, under a new cluster id, and takes new writes. A
// corrupt or truncated file is refused by status and restore, and restore leaves nothing behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/client.h"
#include "client/kv.h"
#include "client/lease.h"
#include "client/txn.h"
#include "tests/cluster/pharosctl_runner.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Restores and status read whole files: a minute, not pharosctl's usual half.
Outcome LongPharosctl(std::vector<std::string> args) {
  return Pharosctl(std::move(args), "", std::chrono::seconds(60));
}

client::ClientOptions Options(const ProcessCluster& cluster) {
  client::ClientOptions o;
  o.endpoints = cluster.clients();
  o.timeout = 10s;
  return o;
}

// Every key (at `revision`, 0: now) with everything the store keeps about it, and the revision.
std::string Dump(client::KV& kv, int64_t revision = 0) {
  auto r = kv.Get(std::string(1, '\0'), {.from_key = true, .revision = revision});
  if (!r.ok()) return "error: " + r.status().ToString();
  std::string out = "revision " + std::to_string(r->header().revision()) + "\n";
  for (const pb::KeyValue& k : r->kvs()) {
    out += k.key() + "=" + k.value() + " create " + std::to_string(k.create_revision()) + " mod " +
           std::to_string(k.mod_revision()) + " version " + std::to_string(k.version()) +
           " lease " + std::to_string(k.lease()) + "\n";
  }
  return out;
}

// Restores `file` into every member's directory of `target`; the outcomes.
std::vector<Outcome> RestoreInto(const std::string& file, ProcessCluster& target) {
  std::vector<Outcome> outcomes;
  for (int i = 0; i < target.size(); ++i) {
    outcomes.push_back(LongPharosctl({"snapshot", "restore", file, "--name", target.name(i),
                                      "--data-dir", target.data_dir(i), "--initial-cluster",
                                      target.initial_cluster(), "--pharosd", PHAROSD_BINARY}));
  }
  return outcomes;
}

// Anything a restore into `dir` may have left: the directory, or its scratch twin.
bool LeftSomething(const fs::path& dir) {
  if (fs::exists(dir)) return true;
  if (!fs::exists(dir.parent_path())) return false;
  for (const auto& e : fs::directory_iterator(dir.parent_path())) {
    if (e.path().filename().string().rfind(dir.filename().string() + ".restoring", 0) == 0) {
      return true;
    }
  }
  return false;
}

TEST(BackupRestoreTest, ASavedClusterRestoresIntoANewClusterWithEveryRevision) {
  const fs::path work = fs::temp_directory_path() / ("backup-restore-" + std::to_string(getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  struct Cleanup {
    fs::path p;
    ~Cleanup() { fs::remove_all(p); }
  } cleanup{work};
  const std::string file = (work / "backup.db").string();

  // A source cluster with history: puts, overwrites, deletes, a txn, a compaction, a lease.
  ProcessCluster source(3);
  ASSERT_GE(source.WaitForLeader(), 0);
  client::Client sc(Options(source));
  client::KV skv(sc);
  client::Lease slease(sc);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(skv.Put("/svc/" + std::to_string(i), "v" + std::to_string(i)).ok()) << i;
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(skv.Put("/svc/" + std::to_string(i), "w" + std::to_string(round)).ok());
    }
  }
  for (int i = 30; i < 35; ++i) ASSERT_TRUE(skv.Delete("/svc/" + std::to_string(i)).ok());
  ASSERT_TRUE(skv.Delete("/svc/2", {.prefix = true}).ok());  // /svc/2, /svc/20 .. /svc/29
  auto txn = skv.Commit(client::Txn()
                            .If(client::Compare::Version("/svc/1", client::CompareOp::kEqual, 4))
                            .Then(client::Op::Put("/txn/a", "then"))
                            .Then(client::Op::Delete("/svc/35"))
                            .Else(client::Op::Put("/txn/a", "else")));
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  EXPECT_TRUE(txn->succeeded());
  auto mid = skv.Get("/svc/1");
  ASSERT_TRUE(mid.ok());
  const int64_t mid_revision = mid->header().revision();
  ASSERT_TRUE(skv.Compact(mid_revision - 5).ok());
  const int64_t compacted = mid_revision - 5;
  auto grant = slease.Grant(600);  // long enough to outlive the test, so both dumps agree
  ASSERT_TRUE(grant.ok()) << grant.status().ToString();
  const int64_t lease_id = grant->id();
  for (const char* key : {"/leased/a", "/leased/b"}) {
    ASSERT_TRUE(skv.Put(key, "held", {.lease = lease_id}).ok());
  }
  ASSERT_TRUE(skv.Put("/svc/1", "last").ok());

  const std::string source_dump = Dump(skv);
  const std::string source_history = Dump(skv, mid_revision);
  ASSERT_EQ(source_dump.rfind("revision ", 0), 0u) << source_dump;
  ASSERT_EQ(source_history.rfind("revision ", 0), 0u) << source_history;
  const int64_t revision = std::stoll(source_dump.substr(9));
  auto all = skv.Get(std::string(1, '\0'), {.from_key = true, .count_only = true});
  ASSERT_TRUE(all.ok());
  const int64_t keys = all->count();
  ASSERT_GT(keys, 20);
  auto source_status = source.Status(0);
  ASSERT_TRUE(source_status.has_value());

  // Saved from the leader (it has applied every acknowledged write), described by status.
  const int leader = source.WaitForLeader();
  ASSERT_GE(leader, 0);
  Outcome saved = LongPharosctl({"--endpoints=" + source.client(leader), "snapshot", "save", file});
  ASSERT_EQ(saved.code, 0) << saved.err;
  Outcome status = LongPharosctl({"snapshot", "status", file, "--write-out", "json"});
  ASSERT_EQ(status.code, 0) << status.err;
  const auto json = nlohmann::json::parse(status.out);
  EXPECT_EQ(json["revision"].get<int64_t>(), revision);
  EXPECT_EQ(json["totalKey"].get<int64_t>(), keys);
  EXPECT_EQ(json["totalSize"].get<uint64_t>(), fs::file_size(file));
  EXPECT_EQ(json["compactRevision"].get<int64_t>(), compacted);
  EXPECT_EQ(json["hash"].get<std::string>().size(), 64u);
  Outcome table = LongPharosctl({"snapshot", "status", file, "--write-out", "table"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("| " + json["hash"].get<std::string>() + " |"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("TOTAL KEYS"), std::string::npos) << table.out;

  // A fresh cluster on new ports: each member restores the file with its own name.
  ProcessCluster target(3, {}, /*start=*/false);
  for (const Outcome& o : RestoreInto(file, target)) {
    ASSERT_EQ(o.code, 0) << o.err;
    EXPECT_NE(o.out.find("Restored snapshot"), std::string::npos) << o.out;
  }
  for (int i = 0; i < 3; ++i) target.Start(i);
  ASSERT_GE(target.WaitForLeader(), 0);
  client::Client tc(Options(target));
  client::KV tkv(tc);
  client::Lease tlease(tc);

  // The same keys, values, create/mod revisions, versions, leases and current revision; the
  // same history back to the compacted revision, and nothing before it.
  EXPECT_EQ(Dump(tkv), source_dump);
  EXPECT_EQ(Dump(tkv, mid_revision), source_history);
  auto before = tkv.Get("/svc/1", {.revision = compacted - 1});
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.status().code(), StatusCode::kCompacted) << before.status().ToString();
  auto ttl = tlease.TimeToLive(lease_id, /*keys=*/true);
  ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
  EXPECT_GT(ttl->ttl(), 0);
  EXPECT_EQ(ttl->keys_size(), 2);

  // A new cluster: its own id, and all three members in it.
  auto target_status = target.Status(0);
  ASSERT_TRUE(target_status.has_value());
  EXPECT_NE(target_status->header().cluster_id(), 0u);
  EXPECT_NE(target_status->header().cluster_id(), source_status->header().cluster_id());
  for (int i = 1; i < 3; ++i) {
    auto st = target.Status(i);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->header().cluster_id(), target_status->header().cluster_id());
  }

  // A member added later learns the new cluster's id from its peers.
  const int fourth = target.AddMemberSlot();
  const pb::Envelope add = target.MemberAddRequest(fourth, /*learner=*/true);
  auto added = tc.Call(add);
  ASSERT_TRUE(added.ok() && client::StatusOf(*added).ok());
  target.Start(fourth);
  EXPECT_TRUE(Eventually([&] {
    auto st = target.Status(fourth);
    return st && st->header().cluster_id() == target_status->header().cluster_id();
  }));

  // It takes writes, from the restored revision on, and every member applies them.
  auto put = tkv.Put("/after/restore", "yes");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->header().revision(), revision + 1);
  auto leased = tkv.Put("/leased/c", "held", {.lease = lease_id});
  ASSERT_TRUE(leased.ok()) << leased.status().ToString();
  for (int i = 0; i < target.size(); ++i) {
    EXPECT_TRUE(Eventually([&] {
      auto st = target.Status(i);
      return st && st->header().revision() == revision + 2;
    })) << "member "
        << i;
  }

  // A flipped byte and a cut file: refused by status and by restore, which writes nothing.
  const std::string good = ReadAll(file);
  std::string flipped = good;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x20);
  const std::string corrupt_file = (work / "corrupt.db").string();
  const std::string cut_file = (work / "cut.db").string();
  std::ofstream(corrupt_file, std::ios::binary) << flipped;
  std::ofstream(cut_file, std::ios::binary) << good.substr(0, good.size() - 1000);
  for (const auto& [bad, why] :
       {std::pair{corrupt_file, "checksum mismatch"}, std::pair{cut_file, "truncated"}}) {
    Outcome st = LongPharosctl({"snapshot", "status", bad});
    EXPECT_EQ(st.code, 1) << bad;
    EXPECT_NE(st.err.find(why), std::string::npos) << st.err;
    EXPECT_TRUE(st.out.empty()) << st.out;
    ProcessCluster unused(1, {}, /*start=*/false);
    const fs::path dir = work / "never" / "n1";
    Outcome restored = LongPharosctl({"snapshot", "restore", bad, "--name", unused.name(0),
                                      "--data-dir", dir.string(), "--initial-cluster",
                                      unused.initial_cluster(), "--pharosd", PHAROSD_BINARY});
    EXPECT_EQ(restored.code, 1) << bad;
    EXPECT_NE(restored.err.find(why), std::string::npos) << restored.err;
    EXPECT_NE(restored.err.find("nothing was written"), std::string::npos) << restored.err;
    EXPECT_FALSE(LeftSomething(dir)) << bad;
    EXPECT_FALSE(fs::exists(work / "never")) << "a parent directory was left behind";
  }

  // A directory in use is never overwritten.
  const fs::path used = work / "used";
  fs::create_directories(used);
  std::ofstream(used / "keep") << "mine";
  Outcome onto = LongPharosctl({"snapshot", "restore", file, "--name", target.name(0), "--data-dir",
                                used.string(), "--initial-cluster", target.initial_cluster(),
                                "--pharosd", PHAROSD_BINARY});
  EXPECT_EQ(onto.code, 1);
  EXPECT_NE(onto.err.find("not empty"), std::string::npos) << onto.err;
  EXPECT_EQ(ReadAll((used / "keep").string()), "mine");
  EXPECT_EQ(std::distance(fs::directory_iterator(used), fs::directory_iterator()), 1);
}

// A restore never joins the cluster it came from: a member restored with the source's own names
// and addresses (same member ids, same voters) has another cluster id, so when it is started in
// place of one of the source's members, each side drops the other's messages and the impostor
// neither votes in nor receives the source's log.
TEST(BackupRestoreTest, ARestoredMemberAtASourceMembersAddressIsNotLetIn) {
  const fs::path work = fs::temp_directory_path() / ("backup-impostor-" + std::to_string(getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  struct Cleanup {
    fs::path p;
    ~Cleanup() { fs::remove_all(p); }
  } cleanup{work};
  const std::string file = (work / "backup.db").string();

  ProcessCluster source(3, {"--log-level", "info"});
  const int leader = source.WaitForLeader();
  ASSERT_GE(leader, 0);
  client::Client c(Options(source));
  client::KV kv(c);
  ASSERT_TRUE(kv.Put("/before", "1").ok());
  Outcome saved = LongPharosctl({"--endpoints=" + source.client(leader), "snapshot", "save", file});
  ASSERT_EQ(saved.code, 0) << saved.err;

  // Member `i` of the source is replaced by a restore made with the source's own membership.
  const int i = (leader + 1) % 3;
  const fs::path restored = work / "impostor";
  Outcome o = LongPharosctl({"snapshot", "restore", file, "--name", source.name(i), "--data-dir",
                             restored.string(), "--initial-cluster", source.initial_cluster(),
                             "--pharosd", PHAROSD_BINARY});
  ASSERT_EQ(o.code, 0) << o.err;
  source.Kill(i);
  fs::remove_all(source.data_dir(i));
  fs::rename(restored, source.data_dir(i));
  source.Start(i);

  // The source keeps going on its other two members; each side logs the other's drops.
  ASSERT_TRUE(kv.Put("/after", "2").ok());
  const int other = 3 - leader - i;
  EXPECT_TRUE(Eventually([&] {
    return source.Log(i).find("dropped a message from member") != std::string::npos &&
           (source.Log(leader).find("dropped a message from member") != std::string::npos ||
            source.Log(other).find("dropped a message from member") != std::string::npos);
  })) << source.Log(i);
  auto impostor = source.Status(i);
  auto real = source.Status(leader);
  ASSERT_TRUE(impostor && real);
  EXPECT_NE(impostor->header().cluster_id(), real->header().cluster_id());
  client::ClientOptions just_impostor;
  just_impostor.endpoints = {source.client(i)};
  just_impostor.timeout = 2s;
  client::Client ic(just_impostor);
  client::KV ikv(ic);
  auto after = ikv.Get("/after", {.serializable = true});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->kvs_size(), 0) << "the source's log reached the restored member";
  // Nor does it follow the source's leader, or lead anyone.
  auto late = source.Status(i);
  ASSERT_TRUE(late.has_value());
  EXPECT_NE(late->leader(), real->header().member_id());
  EXPECT_FALSE(late->is_leader());
}

}  // namespace
}  // namespace pharos::testing
