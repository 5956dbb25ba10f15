#include "kvstore/mvcc_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "tests/kvstore/kv_requests.h"
#include "tests/kvstore/kv_test_store.h"

namespace pharos::kv::testing {
namespace {

class MvccStoreTest : public ::testing::Test {
 protected:
  ApplyResult Apply(const pb::RaftRequest& r) {
    auto res = (*store_)->Apply(++index_, r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? *res : ApplyResult();
  }
  pb::RangeResponse Get(const std::string& key, const std::string& end = "", int64_t rev = 0) {
    auto r = (*store_)->Range(RangeReq(key, end, rev));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : pb::RangeResponse();
  }
  std::unique_ptr<KvTestStore> store_ = std::make_unique<KvTestStore>("mvcc");
  uint64_t index_ = 0;
};

TEST_F(MvccStoreTest, RevisionsVersionsAndCreateRevisions) {
  // A new store is at revision 1, as etcd's: the first write makes revision 2.
  EXPECT_EQ((*store_)->revision(), 1);
  EXPECT_EQ(Get("a").header().revision(), 1);
  EXPECT_EQ(Apply(PutReq("a", "1")).revision, 2);
  EXPECT_EQ(Apply(PutReq("b", "1")).revision, 3);
  ApplyResult r = Apply(PutReq("a", "2", 0, /*prev_kv=*/true));
  EXPECT_EQ(r.revision, 4);
  EXPECT_EQ(r.response.put().prev_kv().value(), "1");
  EXPECT_EQ(r.response.put().header().revision(), 4);
  const pb::KeyValue a = Get("a").kvs(0);
  EXPECT_EQ(a.create_revision(), 2);
  EXPECT_EQ(a.mod_revision(), 4);
  EXPECT_EQ(a.version(), 2);
  // Deleting and re-creating starts a new generation.
  EXPECT_EQ(Apply(DeleteReq("a")).revision, 5);
  Apply(PutReq("a", "3"));
  const pb::KeyValue again = Get("a").kvs(0);
  EXPECT_EQ(again.create_revision(), 6);
  EXPECT_EQ(again.version(), 1);
  // Reads at past revisions see the past.
  EXPECT_EQ(Get("a", "", 3).kvs(0).value(), "1");
  EXPECT_EQ(Get("a", "", 5).kvs_size(), 0);
  EXPECT_EQ(Get("a", "", 4).kvs(0).value(), "2");
  // A store reopened before any write is still at revision 1.
  KvTestStore fresh("mvcc-fresh");
  fresh.Reopen();
  EXPECT_EQ(fresh->revision(), 1);
}

TEST_F(MvccStoreTest, DeleteOfNothingDoesNotMoveTheRevision) {
  Apply(PutReq("a", "1"));
  ApplyResult r = Apply(DeleteReq("zzz"));
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.revision, 2);
  EXPECT_EQ(r.response.delete_range().deleted(), 0);
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ((*store_)->applied_index(), 2u);
}

TEST_F(MvccStoreTest, RangeForms) {
  for (const char* k : {"a", "ab", "abc", "b", "c"}) Apply(PutReq(k, "v"));
  EXPECT_EQ(Get("ab").count(), 1);
  EXPECT_EQ(Get("a", "b").count(), 3);                    // prefix "a"
  EXPECT_EQ(Get("ab", std::string(1, '\0')).count(), 4);  // every key >= "ab"
  pb::RangeRequest limited = RangeReq("a", "z");
  limited.set_limit(2);
  auto r = (*store_)->Range(limited);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs_size(), 2);
  EXPECT_TRUE(r->more());
  EXPECT_EQ(r->count(), 5);
  pb::RangeRequest count_only = RangeReq("a", "z");
  count_only.set_count_only(true);
  EXPECT_EQ((*store_)->Range(count_only)->kvs_size(), 0);
  pb::RangeRequest keys_only = RangeReq("a", "z");
  keys_only.set_keys_only(true);
  EXPECT_EQ((*store_)->Range(keys_only)->kvs(0).value(), "");
  EXPECT_EQ((*store_)->Range(RangeReq("a", "", 99)).status().code(), StatusCode::kFutureRevision);
}

// etcd's API: "if revision is less or equal to zero, the range is over the newest key-value
// store" — not a compacted revision, even after a compaction; inside a txn as well.
TEST_F(MvccStoreTest, ARevisionBelowZeroReadsTheNewestState) {
  Apply(PutReq("a", "1"));
  const int64_t second = Apply(PutReq("a", "2")).revision;
  ASSERT_TRUE(Apply(CompactReq(second)).status.ok());
  for (int64_t rev : {0, -1, -5}) {
    auto r = (*store_)->Range(RangeReq("a", "", rev));
    ASSERT_TRUE(r.ok()) << rev << ": " << r.status().ToString();
    EXPECT_EQ(r->kvs(0).value(), "2") << rev;
    pb::RaftRequest txn;
    *txn.mutable_txn()->add_success()->mutable_request_range() = RangeReq("a", "", rev);
    ApplyResult t = Apply(txn);
    ASSERT_TRUE(t.status.ok()) << rev << ": " << t.status.ToString();
    EXPECT_EQ(t.response.txn().responses(0).response_range().kvs(0).value(), "2") << rev;
  }
}

TEST_F(MvccStoreTest, TxnComparesThenRunsOneBranch) {
  Apply(PutReq("x", "1"));
  pb::RaftRequest txn;
  pb::Compare* c = txn.mutable_txn()->add_compare();
  c->set_key("x");
  c->set_target(pb::Compare::VALUE);
  c->set_result(pb::Compare::EQUAL);
  c->set_value("1");
  *txn.mutable_txn()->add_success()->mutable_request_put() = PutReq("x", "2").put();
  *txn.mutable_txn()->add_success()->mutable_request_range() = RangeReq("x");
  *txn.mutable_txn()->add_failure()->mutable_request_put() = PutReq("y", "failed").put();
  ApplyResult r = Apply(txn);
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.response.txn().succeeded());
  // The range inside the txn sees the txn's own put.
  EXPECT_EQ(r.response.txn().responses(1).response_range().kvs(0).value(), "2");
  r = Apply(txn);  // now x == 2: the failure branch runs
  EXPECT_FALSE(r.response.txn().succeeded());
  EXPECT_EQ(Get("y").kvs(0).value(), "failed");
}

