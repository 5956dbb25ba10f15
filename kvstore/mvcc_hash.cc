// MvccStore::HashKV: a hash of the stored history up to a revision, as etcd's HashKV, so members
// (and fault-injection runs) can check they hold the same state. Every member compacts at the same
// revisions in the same order, so two members with equal compact revisions must agree on the hash
// of any revision both have reached; a difference is divergence.
#include <rocksdb/db.h>

#include "kvstore/mvcc_store.h"

namespace pharos::kv {
namespace {

// FNV-1a, 64-bit, folded to the 32 bits the protocol carries. Not cryptographic: it detects
// divergence, it does not resist an adversary.
class Fnv1a {
 public:
  void Add(const rocksdb::Slice& bytes) {
    // The length first, so ("ab", "c") and ("a", "bc") differ.
    const uint64_t n = bytes.size();
    for (int i = 0; i < 8; ++i) Byte(static_cast<unsigned char>(n >> (8 * i)));
    for (size_t i = 0; i < bytes.size(); ++i) Byte(static_cast<unsigned char>(bytes[i]));
  }
  uint32_t Folded() const { return static_cast<uint32_t>(h_ ^ (h_ >> 32)); }

 private:
  void Byte(unsigned char c) {
    h_ ^= c;
    h_ *= 1099511628211ULL;
  }
  uint64_t h_ = 1469598103934665603ULL;
};

}  // namespace

Result<uint32_t> MvccStore::HashKV(int64_t revision) const {
  if (revision == 0) revision = revision_;
  if (revision > revision_) {
    return Status(StatusCode::kFutureRevision,
                  "revision " + std::to_string(revision) + " is beyond the current revision");
  }
  if (revision < compact_revision_) {
    return Status(StatusCode::kCompacted, "revision " + std::to_string(revision) +
                                              " is compacted (compacted to " +
                                              std::to_string(compact_revision_) + ")");
  }
  Fnv1a hash;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.kv));
  // Keys are the big-endian revision (main, sub) [+ tombstone mark]: in revision order.
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() < 16) return Status::Corruption("kv key of " + std::to_string(key.size()));
    int64_t main = 0;
    for (int i = 0; i < 8; ++i) main = (main << 8) | static_cast<unsigned char>(key[i]);
    if (main > revision) break;
    hash.Add(key);
    hash.Add(it->value());
  }
  if (!it->status().ok()) return Status::IoError("hashing: " + it->status().ToString());
  return hash.Folded();
}

}  // namespace pharos::kv
