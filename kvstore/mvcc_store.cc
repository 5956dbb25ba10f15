#include "kvstore/mvcc_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <sstream>

namespace pharos::kv {
namespace {

constexpr char kAppliedKey[] = "applied";
constexpr char kRevisionKey[] = "revision";
constexpr char kCompactKey[] = "compact";
constexpr char kTombstoneMark = 't';

uint64_t ReadBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void WriteBE64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xff);
}

// A revision's key in the KV family: main and sub big-endian, then a mark on a tombstone. Built on
// the stack: as a std::string its 16 bytes are past the short-string buffer, an allocation for
// every value a read fetches.
class RevKeyBytes {
 public:
  RevKeyBytes(Revision rev, bool tombstone) : size_(tombstone ? 17 : 16) {
    WriteBE64(bytes_, static_cast<uint64_t>(rev.main));
    WriteBE64(bytes_ + 8, static_cast<uint64_t>(rev.sub));
    if (tombstone) bytes_[16] = kTombstoneMark;
  }
  rocksdb::Slice slice() const { return rocksdb::Slice(bytes_, size_); }

 private:
  char bytes_[17];
  size_t size_;
};

std::string RevKey(Revision rev, bool tombstone = false) {
  return RevKeyBytes(rev, tombstone).slice().ToString();
}

std::string U64(uint64_t v) {
  std::string s(8, '\0');
  WriteBE64(s.data(), v);
  return s;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

Status Error(StatusCode code, std::string message) { return Status(code, std::move(message)); }

// A range given as (key, range_end): the keys it covers are [key, end) where end is empty for
// "no upper bound".
struct KeyRange {
  std::string begin;
  std::string end;
  bool single;
};

KeyRange ToRange(const std::string& key, const std::string& range_end) {
  if (range_end.empty()) return {key, "", true};
  if (range_end == std::string(1, '\0')) return {key, "", false};
  return {key, range_end, false};
}

bool Compare(const pb::Compare& c, const pb::KeyValue* kv) {
  int cmp = 0;
  switch (c.target()) {
    case pb::Compare::VALUE: {
      if (kv == nullptr) return false;  // a missing key has no value to compare
      cmp = kv->value().compare(c.value());
      break;
    }
    case pb::Compare::VERSION: {
      const int64_t v = kv ? kv->version() : 0;
      cmp = v < c.version() ? -1 : v > c.version() ? 1 : 0;
      break;
    }
    case pb::Compare::CREATE: {
      const int64_t v = kv ? kv->create_revision() : 0;
      cmp = v < c.create_revision() ? -1 : v > c.create_revision() ? 1 : 0;
      break;
    }
    case pb::Compare::MOD: {
      const int64_t v = kv ? kv->mod_revision() : 0;
      cmp = v < c.mod_revision() ? -1 : v > c.mod_revision() ? 1 : 0;
      break;
    }
    case pb::Compare::LEASE: {
      const int64_t v = kv ? kv->lease() : 0;
      cmp = v < c.lease() ? -1 : v > c.lease() ? 1 : 0;
      break;
    }
    default:
      return false;
  }
  switch (c.result()) {
    case pb::Compare::EQUAL:
      return cmp == 0;
    case pb::Compare::NOT_EQUAL:
      return cmp != 0;
    case pb::Compare::GREATER:
      return cmp > 0;
    case pb::Compare::LESS:
      return cmp < 0;
    default:
      return false;
  }
}

}  // namespace

bool InRange(const std::string& key, const std::string& start, const std::string& range_end) {
  const KeyRange r = ToRange(start, range_end);
  if (r.single) return key == r.begin;
  return key >= r.begin && (r.end.empty() || key < r.end);
}

// One write transaction: every change of one Apply shares its main revision.
class MvccStore::WriteTxn {
 public:
  explicit WriteTxn(MvccStore* store)
      : s_(store),
        main_(store->revision_ + 1),
        batch_(store->open_batch_ ? store->open_batch_.get() : &own_batch_) {}