// Each response inside a txn carries a header with the revision it saw, as etcd's do: the txn's
// new revision from its first change on, the revision it started from before that.
TEST_F(MvccStoreTest, TxnResponsesCarryTheRevisionTheySaw) {
  const int64_t before = Apply(PutReq("a", "1")).revision;
  pb::RaftRequest txn;
  auto* ops = txn.mutable_txn()->mutable_success();
  *ops->Add()->mutable_request_delete_range() = DeleteReq("absent").delete_range();
  *ops->Add()->mutable_request_range() = RangeReq("a");
  *ops->Add()->mutable_request_put() = PutReq("b", "1").put();
  *ops->Add()->mutable_request_delete_range() = DeleteReq("absent too").delete_range();
  *ops->Add()->mutable_request_delete_range() = DeleteReq("a").delete_range();
  *ops->Add()->mutable_request_range() = RangeReq("a");
  ApplyResult r = Apply(txn);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  const auto& out = r.response.txn().responses();
  ASSERT_EQ(out.size(), 6);
  EXPECT_EQ(out[0].response_delete_range().header().revision(), before);
  EXPECT_EQ(out[1].response_range().header().revision(), before);
  EXPECT_EQ(out[2].response_put().header().revision(), before + 1);
  EXPECT_EQ(out[3].response_delete_range().header().revision(), before + 1);
  EXPECT_EQ(out[4].response_delete_range().header().revision(), before + 1);
  EXPECT_EQ(out[5].response_range().header().revision(), before + 1);
  EXPECT_EQ(r.response.txn().header().revision(), before + 1);
}

