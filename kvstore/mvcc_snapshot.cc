// Snapshot and restore of MvccStore: every column family read at one RocksDB snapshot (so applies
// can go on meanwhile) and streamed as chunks of records [cf:1][key len:4][key][value
// len:4][value].
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <iomanip>
#include <sstream>

#include "kvstore/mvcc_store.h"

namespace pharos::kv {
namespace {

void AppendLen(std::string* out, size_t n) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
}

bool ReadLen(const std::string& in, size_t* pos, size_t* n) {
  if (*pos + 4 > in.size()) return false;
  *n = 0;
  for (int i = 0; i < 4; ++i) *n = (*n << 8) | static_cast<unsigned char>(in[(*pos)++]);
  return *pos + *n <= in.size();
}

// Everything from "" up to any key of ours (keys are at most 17 bytes, or short words).
const std::string kAllKeysEnd(64, '\xff');

class Reader : public MvccStore::SnapshotReader {
 public:
  Reader(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> cfs, size_t chunk_bytes)
      : db_(db), cfs_(std::move(cfs)), chunk_bytes_(chunk_bytes), snapshot_(db->GetSnapshot()) {}
  ~Reader() override {
    it_.reset();
    db_->ReleaseSnapshot(snapshot_);
  }

  Result<std::optional<std::string>> Next() override {
    std::string chunk;
    while (cf_ < cfs_.size()) {
      if (!it_) {
        rocksdb::ReadOptions ro;
        ro.snapshot = snapshot_;
        it_.reset(db_->NewIterator(ro, cfs_[cf_]));
        it_->SeekToFirst();
      }
      for (; it_->Valid(); it_->Next()) {
        // A chunk ends before the record that would take it past chunk_bytes, so only a record
        // larger than that alone makes a larger chunk. Ended after it, a chunk of 511 KiB and a 1.4
        // MiB value went out in a frame the clients refuse, and that store could not be backed up
        // at all.
        const size_t record = 1 + 4 + it_->key().size() + 4 + it_->value().size();
        if (!chunk.empty() && chunk.size() + record > chunk_bytes_) {
          return std::optional<std::string>(std::move(chunk));
        }
        chunk.push_back(static_cast<char>(cf_));
        AppendLen(&chunk, it_->key().size());
        chunk.append(it_->key().data(), it_->key().size());
        AppendLen(&chunk, it_->value().size());
        chunk.append(it_->value().data(), it_->value().size());
      }
      if (!it_->status().ok()) return Status::IoError("snapshot read: " + it_->status().ToString());
      it_.reset();
      ++cf_;
    }
    if (chunk.empty() && done_) return std::optional<std::string>();
    done_ = true;
    // The last chunk may be empty; it still marks that the stream ended cleanly.
    return std::optional<std::string>(std::move(chunk));
  }

 private:
  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  size_t chunk_bytes_;
  const rocksdb::Snapshot* snapshot_;
  size_t cf_ = 0;
  std::unique_ptr<rocksdb::Iterator> it_;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<MvccStore::SnapshotReader> MvccStore::CreateSnapshot(size_t chunk_bytes) const {
  return std::make_unique<Reader>(
      db_, std::vector<rocksdb::ColumnFamilyHandle*>{cf_.kv, cf_.meta, cf_.lease}, chunk_bytes);
}

Status MvccStore::Restore(const std::vector<std::string>& chunks,
                          const rocksdb::WriteBatch* also_write) {
  rocksdb::ColumnFamilyHandle* cfs[] = {cf_.kv, cf_.meta, cf_.lease};
  rocksdb::WriteBatch batch = also_write ? *also_write : rocksdb::WriteBatch();
  for (rocksdb::ColumnFamilyHandle* cf : cfs) batch.DeleteRange(cf, "", kAllKeysEnd);
  for (const std::string& chunk : chunks) {
    size_t pos = 0;
    while (pos < chunk.size()) {
      const unsigned cf = static_cast<unsigned char>(chunk[pos++]);
      size_t klen = 0, vlen = 0;
      if (cf >= 3 || !ReadLen(chunk, &pos, &klen)) return Status::Corruption("snapshot record");
      const std::string key = chunk.substr(pos, klen);
      pos += klen;
      if (!ReadLen(chunk, &pos, &vlen)) return Status::Corruption("snapshot record");
      batch.Put(cfs[cf], key, rocksdb::Slice(chunk.data() + pos, vlen));
      pos += vlen;
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return Status::IoError("restoring snapshot: " + s.ToString());
  return Load();
}

std::string MvccStore::DebugDump() const {
  std::ostringstream os;
  const char* names[] = {"kv", "meta", "lease"};
  rocksdb::ColumnFamilyHandle* cfs[] = {cf_.kv, cf_.meta, cf_.lease};
  for (int i = 0; i < 3; ++i) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      os << names[i] << " ";
      for (char c : it->key().ToString()) {
        os << std::hex << std::setw(2) << std::setfill('0')
           << static_cast<int>(static_cast<unsigned char>(c));
      }
      os << std::dec << " = ";
      if (i == 0) {
        pb::KeyValue kv;
        kv.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
        os << kv.ShortDebugString();
      } else if (i == 2) {
        pb::LeaseRecord r;
        r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
        os << r.ShortDebugString();
      } else {
        for (char c : it->value().ToString()) {
          os << std::hex << std::setw(2) << std::setfill('0')
             << static_cast<int>(static_cast<unsigned char>(c));
        }
        os << std::dec;
      }
      os << "\n";
    }
  }
  os << "revision " << revision_ << " compact " << compact_revision_ << " applied " << applied_
     << "\n";
  return os.str();
}

}  // namespace pharos::kv