  bool changed() const { return sub_ > 0; }
  int64_t read_revision() const { return changed() ? main_ : s_->revision_; }
  int64_t revision_after() const { return read_revision(); }

  void Put(const pb::PutRequest& req, pb::PutResponse* resp) {
    KeyIndex& ki = s_->index_.FindOrAdd(req.key());
    const bool live = ki.Live();
    const bool want_prev = live && (s_->prev_kv_in_events_ || (resp && req.prev_kv()) ||
                                    req.ignore_value() || req.ignore_lease());
    pb::KeyValue prev;
    if (want_prev) prev = Read(*ki.Get(INT64_MAX), false);
    pb::KeyValue kv;
    kv.set_key(req.key());
    kv.set_value(req.ignore_value() ? prev.value() : req.value());
    kv.set_lease(req.ignore_lease() ? prev.lease() : req.lease());
    kv.set_create_revision(live ? ki.created() : main_);
    kv.set_version(live ? ki.version() + 1 : 1);
    kv.set_mod_revision(main_);
    const Revision rev{main_, sub_++};
    const int64_t old_lease = live ? ki.lease() : 0;
    if (!live) ++s_->live_keys_;
    batch_->Put(s_->cf_.kv, RevKey(rev), kv.SerializeAsString());
    pending_[rev] = kv;
    ki.Put(rev, kv.create_revision(), kv.version(), kv.lease());
    if (old_lease != kv.lease()) {
      if (old_lease != 0) s_->leases_[old_lease].keys.erase(req.key());
      if (kv.lease() != 0) s_->leases_[kv.lease()].keys.insert(req.key());
    }
    pb::Event& ev = events_.emplace_back();
    ev.set_type(pb::Event::PUT);
    *ev.mutable_kv() = kv;
    if (want_prev && s_->prev_kv_in_events_) *ev.mutable_prev_kv() = prev;
    if (resp && req.prev_kv() && live) *resp->mutable_prev_kv() = prev;
    // Inside a txn each response carries the revision it saw, as etcd's do: a put makes the new
    // one.
    if (resp) resp->mutable_header()->set_revision(main_);
  }

  int64_t DeleteRange(const std::string& key, const std::string& range_end,
                      bool want_prev_in_response, pb::DeleteRangeResponse* resp) {
    int64_t deleted = 0;
    for (auto& [k, rev] : s_->KeysAt(key, range_end, read_revision())) {
      const std::string name = *k;
      KeyIndex& ki = s_->index_.FindOrAdd(name);
      const bool want_prev = s_->prev_kv_in_events_ || (resp && want_prev_in_response);
      const pb::KeyValue prev = want_prev ? Read(rev, false) : pb::KeyValue();
      const Revision tomb{main_, sub_++};
      pb::KeyValue marker;
      marker.set_key(name);
      marker.set_mod_revision(main_);
      batch_->Put(s_->cf_.kv, RevKey(tomb, true), marker.SerializeAsString());
      const int64_t lease = ki.lease();
      ki.Tombstone(tomb);
      --s_->live_keys_;
      if (lease != 0) s_->leases_[lease].keys.erase(name);
      pb::Event& ev = events_.emplace_back();
      ev.set_type(pb::Event::DELETE);
      *ev.mutable_kv() = marker;
      if (s_->prev_kv_in_events_) *ev.mutable_prev_kv() = prev;
      if (resp && want_prev_in_response) *resp->add_prev_kvs() = prev;
      ++deleted;
    }
    if (resp) {
      resp->set_deleted(deleted);
      // The new revision once this txn changed anything, else the one it started from.
      resp->mutable_header()->set_revision(read_revision());
    }
    return deleted;
  }

  // A value this transaction needs (a previous value, one a put keeps). A storage error is kept
  // for Apply to return: writing on without the value ("" for ignore_value, lease 0 for
  // ignore_lease) would make this member's state differ from the others'.
  pb::KeyValue Read(Revision rev, bool tombstone) {
    auto it = pending_.find(rev);
    if (it != pending_.end()) return it->second;
    auto kv = s_->ReadRevision(rev, tombstone);
    if (!kv.ok()) {
      if (read_error_.ok()) read_error_ = kv.status();
      return pb::KeyValue();
    }
    return *kv;
  }
  // The first storage error a read met; the transaction must then not be written.
  const Status& read_error() const { return read_error_; }