// A request wrong in two ways fails as etcd fails it. A put on its own: the unknown lease first.
// In a txn: a missing key first (ignore_value), and every put before any range.
TEST_F(MvccStoreTest, RequestsWrongTwiceFailAsEtcdFailsThem) {
  pb::PutRequest twice = PutReq("absent", "", /*lease=*/777).put();
  twice.set_ignore_value(true);
  pb::RaftRequest alone;
  *alone.mutable_put() = twice;
  EXPECT_EQ(Apply(alone).status.code(), StatusCode::kLeaseNotFound);
  pb::RaftRequest in_txn;
  *in_txn.mutable_txn()->add_success()->mutable_request_put() = twice;
  EXPECT_EQ(Apply(in_txn).status.code(), StatusCode::kNotFound);
  pb::RaftRequest range_then_put;
  auto* ops = range_then_put.mutable_txn()->mutable_success();
  *ops->Add()->mutable_request_range() = RangeReq("a", "", 99);  // a future revision
  *ops->Add()->mutable_request_put() = PutReq("b", "1", 777).put();
  EXPECT_EQ(Apply(range_then_put).status.code(), StatusCode::kLeaseNotFound);
}

TEST_F(MvccStoreTest, TxnWritingAKeyTwiceIsRefused) {
  pb::RaftRequest txn;
  *txn.mutable_txn()->add_success()->mutable_request_put() = PutReq("x", "1").put();
  *txn.mutable_txn()->add_success()->mutable_request_put() = PutReq("x", "2").put();
  ApplyResult r = Apply(txn);
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.revision, 1);
  EXPECT_EQ(Get("x").count(), 0);
}

TEST_F(MvccStoreTest, LeasesAttachAndRevokeDeletesKeysInOneRevision) {
  ApplyResult g = Apply(GrantReq(10));
  ASSERT_TRUE(g.status.ok());
  const int64_t id = g.response.lease_grant().id();
  EXPECT_EQ(id, 1);  // derived from the entry index: the same on every replica
  EXPECT_EQ(Apply(PutReq("svc/a", "1", id)).revision, 2);
  EXPECT_EQ(Apply(PutReq("svc/b", "1", id)).revision, 3);
  EXPECT_EQ(Apply(PutReq("svc/c", "1", 777)).status.code(), StatusCode::kLeaseNotFound);
  EXPECT_EQ((*store_)->LeaseKeys(id), (std::vector<std::string>{"svc/a", "svc/b"}));
  ApplyResult r = Apply(RevokeReq(id));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.revision, 4);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].kv().mod_revision(), 4);
  EXPECT_EQ(r.events[1].kv().mod_revision(), 4);
  EXPECT_EQ(Get("svc/", "svc0").count(), 0);
  EXPECT_FALSE((*store_)->Lease(id).has_value());
  EXPECT_EQ(Apply(RevokeReq(id)).status.code(), StatusCode::kLeaseNotFound);
}

// Beyond etcd's MaxLeaseTTL the leader's expiry overflows and the lease dies at once with its
// keys. The server refuses such a grant before proposing it; one already in a log is refused on
// apply, the same way on every member.
TEST_F(MvccStoreTest, ALeaseTtlAboveEtcdsMaximumIsRefusedAndChangesNothing) {
  ApplyResult r = Apply(GrantReq(kMaxLeaseTtlSeconds + 1));
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message(), kTooLargeLeaseTtl);
  EXPECT_TRUE((*store_)->Leases().empty());
  EXPECT_EQ((*store_)->revision(), 1);
  EXPECT_EQ((*store_)->applied_index(), index_);
  ApplyResult at_limit = Apply(GrantReq(kMaxLeaseTtlSeconds));
  ASSERT_TRUE(at_limit.status.ok()) << at_limit.status.ToString();
  EXPECT_EQ(at_limit.response.lease_grant().ttl(), kMaxLeaseTtlSeconds);
}

