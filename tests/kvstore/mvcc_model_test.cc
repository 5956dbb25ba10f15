// Model-based randomized test of MvccStore: the store and KvModel (a plain in-memory reference)
// take the same seeded random operations — puts, deletes, ranges at past revisions, txns, leases,
// compactions, snapshot/restore and close/reopen — and every answer must match. A divergence
// fails with the seed and the operation number.
#include <gtest/gtest.h>

#include <random>

#include "kvstore/mvcc_store.h"
#include "tests/kvstore/kv_model.h"
#include "tests/kvstore/kv_test_store.h"

namespace pharos::kv::testing {
namespace {

class RandomOps {
 public:
  explicit RandomOps(uint64_t seed) : rng_(seed) {}

  uint64_t Below(uint64_t n) { return rng_() % n; }
  bool Chance(int percent) { return Below(100) < static_cast<uint64_t>(percent); }
  std::string Key() { return "k" + std::to_string(Below(24)); }
  std::string Value() { return "v" + std::to_string(Below(1000000)); }
  // A single key, a [from, to) range, a prefix, or everything from a key on.
  std::pair<std::string, std::string> KeyRange() {
    switch (Below(4)) {
      case 0:
        return {Key(), ""};
      case 1: {
        std::string a = Key(), b = Key();
        if (a > b) std::swap(a, b);
        return {a, b};
      }
      case 2:
        return {"k1", "k2"};  // the prefix "k1"
      default:
        return {Key(), std::string(1, '\0')};
    }
  }
  int64_t Lease(const std::map<int64_t, int64_t>& leases) {
    if (leases.empty() || Chance(60)) return Chance(10) ? 999999 : 0;  // sometimes unknown
    auto it = leases.begin();
    std::advance(it, Below(leases.size()));
    return it->first;
  }

  pb::PutRequest Put(const std::map<int64_t, int64_t>& leases) {
    pb::PutRequest p;
    p.set_key(Key());
    p.set_value(Value());
    p.set_lease(Lease(leases));
    p.set_prev_kv(Chance(50));
    if (Chance(5)) {
      p.set_ignore_value(true);
      p.clear_value();
    }
    if (Chance(5)) {
      p.set_ignore_lease(true);
      p.set_lease(0);
    }
    return p;
  }
  pb::DeleteRangeRequest Delete() {
    pb::DeleteRangeRequest d;
    auto [k, e] = KeyRange();
    d.set_key(k);
    d.set_range_end(e);
    d.set_prev_kv(Chance(50));
    return d;
  }
  pb::RangeRequest Range(int64_t revision, int64_t compact) {
    pb::RangeRequest r;
    auto [k, e] = KeyRange();
    r.set_key(k);
    r.set_range_end(e);
    if (Chance(50) && revision > 0) {
      // Mostly readable revisions, sometimes compacted or future ones.
      const int64_t lo = Chance(90) ? compact : 1;
      r.set_revision(lo + static_cast<int64_t>(Below(static_cast<uint64_t>(revision - lo + 2))));
    }
    if (Chance(20)) r.set_limit(1 + static_cast<int64_t>(Below(3)));
    r.set_keys_only(Chance(10));
    r.set_count_only(Chance(10));
    return r;
  }
  pb::TxnRequest Txn(const std::map<int64_t, int64_t>& leases, int64_t revision) {
    pb::TxnRequest t;
    const int compares = static_cast<int>(Below(3));
    for (int i = 0; i < compares; ++i) {
      pb::Compare* c = t.add_compare();
      c->set_key(Key());
      if (Chance(10)) c->set_range_end(std::string(1, '\0'));
      c->set_result(static_cast<pb::Compare::CompareResult>(Below(4)));
      switch (Below(5)) {
        case 0:
          c->set_target(pb::Compare::VALUE);
          c->set_value(Value());
          break;
        case 1:
          c->set_target(pb::Compare::VERSION);
          c->set_version(static_cast<int64_t>(Below(4)));
          break;
        case 2:
          c->set_target(pb::Compare::CREATE);
          c->set_create_revision(static_cast<int64_t>(Below(static_cast<uint64_t>(revision + 2))));
          break;
        case 3:
          c->set_target(pb::Compare::MOD);
          c->set_mod_revision(static_cast<int64_t>(Below(static_cast<uint64_t>(revision + 2))));
          break;
        default:
          c->set_target(pb::Compare::LEASE);
          c->set_lease(Lease(leases));
          break;
      }
    }
    for (auto* ops : {t.mutable_success(), t.mutable_failure()}) {
      const int n = static_cast<int>(Below(4));
      for (int i = 0; i < n; ++i) {
        pb::RequestOp* op = ops->Add();
        switch (Below(3)) {
          case 0:
            *op->mutable_request_put() = Put(leases);
            break;
          case 1:
            *op->mutable_request_delete_range() = Delete();
            break;
          default: {
            pb::RangeRequest r = Range(revision, 0);
            if (Chance(70)) r.set_revision(0);
            *op->mutable_request_range() = r;
          }
        }
      }
    }
    return t;
  }