  rocksdb::WriteBatch& batch() { return *batch_; }
  std::vector<pb::Event>& events() { return events_; }
  const std::map<Revision, pb::KeyValue>& pending() const { return pending_; }
  std::map<Revision, pb::KeyValue> TakePending() { return std::move(pending_); }

 private:
  MvccStore* s_;
  int64_t main_;
  int64_t sub_ = 0;
  rocksdb::WriteBatch own_batch_;
  // The store's open batch if there is one, else own_batch_.
  rocksdb::WriteBatch* batch_;
  std::map<Revision, pb::KeyValue> pending_;
  std::vector<pb::Event> events_;
  Status read_error_;
};

MvccStore::MvccStore(rocksdb::DB* db, Families families) : db_(db), cf_(families) {}
MvccStore::~MvccStore() = default;

Result<std::unique_ptr<MvccStore>> MvccStore::Open(rocksdb::DB* db, Families families) {
  std::unique_ptr<MvccStore> store(new MvccStore(db, families));
  if (Status s = store->Load(); !s.ok()) return s;
  return store;
}

Status MvccStore::Load() {
  index_.clear();
  leases_.clear();
  revision_ = compact_revision_ = 0;
  applied_ = 0;
  std::string value;
  auto read_u64 = [&](const char* key, uint64_t* out) -> Status {
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_.meta, key, &value);
    if (s.IsNotFound()) return Status::Ok();
    if (!s.ok()) return FromRocks(s, std::string("reading ") + key);
    if (value.size() != 8) return Status::Corruption(std::string("kv meta ") + key);
    *out = ReadBE64(value.data());
    return Status::Ok();
  };
  uint64_t rev = 0, compact = 0;
  if (Status s = read_u64(kAppliedKey, &applied_); !s.ok()) return s;
  if (Status s = read_u64(kRevisionKey, &rev); !s.ok()) return s;
  if (Status s = read_u64(kCompactKey, &compact); !s.ok()) return s;
  // A new store is at revision 1, as etcd's is: its first write makes revision 2, and clients
  // moving from etcd see the same revisions for the same history.
  revision_ = std::max<int64_t>(1, static_cast<int64_t>(rev));
  compact_revision_ = static_cast<int64_t>(compact);

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.kv));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() != 16 && k.size() != 17) return Status::Corruption("kv key of bad length");
    const Revision r{static_cast<int64_t>(ReadBE64(k.data())),
                     static_cast<int64_t>(ReadBE64(k.data() + 8))};
    if (r.sub < 0 || r.sub > KeyIndex::kMaxSub) {
      return Status::Corruption("kv key with a bad sub revision at revision " +
                                std::to_string(r.main));
    }
    pb::KeyValue kv;
    if (!kv.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Status::Corruption("kv value at revision " + std::to_string(r.main));
    }
    KeyIndex& ki = index_.FindOrAdd(kv.key());
    if (k.size() == 17) {
      ki.Tombstone(r);
    } else {
      ki.Put(r, kv.create_revision(), kv.version(), kv.lease());
    }
    revision_ = std::max(revision_, r.main);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning kv");

  std::unique_ptr<rocksdb::Iterator> lit(db_->NewIterator(rocksdb::ReadOptions(), cf_.lease));
  for (lit->SeekToFirst(); lit->Valid(); lit->Next()) {
    pb::LeaseRecord rec;
    if (!rec.ParseFromArray(lit->value().data(), static_cast<int>(lit->value().size()))) {
      return Status::Corruption("lease record");
    }
    leases_[rec.id()].ttl = rec.ttl();
  }
  if (!lit->status().ok()) return FromRocks(lit->status(), "scanning leases");
  live_keys_ = 0;
  for (auto& [key, ki] : index_) {
    if (ki.Live()) ++live_keys_;
    if (ki.Live() && ki.lease() != 0) {
      auto l = leases_.find(ki.lease());
      if (l != leases_.end()) l->second.keys.insert(key);
    }
  }
  return Status::Ok();
}

