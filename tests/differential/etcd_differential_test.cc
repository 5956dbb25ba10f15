// The differential test against etcd (issue 10): one seeded random sequence of KV and lease
// requests runs against a one-member pharosd and a one-member etcd 3.4, and every answer —
// revisions, versions, create/mod revisions, leases, counts, prev_kvs, txn branches and their
// sub-responses, lease TTLs, errors — must be the same (what is left out, and why, is in
// response_text.h). etcd is the reference. Skipped, with the reason printed, where etcd is not
// installed (tools/bootstrap.sh installs etcd-server).
//
// The runs also count what they exercised, and must have reached every case listed below: a
// sequence that never compacted, or never met an absent lease, would compare nothing there.
// Teeth: the comparison must catch one answer changed on purpose, at the request it was changed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/cluster/process_cluster.h"
#include "tests/differential/differential_run.h"
#include "tests/differential/etcd_process.h"
#include "tests/differential/etcd_target.h"
#include "tests/differential/pharos_target.h"

namespace pharos::differential {
namespace {

using testing::Eventually;
using testing::ProcessCluster;

// Every case the sequence claims to compare: each must occur in every run.
const std::vector<std::string> kMustReach = {
    "put:ok",
    "put:prev_kv",
    "put:with lease",
    "put:ignore_*",
    "put:LEASE_NOT_FOUND",
    "put:NOT_FOUND",
    "put:INVALID_ARGUMENT",
    "delete:deleted",
    "delete:nothing to delete",
    "delete:prev_kvs",
    "delete:INVALID_ARGUMENT",
    "range:found",
    "range:past revision",
    "range:more",
    "range:COMPACTED",
    "range:FUTURE_REVISION",
    "range:INVALID_ARGUMENT",
    "txn:succeeded",
    "txn:failed",
    "txn:read-only",
    "txn:writes",
    "txn:revision moved",
    "txn:INVALID_ARGUMENT",
    "txn:LEASE_NOT_FOUND",
    "compact:ok",
    "compact:COMPACTED",
    "compact:FUTURE_REVISION",
    "grant:chosen id",
    "grant:server-picked id",
    "grant:FAILED_PRECONDITION",
    "revoke:deleted keys",
    "revoke:no keys",
    "revoke:LEASE_NOT_FOUND",
    "keepalive:ok",
    "keepalive:LEASE_NOT_FOUND",
    "ttl:alive",
    "ttl:alive with keys",
    "ttl:absent",
    "leases:ok",
};

// A one-member pharosd, the SDK on it.
struct PharosNode {
  PharosNode() : cluster(1) {}
  ProcessCluster cluster;
  std::unique_ptr<PharosTarget> target;
  bool Start() {
    if (cluster.WaitForLeader() != 0) return false;
    target = std::make_unique<PharosTarget>(cluster.client(0));
    return true;
  }
};

// The test compares answers, not durability: data directories in memory make every fsync free,
// which keeps the runs well inside CI's budget on two shared cores.
void UseMemoryForDataDirectories() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec)) setenv("TMPDIR", "/dev/shm", 1);
}

void RunSeedAgainstEtcd(uint64_t seed, int64_t operations) {
  const auto etcd_binary = EtcdProcess::Find();
  if (!etcd_binary) {
    GTEST_SKIP() << "etcd is not installed (tools/bootstrap.sh installs etcd-server)";
  }
  // The answers compared, errors and their order included, are etcd 3.4's; another version
  // would be a different reference, not a finding about Pharos.
  const std::string version = EtcdProcess::Version(*etcd_binary);
  if (version.find("Version: 3.4.") == std::string::npos) {
    GTEST_SKIP() << "the reference is etcd 3.4 (Debian's etcd-server); " << *etcd_binary << " is '"
                 << version << "'";
  }
  std::printf("reference: %s (%s)\n", etcd_binary->c_str(), version.c_str());
  // Children are forked below: nothing may sit in our stdout buffer for them to write again.
  std::fflush(stdout);

  UseMemoryForDataDirectories();
  PharosNode pharos;
  ASSERT_TRUE(pharos.Start()) << "pharosd never became leader:\n" << pharos.cluster.Log(0);
  EtcdProcess etcd(*etcd_binary);
  ASSERT_TRUE(Eventually([&] { return etcd.Listening(); }, std::chrono::seconds(20)))
      << "etcd never listened on " << etcd.endpoint() << ":\n"
      << etcd.Log();
  EtcdTarget reference(etcd.endpoint());
  ASSERT_TRUE(Eventually([&] { return reference.Ready(); }, std::chrono::seconds(20)))
      << "etcd never answered:\n"
      << etcd.Log();

  const RunReport report = RunDifferential(seed, operations, reference, *pharos.target);
  const std::string text = Describe(report);
  std::printf("seed %llu: %s", static_cast<unsigned long long>(seed), text.c_str());
  ASSERT_FALSE(report.difference.has_value()) << text;
  EXPECT_EQ(report.operations, operations);
  for (const std::string& label : kMustReach) {
    EXPECT_GT(report.outcomes.count(label) ? report.outcomes.at(label) : 0, 0)
        << "seed " << seed << " never reached " << label;
  }
}

TEST(EtcdDifferentialTest, Seed1) { RunSeedAgainstEtcd(1, 5000); }

TEST(EtcdDifferentialTest, Seed20240611) { RunSeedAgainstEtcd(20240611, 3000); }

// Answers of another target, passed on unchanged except one: the `at`-th answer that has a header
// gets its revision moved by one.
class OneAnswerChanged : public KvTarget {
 public:
  OneAnswerChanged(KvTarget& inner, int64_t at) : inner_(inner), at_(at) {}
  Result<pb::Envelope> Execute(const pb::Envelope& request) override {
    auto answer = inner_.Execute(request);
    if (!answer.ok() || HeaderRevisionField(*answer) == nullptr || ++seen_ != at_) return answer;
    pb::ResponseHeader* h = HeaderRevisionField(*answer);
    h->set_revision(h->revision() + 1);
    return answer;
  }

 private:
  static pb::ResponseHeader* HeaderRevisionField(pb::Envelope& e) {
    if (e.has_range_response()) return e.mutable_range_response()->mutable_header();
    if (e.has_put_response()) return e.mutable_put_response()->mutable_header();
    if (e.has_txn_response()) return e.mutable_txn_response()->mutable_header();
    return nullptr;
  }
  KvTarget& inner_;
  const int64_t at_;
  int64_t seen_ = 0;
};

// The comparison has teeth: two pharosd answer one sequence alike (so nothing it compares is
// left to chance: timing, ids) until one answer is changed, and the run stops exactly there.
TEST(DifferentialRunTest, StopsAtTheOneChangedAnswer) {
  UseMemoryForDataDirectories();
  PharosNode a, b;
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  OneAnswerChanged changed(*b.target, 150);
  const RunReport report = RunDifferential(7, 1000, *a.target, changed);
  std::printf("%s", Describe(report).c_str());
  ASSERT_TRUE(report.difference.has_value());
  EXPECT_GT(report.operations, 150);  // at least 150 answers had a header before it
  EXPECT_EQ(report.difference->operation, report.operations + 1);
  EXPECT_NE(report.difference->reference, report.difference->subject);
}

}  // namespace
}  // namespace pharos::differential