// A put that keeps its key's value or lease (ignore_value, ignore_lease) reads them from storage.
// If that read fails the apply must fail (and the node stop), as a failed read in a txn's compare
// does: writing "" or lease 0 instead would set this member apart from the others for good.
TEST(MvccStoreReadErrorTest, APutThatCannotReadWhatItKeepsFailsInsteadOfWritingDefaults) {
  for (const bool keep_value : {true, false}) {
    SCOPED_TRACE(keep_value ? "ignore_value" : "ignore_lease");
    KvTestStore store("mvcc-read-error");
    // Only the ignore flags make a put read the previous value.
    store->set_prev_kv_in_events(false);
    auto lease = store->Apply(1, GrantReq(30));
    ASSERT_TRUE(lease.ok() && lease->status.ok());
    const int64_t id = lease->response.lease_grant().id();
    ASSERT_TRUE(store->Apply(2, PutReq("k", "v", id)).ok());  // revision 2
    // Revision 2's record becomes unreadable: removed behind the store's back.
    std::string revision_2(16, '\0');
    revision_2[7] = 2;
    ASSERT_TRUE(store.db()->Delete(rocksdb::WriteOptions(), store.cf("kv"), revision_2).ok());
    pb::RaftRequest put = keep_value ? PutReq("k", "", id) : PutReq("k", "new");
    put.mutable_put()->set_ignore_value(keep_value);
    put.mutable_put()->set_ignore_lease(!keep_value);
    auto r = store->Apply(3, put);
    EXPECT_FALSE(r.ok()) << "applied as " << (r.ok() ? r->status.ToString() : "") << ", leaving "
                         << store->DebugDump();
  }
}

TEST_F(MvccStoreTest, CompactionKeepsWhatLaterReadsNeed) {
  Apply(PutReq("a", "1"));  // 2
  Apply(PutReq("a", "2"));  // 3
  Apply(PutReq("b", "1"));  // 4
  Apply(DeleteReq("b"));    // 5
  Apply(PutReq("a", "3"));  // 6
  ASSERT_TRUE(Apply(CompactReq(5)).status.ok());
  EXPECT_EQ((*store_)->Range(RangeReq("a", "", 4)).status().code(), StatusCode::kCompacted);
  EXPECT_EQ(Get("a", "", 5).kvs(0).value(), "2");
  EXPECT_EQ(Get("b", "", 5).count(), 0);
  EXPECT_EQ(Apply(CompactReq(5)).status.code(), StatusCode::kCompacted);
  EXPECT_EQ(Apply(CompactReq(9)).status.code(), StatusCode::kFutureRevision);
  store_->Reopen();
  EXPECT_EQ((*store_)->compact_revision(), 5);
  EXPECT_EQ(Get("a", "", 5).kvs(0).value(), "2");
  EXPECT_EQ(Get("a").kvs(0).version(), 3);
  EXPECT_EQ((*store_)->revision(), 6);
}

TEST_F(MvccStoreTest, ReopenRefusesAStoredSubRevisionTheIndexCannotHold) {
  Apply(PutReq("a", "1"));  // 2
  // A value under revision {3, 2^31}: the key index keeps 31 bits of a sub revision, and would
  // point at another stored key.
  pb::KeyValue kv;
  kv.set_key("b");
  kv.set_value("1");
  kv.set_create_revision(3);
  kv.set_mod_revision(3);
  kv.set_version(1);
  std::string key(16, '\0');
  for (int i = 0; i < 8; ++i) {
    key[7 - i] = static_cast<char>((uint64_t{3} >> (8 * i)) & 0xff);
    key[15 - i] = static_cast<char>((uint64_t{1} << 31 >> (8 * i)) & 0xff);
  }
  ASSERT_TRUE(store_->db()
                  ->Put(rocksdb::WriteOptions(), store_->cf("kv"), key, kv.SerializeAsString())
                  .ok());
  try {
    store_->Reopen();
    ADD_FAILURE() << "the store opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad sub revision"), std::string::npos) << e.what();
  }
}