Result<pb::KeyValue> MvccStore::ReadRevision(Revision rev, bool tombstone) const {
  if (pending_ != nullptr) {
    auto it = pending_->find(rev);
    if (it != pending_->end()) return it->second;
  }
  if (!tombstone) {
    auto it = unwritten_.find(rev);
    if (it != unwritten_.end()) return it->second;
  }
  // Pinned where it lies (a block in the cache, a memtable), not copied out first.
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_.kv, RevKeyBytes(rev, tombstone).slice(), &value);
  if (!s.ok()) return FromRocks(s, "reading revision " + std::to_string(rev.main));
  pb::KeyValue kv;
  if (!kv.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return Status::Corruption("kv value");
  }
  return kv;
}

std::vector<std::pair<const std::string*, Revision>> MvccStore::KeysAt(const std::string& key,
                                                                       const std::string& range_end,
                                                                       int64_t at) const {
  std::vector<std::pair<const std::string*, Revision>> out;
  const KeyRange r = ToRange(key, range_end);
  if (r.single) {
    if (const KeyTable::Entry* e = index_.Find(key)) {
      if (auto rev = e->second.Get(at)) out.emplace_back(&e->first, *rev);
    }
    return out;
  }
  for (auto it = index_.lower_bound(r.begin); it != index_.end(); ++it) {
    if (!r.end.empty() && it->first >= r.end) break;
    if (auto rev = it->second.Get(at)) out.emplace_back(&it->first, *rev);
  }
  return out;
}

Result<pb::RangeResponse> MvccStore::Range(const pb::RangeRequest& req) const {
  return RangeAt(req, revision_);
}

Result<pb::RangeResponse> MvccStore::RangeAt(const pb::RangeRequest& req, int64_t current) const {
  if (req.key().empty()) return Error(StatusCode::kInvalidArgument, "key is not provided");
  // As etcd documents it: a revision of zero or less reads the newest state.
  const int64_t at = req.revision() <= 0 ? current : req.revision();
  if (at > current) {
    return Error(StatusCode::kFutureRevision, "revision " + std::to_string(at) +
                                                  " is beyond the current revision " +
                                                  std::to_string(current));
  }
  if (at < compact_revision_) {
    return Error(StatusCode::kCompacted, "revision " + std::to_string(at) +
                                             " has been compacted (compacted revision " +
                                             std::to_string(compact_revision_) + ")");
  }
  pb::RangeResponse resp;
  resp.mutable_header()->set_revision(current);
  const auto keys = KeysAt(req.key(), req.range_end(), at);
  resp.set_count(static_cast<int64_t>(keys.size()));
  if (req.count_only()) return resp;
  size_t n = keys.size();
  if (req.limit() > 0 && static_cast<size_t>(req.limit()) < n) {
    n = static_cast<size_t>(req.limit());
    resp.set_more(true);
  }
  for (size_t i = 0; i < n; ++i) {
    auto kv = ReadRevision(keys[i].second, false);
    if (!kv.ok()) return kv.status();
    pb::KeyValue* out = resp.add_kvs();
    *out = std::move(*kv);
    if (req.keys_only()) out->clear_value();
  }
  return resp;
}