 private:
  std::mt19937_64 rng_;
};

// Header revisions of the top-level response are compared apart (ApplyResult::revision), so both
// sides' are cleared; those inside a txn are compared.
void ClearTopHeader(pb::RaftResponse* r) {
  switch (r->response_case()) {
    case pb::RaftResponse::kPut:
      r->mutable_put()->clear_header();
      break;
    case pb::RaftResponse::kDeleteRange:
      r->mutable_delete_range()->clear_header();
      break;
    case pb::RaftResponse::kTxn:
      r->mutable_txn()->clear_header();
      break;
    case pb::RaftResponse::kCompaction:
      r->mutable_compaction()->clear_header();
      break;
    case pb::RaftResponse::kLeaseGrant:
      r->mutable_lease_grant()->clear_header();
      break;
    case pb::RaftResponse::kLeaseRevoke:
      r->mutable_lease_revoke()->clear_header();
      break;
    default:
      break;
  }
}

void RunModel(uint64_t seed, int operations) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  RandomOps rand(seed);
  KvModel model;
  auto store = std::make_unique<KvTestStore>("mvcc-model");
  uint64_t index = 0;
  int reads = 0, writes = 0, restores = 0, reopens = 0;
  for (int op = 0; op < operations; ++op) {
    SCOPED_TRACE("operation " + std::to_string(op));
    const uint64_t kind = rand.Below(100);
    if (kind < 30) {
      ++reads;
      const pb::RangeRequest req = rand.Range(model.revision(), model.compact_revision());
      pb::RangeResponse want;
      const Status want_status = model.Range(req, &want);
      auto got = (*store)->Range(req);
      ASSERT_EQ(got.ok() ? StatusCode::kOk : got.status().code(), want_status.code())
          << req.ShortDebugString() << " " << got.status().ToString();
      if (got.ok()) {
        ASSERT_EQ(got->ShortDebugString(), want.ShortDebugString()) << req.ShortDebugString();
      }
      continue;
    }
    if (kind < 32) {
      // Snapshot the store and continue on a fresh one restored from it.
      std::vector<std::string> chunks;
      auto reader = (*store)->CreateSnapshot(64);
      for (;;) {
        auto chunk = reader->Next();
        ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
        if (!chunk->has_value()) break;
        chunks.push_back(std::move(**chunk));
      }
      reader.reset();
      const std::string before = (*store)->DebugDump();
      auto restored = std::make_unique<KvTestStore>("mvcc-model-restored");
      ASSERT_TRUE((*restored)->Restore(chunks).ok());
      ASSERT_EQ((*restored)->DebugDump(), before);
      store = std::move(restored);
      ++restores;
      continue;
    }
    if (kind < 34) {
      store->Reopen();
      ++reopens;
      continue;
    }
    ++writes;
    pb::RaftRequest req;
    req.set_id(static_cast<uint64_t>(op));
    if (kind < 60) {
      *req.mutable_put() = rand.Put(model.leases());
    } else if (kind < 70) {
      *req.mutable_delete_range() = rand.Delete();
    } else if (kind < 85) {
      *req.mutable_txn() = rand.Txn(model.leases(), model.revision());
    } else if (kind < 90) {
      req.mutable_lease_grant()->set_ttl(1 + static_cast<int64_t>(rand.Below(60)));
      if (rand.Chance(30))
        req.mutable_lease_grant()->set_id(1 + static_cast<int64_t>(rand.Below(5)));
    } else if (kind < 95) {
      const auto& leases = model.leases();
      int64_t id = 12345;
      if (!leases.empty() && rand.Chance(80)) {
        auto it = leases.begin();
        std::advance(it, rand.Below(leases.size()));
        id = it->first;
      }
      req.mutable_lease_revoke()->set_id(id);
    } else {
      const int64_t lo = model.compact_revision();
      const int64_t rev =
          lo + static_cast<int64_t>(rand.Below(static_cast<uint64_t>(model.revision() - lo + 2)));
      req.mutable_compaction()->set_revision(rev);
    }
    ++index;
    pb::RaftResponse want;
    const Status want_status = model.Apply(index, req, &want);
    auto got = (*store)->Apply(index, req);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->status.code(), want_status.code())
        << req.ShortDebugString() << " -> " << got->status.ToString();
    ASSERT_EQ(got->revision, model.revision()) << req.ShortDebugString();
    ASSERT_EQ((*store)->revision(), model.revision());
    ASSERT_EQ((*store)->applied_index(), index);
    ASSERT_EQ((*store)->key_count(), model.live_keys());
    ASSERT_EQ((*store)->lease_count(), model.leases().size());
    if (got->status.ok()) {
      pb::RaftResponse response = got->response;
      ClearTopHeader(&response);
      ClearTopHeader(&want);
      ASSERT_EQ(response.ShortDebugString(), want.ShortDebugString()) << req.ShortDebugString();
    }
  }
  // The run must have exercised what it claims to.
  EXPECT_GT(reads, operations / 5);
  EXPECT_GT(writes, operations / 2);
  EXPECT_GT(restores, 0);
  EXPECT_GT(reopens, 0);
  EXPECT_GT(model.compact_revision(), 0);
}

TEST(MvccModelTest, TenThousandRandomOperationsMatchTheModel) { RunModel(1, 10000); }

TEST(MvccModelTest, MoreSeeds) {
  for (uint64_t seed = 2; seed <= 6; ++seed) {
    RunModel(seed, 3000);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace pharos::kv::testing