TEST_F(MvccStoreTest, ReopenRebuildsIndexLeasesAndAppliedIndex) {
  const int64_t id = Apply(GrantReq(30)).response.lease_grant().id();
  Apply(PutReq("k", "v", id));
  Apply(PutReq("k2", "v"));
  Apply(DeleteReq("k2"));
  store_->Reopen();
  EXPECT_EQ((*store_)->applied_index(), index_);
  EXPECT_EQ((*store_)->revision(), 4);
  EXPECT_EQ((*store_)->LeaseKeys(id), std::vector<std::string>{"k"});
  EXPECT_EQ(Get("k").kvs(0).lease(), id);
  EXPECT_EQ(Get("k2").count(), 0);
  // An entry already applied is not applied twice.
  auto again = (*store_)->Apply(index_, PutReq("k", "replayed"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->status.ok());
  EXPECT_EQ(Get("k").kvs(0).value(), "v");
}

// A batch of entries goes to RocksDB in one write (MvccStore::BeginBatch): later entries of the
// batch must read what earlier ones wrote (prev_kv, ignore_value, txn compares and ranges,
// compaction), and the stored result must be the one entry-by-entry applies leave.
TEST_F(MvccStoreTest, ABatchAppliesAsItsEntriesOneByOne) {
  std::vector<pb::RaftRequest> ops;
  ops.push_back(PutReq("k", "1"));
  ops.push_back(PutReq("k", "2", 0, /*prev_kv=*/true));
  pb::RaftRequest keep = PutReq("k", "");
  keep.mutable_put()->set_ignore_value(true);
  keep.mutable_put()->set_prev_kv(true);
  ops.push_back(keep);
  pb::RaftRequest txn;
  pb::Compare* c = txn.mutable_txn()->add_compare();
  c->set_key("k");
  c->set_target(pb::Compare::VALUE);
  c->set_result(pb::Compare::EQUAL);
  c->set_value("2");
  *txn.mutable_txn()->add_success()->mutable_request_range() = RangeReq("k");
  *txn.mutable_txn()->add_success()->mutable_request_put() = PutReq("j", "from-txn").put();
  ops.push_back(txn);
  pb::RaftRequest del = DeleteReq("j");
  del.mutable_delete_range()->set_prev_kv(true);
  ops.push_back(del);
  ops.push_back(PutReq("k", "3"));
  ops.push_back(CompactReq(4));
  ops.push_back(PutReq("k", "4", 0, /*prev_kv=*/true));

  KvTestStore one_by_one("mvcc-one-by-one");
  std::vector<ApplyResult> want;
  for (size_t i = 0; i < ops.size(); ++i) {
    auto r = one_by_one->Apply(i + 1, ops[i]);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    want.push_back(*r);
  }

  (*store_)->BeginBatch();
  for (size_t i = 0; i < ops.size(); ++i) {
    auto r = (*store_)->Apply(i + 1, ops[i]);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status.ToString(), want[i].status.ToString()) << "entry " << i + 1;
    EXPECT_EQ(r->revision, want[i].revision) << "entry " << i + 1;
    EXPECT_EQ(r->response.DebugString(), want[i].response.DebugString()) << "entry " << i + 1;
    ASSERT_EQ(r->events.size(), want[i].events.size()) << "entry " << i + 1;
    for (size_t e = 0; e < r->events.size(); ++e) {
      EXPECT_EQ(r->events[e].DebugString(), want[i].events[e].DebugString());
    }
  }
  EXPECT_TRUE(want[1].response.put().has_prev_kv());  // the test reads through the batch
  EXPECT_EQ(want[2].response.put().prev_kv().value(), "2");
  EXPECT_TRUE(want[3].response.txn().succeeded());
  ASSERT_TRUE((*store_)->CommitBatch().ok());
  EXPECT_EQ((*store_)->DebugDump(), one_by_one->DebugDump());
  store_->Reopen();
  one_by_one.Reopen();
  EXPECT_EQ((*store_)->applied_index(), ops.size());
  EXPECT_EQ((*store_)->DebugDump(), one_by_one->DebugDump());
}