Status MvccStore::CheckRequest(const pb::RaftRequest& request) const {
  auto check_key = [](const std::string& key) -> Status {
    if (key.empty()) return Error(StatusCode::kInvalidArgument, "key is not provided");
    if (key.size() > kMaxKeyBytes) {
      return Error(StatusCode::kInvalidArgument,
                   "key is larger than " + std::to_string(kMaxKeyBytes) + " bytes");
    }
    return Status::Ok();
  };
  auto check_put = [&](const pb::PutRequest& p) -> Status {
    if (Status s = check_key(p.key()); !s.ok()) return s;
    if (p.ignore_value() && !p.value().empty()) {
      return Error(StatusCode::kInvalidArgument, "value is provided with ignore_value");
    }
    if (p.ignore_lease() && p.lease() != 0) {
      return Error(StatusCode::kInvalidArgument, "lease is provided with ignore_lease");
    }
    return Status::Ok();
  };
  auto check_ops = [&](const google::protobuf::RepeatedPtrField<pb::RequestOp>& ops) -> Status {
    std::set<std::string> puts;
    std::vector<std::pair<std::string, std::string>> deletes;
    for (const pb::RequestOp& op : ops) {
      switch (op.request_case()) {
        case pb::RequestOp::kRequestPut:
          if (Status s = check_put(op.request_put()); !s.ok()) return s;
          if (!puts.insert(op.request_put().key()).second) {
            return Error(StatusCode::kInvalidArgument, "duplicate key given in txn request");
          }
          break;
        case pb::RequestOp::kRequestDeleteRange:
          if (Status s = check_key(op.request_delete_range().key()); !s.ok()) return s;
          deletes.emplace_back(op.request_delete_range().key(),
                               op.request_delete_range().range_end());
          break;
        case pb::RequestOp::kRequestRange:
          if (Status s = check_key(op.request_range().key()); !s.ok()) return s;
          break;
        default:
          return Error(StatusCode::kInvalidArgument, "empty operation in txn request");
      }
    }
    for (const auto& [k, end] : deletes) {
      for (const std::string& p : puts) {
        if (InRange(p, k, end)) {
          return Error(StatusCode::kInvalidArgument, "duplicate key given in txn request");
        }
      }
    }
    return Status::Ok();
  };
  switch (request.request_case()) {
    case pb::RaftRequest::kPut:
      return check_put(request.put());
    case pb::RaftRequest::kDeleteRange:
      return check_key(request.delete_range().key());
    case pb::RaftRequest::kTxn: {
      const pb::TxnRequest& txn = request.txn();
      if (static_cast<size_t>(txn.compare_size() + txn.success_size() + txn.failure_size()) >
          kMaxTxnOps) {
        return Error(StatusCode::kInvalidArgument, "too many operations in txn request (limit " +
                                                       std::to_string(kMaxTxnOps) + ")");
      }
      for (const pb::Compare& c : txn.compare()) {
        if (Status s = check_key(c.key()); !s.ok()) return s;
      }
      if (Status s = check_ops(txn.success()); !s.ok()) return s;
      return check_ops(txn.failure());
    }
    case pb::RaftRequest::kCompaction:
    case pb::RaftRequest::kLeaseGrant:
    case pb::RaftRequest::kLeaseRevoke:
      return Status::Ok();
    default:
      return Error(StatusCode::kInvalidArgument, "empty request");
  }
}

Status MvccStore::FinishWrite(rocksdb::WriteBatch* batch, uint64_t index, int64_t revision) {
  batch->Put(cf_.meta, kAppliedKey, U64(index));
  batch->Put(cf_.meta, kRevisionKey, U64(static_cast<uint64_t>(revision)));
  // In an open batch it goes to RocksDB with the rest of the batch, at CommitBatch.
  if (batch != open_batch_.get()) {
    if (Status s = WriteKv(batch); !s.ok()) return s;
  }
  applied_ = index;
  revision_ = revision;
  return Status::Ok();
}

Status MvccStore::WriteKv(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions wo;  // WAL on, not synced: the synced Raft log write carries it
  return FromRocks(db_->Write(wo, batch), "applying to kv");
}

Status MvccStore::ApplyNoop(uint64_t index) {
  rocksdb::WriteBatch batch;
  return FinishWrite(open_batch_ ? open_batch_.get() : &batch, index, revision_);
}

void MvccStore::BeginBatch() {
  if (!open_batch_) open_batch_ = std::make_unique<rocksdb::WriteBatch>();
}

