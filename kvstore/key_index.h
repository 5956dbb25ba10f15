// KeyIndex: the revisions at which one key changed, grouped in generations (a generation runs from
// a key's creation to its deletion), as etcd's mvcc index keeps them. The values live in RocksDB
// under the revision; this index says which revision a read at some revision must fetch.
// Single-threaded (owned by MvccStore).
//
// There is one per key, all in memory, so its size is most of a node's memory beyond RocksDB's
// (PERFORMANCE.md): the generations are one flat list of revisions in which a tombstone ends a
// generation, only the open generation's create revision, version and lease are kept (a read at
// a past revision gets them from the stored value), and the first revision lives inline, since
// most keys change once between compactions. 56 bytes per key written once, no allocation of
// its own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace pharos::kv {

struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  friend auto operator<=>(const Revision&, const Revision&) = default;
};

class KeyIndex {
 public:
  KeyIndex() = default;
  KeyIndex(KeyIndex&&) noexcept = default;
  KeyIndex& operator=(KeyIndex&&) noexcept = default;

  // The key was written at `rev`; `created`, `version` and `lease` are what the new value records.
  void Put(Revision rev, int64_t created, int64_t version, int64_t lease);
  // The key was deleted at `rev`: closes the current generation.
  void Tombstone(Revision rev);

  // The revision holding the key's value as of main revision `at`, if the key existed then.
  std::optional<Revision> Get(int64_t at) const;
  // Whether the key exists now, and its create revision and version if so.
  bool Live() const;
  int64_t created() const;
  int64_t version() const;
  int64_t lease() const;

  // Forgets what reads at revisions >= `at` no longer need. Appends to `obsolete` the revisions
  // whose stored values (or tombstones) may be deleted. Returns true when nothing remains.
  bool Compact(int64_t at, std::vector<std::pair<Revision, bool>>* obsolete);

 private:
  struct Entry {
    int64_t main = 0;
    int32_t sub = 0;  // the change's number within its revision (a txn op, a deleted key)
    bool tombstone = false;
    Revision revision() const { return {main, sub}; }
  };

  size_t size() const { return size_; }
  const Entry& at(size_t i) const { return i == 0 ? first_ : more_[i - 1]; }
  void Append(Entry e);
  void Assign(const std::vector<Entry>& entries);

  // The open generation (the entries after the last tombstone), when it has entries.
  int64_t created_ = 0;
  int64_t version_ = 0;
  int64_t lease_ = 0;
  // Every revision, oldest first: entry 0 inline, entries 1.. in more_ (capacity more_capacity_).
  Entry first_;
  std::unique_ptr<Entry[]> more_;
  uint32_t size_ = 0;
  uint32_t more_capacity_ = 0;
};

}  // namespace pharos::kv