// With no watcher asking for previous values, the store skips reading them for events; what it
// stores and what requests asking for prev_kv get back do not change.
TEST_F(MvccStoreTest, EventsWithoutPreviousValuesChangeNothingElse) {
  KvTestStore with_prev("mvcc-with-prev");
  (*store_)->set_prev_kv_in_events(false);
  std::vector<pb::RaftRequest> ops = {PutReq("k", "1"), PutReq("k", "2"),
                                      PutReq("k", "3", 0, /*prev_kv=*/true), DeleteReq("k")};
  pb::RaftRequest del_prev = DeleteReq("j");
  del_prev.mutable_delete_range()->set_prev_kv(true);
  ops.insert(ops.begin(), PutReq("j", "x"));
  ops.push_back(del_prev);
  for (size_t i = 0; i < ops.size(); ++i) {
    auto want = with_prev->Apply(i + 1, ops[i]);
    auto got = (*store_)->Apply(i + 1, ops[i]);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(got->response.DebugString(), want->response.DebugString()) << "entry " << i + 1;
    ASSERT_EQ(got->events.size(), want->events.size());
    for (size_t e = 0; e < got->events.size(); ++e) {
      EXPECT_FALSE(got->events[e].has_prev_kv());
      pb::Event stripped = want->events[e];
      stripped.clear_prev_kv();
      EXPECT_EQ(got->events[e].DebugString(), stripped.DebugString());
    }
  }
  EXPECT_EQ((*store_)->DebugDump(), with_prev->DebugDump());
}

TEST_F(MvccStoreTest, NothingOfABatchIsStoredBeforeItIsCommitted) {
  Apply(PutReq("a", "1"));
  (*store_)->BeginBatch();
  Apply(PutReq("a", "2"));
  Apply(PutReq("b", "1"));
  // A crash now (the store reopened without CommitBatch) finds the state before the batch.
  store_->Reopen();
  EXPECT_EQ((*store_)->applied_index(), 1u);
  EXPECT_EQ(Get("a").kvs(0).value(), "1");
  EXPECT_EQ(Get("b").count(), 0);
}

TEST_F(MvccStoreTest, SnapshotPlusLaterEntriesEqualsApplyingEverything) {
  std::vector<pb::RaftRequest> ops;
  ops.push_back(GrantReq(10));
  for (int i = 0; i < 300; ++i) {
    ops.push_back(
        PutReq("key" + std::to_string(i % 37), "value" + std::to_string(i), i % 5 ? 0 : 1));
    if (i % 11 == 0) ops.push_back(DeleteReq("key" + std::to_string(i % 13)));
    if (i == 150) ops.push_back(CompactReq(100));
  }
  ops.push_back(RevokeReq(1));
  KvTestStore other("mvcc-restored");
  const size_t cut = ops.size() / 2;
  for (size_t i = 0; i < cut; ++i) Apply(ops[i]);
  // Snapshot in small chunks while the source keeps applying.
  auto reader = (*store_)->CreateSnapshot(256);
  std::vector<std::string> chunks;
  for (size_t i = cut; i < ops.size(); ++i) {
    auto chunk = reader->Next();
    ASSERT_TRUE(chunk.ok());
    if (chunk->has_value()) chunks.push_back(std::move(**chunk));
    Apply(ops[i]);
  }
  for (;;) {
    auto chunk = reader->Next();
    ASSERT_TRUE(chunk.ok());
    if (!chunk->has_value()) break;
    chunks.push_back(std::move(**chunk));
  }
  reader.reset();
  EXPECT_GT(chunks.size(), 10u);
  ASSERT_TRUE(other->Restore(chunks).ok());
  EXPECT_EQ(other->applied_index(), cut);
  for (size_t i = cut; i < ops.size(); ++i) {
    auto r = other->Apply(i + 1, ops[i]);
    ASSERT_TRUE(r.ok());
  }
  EXPECT_EQ(other->DebugDump(), (*store_)->DebugDump());
}