Status MvccStore::CommitBatch() {
  if (!open_batch_) return Status::Ok();
  std::unique_ptr<rocksdb::WriteBatch> batch = std::move(open_batch_);
  unwritten_.clear();
  if (batch->Count() == 0) return Status::Ok();
  return WriteKv(batch.get());
}

Result<ApplyResult> MvccStore::Apply(uint64_t index, const pb::RaftRequest& request) {
  ApplyResult result;
  if (index <= applied_) {
    // Already applied before a restart: replaying it must change nothing.
    result.status =
        Status::FailedPrecondition("entry " + std::to_string(index) + " was already applied");
    result.revision = revision_;
    return result;
  }
  auto answer_error = [&](Status s) -> Result<ApplyResult> {
    if (Status w = ApplyNoop(index); !w.ok()) return w;
    result.status = std::move(s);
    result.revision = revision_;
    return result;
  };
  if (Status s = CheckRequest(request); !s.ok()) return answer_error(std::move(s));

  auto lease_known = [&](const pb::PutRequest& p) {
    return p.lease() == 0 || leases_.count(p.lease());
  };
  auto key_exists = [&](const std::string& k) {
    const KeyTable::Entry* e = index_.Find(k);
    return e != nullptr && e->second.Live();
  };
  // Everything that can refuse a put is checked before anything changes, and in etcd's order,
  // so that a put wrong in two ways fails the same way on both: on its own, an unknown lease is
  // found first; in a txn, a missing key (ignore_value, ignore_lease) is.
  auto check_put_now = [&](const pb::PutRequest& p, bool in_txn) -> Status {
    const bool key_missing = (p.ignore_value() || p.ignore_lease()) && !key_exists(p.key());
    if (in_txn && key_missing) return Error(StatusCode::kNotFound, "key not found");
    if (!lease_known(p)) {
      return Error(StatusCode::kLeaseNotFound, "lease " + std::to_string(p.lease()) + " not found");
    }
    if (key_missing) return Error(StatusCode::kNotFound, "key not found");
    return Status::Ok();
  };

  WriteTxn txn(this);
  rocksdb::WriteBatch* batch = &txn.batch();
  int64_t new_compact = 0;
  switch (request.request_case()) {
    case pb::RaftRequest::kPut: {
      if (Status s = check_put_now(request.put(), false); !s.ok()) {
        return answer_error(std::move(s));
      }
      txn.Put(request.put(), result.response.mutable_put());
      break;
    }
    case pb::RaftRequest::kDeleteRange: {
      const auto& d = request.delete_range();
      txn.DeleteRange(d.key(), d.range_end(), d.prev_kv(), result.response.mutable_delete_range());
      break;
    }
    case pb::RaftRequest::kTxn: {
      const pb::TxnRequest& t = request.txn();
      bool ok = true;
      for (const pb::Compare& c : t.compare()) {
        const auto keys = KeysAt(c.key(), c.range_end(), revision_);
        if (keys.empty()) {
          ok = ok && Compare(c, nullptr);
        }
        for (const auto& [k, rev] : keys) {
          auto kv = ReadRevision(rev, false);
          if (!kv.ok()) return kv.status();
          ok = ok && Compare(c, &*kv);
        }
        if (!ok) break;
      }
      const auto& ops = ok ? t.success() : t.failure();
      // The branch's puts first, then its ranges, as etcd checks them: a txn wrong in both ways
      // fails the same way on both.
      for (const pb::RequestOp& op : ops) {
        if (!op.has_request_put()) continue;
        if (Status s = check_put_now(op.request_put(), true); !s.ok()) {
          return answer_error(std::move(s));
        }
      }
      for (const pb::RequestOp& op : ops) {
        if (!op.has_request_range()) continue;
        const int64_t rev = op.request_range().revision();
        if (rev > revision_) {
          return answer_error(Error(StatusCode::kFutureRevision, "revision in the future"));
        }
        if (rev > 0 && rev < compact_revision_) {
          return answer_error(Error(StatusCode::kCompacted, "revision has been compacted"));
        }
      }
      pb::TxnResponse* tr = result.response.mutable_txn();
      tr->set_succeeded(ok);
      for (const pb::RequestOp& op : ops) {
        pb::ResponseOp* out = tr->add_responses();
        if (op.has_request_put()) {
          txn.Put(op.request_put(), out->mutable_response_put());
        } else if (op.has_request_delete_range()) {
          const auto& d = op.request_delete_range();
          txn.DeleteRange(d.key(), d.range_end(), d.prev_kv(),
                          out->mutable_response_delete_range());
        } else {
          // A range inside a txn sees the txn's own earlier writes.
          pending_ = &txn.pending();
          auto r = RangeAt(op.request_range(), txn.read_revision());
          pending_ = nullptr;
          if (!r.ok()) return r.status();
          *out->mutable_response_range() = std::move(*r);
        }
      }
      break;
    }
    case pb::RaftRequest::kCompaction: {
      const int64_t rev = request.compaction().revision();
      if (rev > revision_) {
        return answer_error(Error(
            StatusCode::kFutureRevision,
            "compaction revision " + std::to_string(rev) + " is beyond the current revision"));
      }
      if (rev <= compact_revision_) {
        return answer_error(Error(StatusCode::kCompacted,
                                  "revision " + std::to_string(rev) + " is already compacted"));
      }
      std::vector<std::pair<Revision, bool>> obsolete;
      for (auto it = index_.begin(); it != index_.end();) {
        if (it->second.Compact(rev, &obsolete)) {
          it = index_.erase(it);
        } else {
          ++it;
        }
      }
      for (const auto& [r, tomb] : obsolete) batch->Delete(cf_.kv, RevKey(r, tomb));
      batch->Put(cf_.meta, kCompactKey, U64(static_cast<uint64_t>(rev)));
      new_compact = rev;
      result.response.mutable_compaction();
      break;
    }
    case pb::RaftRequest::kLeaseGrant: {
      const auto& g = request.lease_grant();
      if (g.ttl() <= 0) {
        return answer_error(Error(StatusCode::kInvalidArgument, "lease TTL must be positive"));
      }
      // The server refuses these before proposing; an entry already in a log is refused here,
      // the same way on every member.
      if (g.ttl() > kMaxLeaseTtlSeconds) {
        return answer_error(Error(StatusCode::kInvalidArgument, kTooLargeLeaseTtl));
      }
      int64_t id = g.id();
      if (id < 0) return answer_error(Error(StatusCode::kInvalidArgument, "negative lease id"));
      if (id != 0 && leases_.count(id)) {
        return answer_error(
            Error(StatusCode::kFailedPrecondition, "lease " + std::to_string(id) + " exists"));
      }
      if (id == 0) {
        // Derived from the entry's index, so every replica picks the same id.
        id = static_cast<int64_t>(index);
        while (leases_.count(id)) ++id;
      }
      pb::LeaseRecord rec;
      rec.set_id(id);
      rec.set_ttl(g.ttl());
      batch->Put(cf_.lease, U64(static_cast<uint64_t>(id)), rec.SerializeAsString());
      leases_[id].ttl = g.ttl();
      result.response.mutable_lease_grant()->set_id(id);
      result.response.mutable_lease_grant()->set_ttl(g.ttl());
      break;
    }
    case pb::RaftRequest::kLeaseRevoke: {
      const int64_t id = request.lease_revoke().id();
      auto it = leases_.find(id);
      if (it == leases_.end()) {
        return answer_error(
            Error(StatusCode::kLeaseNotFound, "lease " + std::to_string(id) + " not found"));
      }
      // Its keys go in one revision, together.
      const std::vector<std::string> keys(it->second.keys.begin(), it->second.keys.end());
      for (const std::string& k : keys) txn.DeleteRange(k, "", false, nullptr);
      batch->Delete(cf_.lease, U64(static_cast<uint64_t>(id)));
      leases_.erase(id);
      result.response.mutable_lease_revoke();
      break;
    }
    default:
      return answer_error(Error(StatusCode::kInvalidArgument, "empty request"));
  }
  // As a failed read in a txn's compare: the store is unusable until reopened, and the apply
  // thread stops the node.
  if (!txn.read_error().ok()) return txn.read_error();
  const int64_t new_revision = txn.revision_after();
  if (Status s = FinishWrite(batch, index, new_revision); !s.ok()) return s;
  if (open_batch_) unwritten_.merge(txn.TakePending());
  if (new_compact != 0) compact_revision_ = new_compact;
  result.events = std::move(txn.events());
  result.revision = revision_;
  SetHeaderRevision(&result.response, revision_);
  return result;
}

void MvccStore::SetHeaderRevision(pb::RaftResponse* r, int64_t revision) {
  switch (r->response_case()) {
    case pb::RaftResponse::kPut:
      r->mutable_put()->mutable_header()->set_revision(revision);
      break;
    case pb::RaftResponse::kDeleteRange:
      r->mutable_delete_range()->mutable_header()->set_revision(revision);
      break;
    case pb::RaftResponse::kTxn:
      r->mutable_txn()->mutable_header()->set_revision(revision);
      break;
    case pb::RaftResponse::kCompaction:
      r->mutable_compaction()->mutable_header()->set_revision(revision);
      break;
    case pb::RaftResponse::kLeaseGrant:
      r->mutable_lease_grant()->mutable_header()->set_revision(revision);
      break;
    case pb::RaftResponse::kLeaseRevoke:
      r->mutable_lease_revoke()->mutable_header()->set_revision(revision);
      break;
    default:
      break;
  }
}

Result<std::vector<RevisionEvents>> MvccStore::History(int64_t from, int64_t to,
                                                       const std::string& key,
                                                       const std::string& range_end,
                                                       size_t max_revisions) const {
  if (from <= compact_revision_) {
    return Error(StatusCode::kCompacted, "revision " + std::to_string(from) +
                                             " has been compacted (compacted revision " +
                                             std::to_string(compact_revision_) + ")");
  }
  std::vector<RevisionEvents> out;
  to = std::min(to, revision_);
  if (from > to) return out;
  rocksdb::ReadOptions ro;
  const std::string upper = RevKey({to + 1, 0});
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_.kv));
  for (it->Seek(RevKey({from, 0})); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    const int64_t main = static_cast<int64_t>(ReadBE64(k.data()));
    pb::KeyValue kv;
    if (!kv.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Status::Corruption("kv value at revision " + std::to_string(main));
    }
    if (!InRange(kv.key(), key, range_end)) continue;
    if (out.empty() || out.back().revision != main) {
      if (out.size() == max_revisions) break;
      out.push_back({main, {}});
    }
    pb::Event& ev = out.back().events.emplace_back();
    const bool tombstone = k.size() == 17;
    ev.set_type(tombstone ? pb::Event::DELETE : pb::Event::PUT);
    // The value before this revision, for watchers that asked for it.
    if (const KeyTable::Entry* ki = index_.Find(kv.key())) {
      if (auto prev = ki->second.Get(main - 1)) {
        auto prev_kv = ReadRevision(*prev, false);
        if (prev_kv.ok()) *ev.mutable_prev_kv() = std::move(*prev_kv);
      }
    }
    *ev.mutable_kv() = std::move(kv);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading kv history");
  return out;
}

std::vector<pb::LeaseRecord> MvccStore::Leases() const {
  std::vector<pb::LeaseRecord> out;
  for (const auto& [id, l] : leases_) {
    pb::LeaseRecord& r = out.emplace_back();
    r.set_id(id);
    r.set_ttl(l.ttl);
  }
  return out;
}

std::optional<pb::LeaseRecord> MvccStore::Lease(int64_t id) const {
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  pb::LeaseRecord r;
  r.set_id(id);
  r.set_ttl(it->second.ttl);
  return r;
}

std::vector<std::string> MvccStore::LeaseKeys(int64_t id) const {
  auto it = leases_.find(id);
  if (it == leases_.end()) return {};
  return {it->second.keys.begin(), it->second.keys.end()};
}

}  // namespace pharos::kv