// A chunk ends before the record that would take it past the bound; only a record larger than the
// bound alone makes a larger chunk. Before, a chunk ended after that record: a chunk just under
// 512 KiB and a 1.4 MiB value went out as one frame over the clients' limit.
TEST_F(MvccStoreTest, SnapshotChunksExceedTheirBoundOnlyByARecordLargerThanIt) {
  constexpr size_t kBound = 4096;
  for (int i = 0; i < 20; ++i) Apply(PutReq("small" + std::to_string(i), std::string(700, 's')));
  Apply(PutReq("toobig", std::string(3 * kBound, 'b')));
  auto reader = (*store_)->CreateSnapshot(kBound);
  size_t over = 0;
  for (;;) {
    auto chunk = reader->Next();
    ASSERT_TRUE(chunk.ok());
    if (!chunk->has_value()) break;
    if ((*chunk)->size() <= kBound) continue;
    ++over;
    // The large record alone, with its column family byte, lengths and key.
    EXPECT_LT((*chunk)->size(), 3 * kBound + 200) << "a chunk holds more than the large record";
  }
  EXPECT_EQ(over, 1u);
}

TEST_F(MvccStoreTest, BadRequestsChangeNothing) {
  EXPECT_EQ(Apply(PutReq("", "v")).status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Apply(PutReq(std::string(kMaxKeyBytes + 1, 'k'), "v")).status.code(),
            StatusCode::kInvalidArgument);
  pb::RaftRequest big;
  for (size_t i = 0; i <= kMaxTxnOps; ++i) {
    *big.mutable_txn()->add_success()->mutable_request_range() = RangeReq("k" + std::to_string(i));
  }
  EXPECT_EQ(Apply(big).status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*store_)->revision(), 1);
  EXPECT_EQ((*store_)->applied_index(), index_);
}

TEST(MvccHashTest, SameHistorySameHashAndAnyDifferenceShows) {
  auto replay = [](KvTestStore& store, const std::string& last_value) {
    uint64_t index = 0;
    for (const pb::RaftRequest& r :
         {PutReq("a", "1"), PutReq("b", "1"), PutReq("a", "2"), DeleteReq("b"), PutReq("c", "3"),
          CompactReq(3), PutReq("a", last_value)}) {
      ASSERT_TRUE(store->Apply(++index, r).ok());
    }
  };
  KvTestStore one("hash_one"), two("hash_two"), other("hash_other");
  replay(one, "4");
  replay(two, "4");
  replay(other, "5");
  for (int64_t rev : {0, 3, 4, 6, 7}) {
    auto h1 = one->HashKV(rev), h2 = two->HashKV(rev), h3 = other->HashKV(rev);
    ASSERT_TRUE(h1.ok() && h2.ok() && h3.ok()) << rev;
    EXPECT_EQ(*h1, *h2) << "revision " << rev;
    // The stores differ only in revision 7, the current one.
    if (rev == 0 || rev == 7) {
      EXPECT_NE(*h1, *h3);
    } else {
      EXPECT_EQ(*h1, *h3) << "revision " << rev;
    }
  }
  EXPECT_NE(*one->HashKV(6), *one->HashKV(7)) << "a revision's write must change the hash";
  // It survives a restart unchanged.
  const uint32_t before = *one->HashKV(0);
  one.Reopen();
  EXPECT_EQ(*one->HashKV(0), before);
  EXPECT_EQ(one->HashKV(2).status().code(), StatusCode::kCompacted);
  EXPECT_EQ(one->HashKV(8).status().code(), StatusCode::kFutureRevision);
}

}  // namespace
}  // namespace pharos::kv::testing
