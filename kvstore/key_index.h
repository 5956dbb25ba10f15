// KeyIndex: the revisions at which one key changed, grouped in generations (a generation runs from
// a key's creation to its deletion), as etcd's mvcc index keeps them. The values live in RocksDB
// under the revision; this index says which revision a read at some revision must fetch.
// Single-threaded (owned by MvccStore).
//
// There is one per key, all in memory, so its size is most of a node's memory beyond RocksDB's
// (PERFORMANCE.md): the generations are one flat list of revisions in which a tombstone ends a
// generation, only the open generation's create revision, version and lease are kept (a read at
// a past revision gets them from the stored value), and the first revision lives inline, since
// most keys change once between compactions. 48 bytes per key written once, no allocation of
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
  // The largest sub revision an entry holds (31 bits). A revision's changes are its txn's ops and
  // the keys its deletes removed, far fewer; MvccStore::Load refuses a stored one above it.
  static constexpr int64_t kMaxSub = (int64_t{1} << 31) - 1;

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
  // 12 bytes and 4-aligned, so that the inline first entry and size_ share 16 bytes: a KeyIndex
  // is 48 bytes, and a key's std::map node 112 (one of tcmalloc's size classes), where 8 bytes more
  // made it 128. The main revision is kept as two halves for that alignment.
  class Entry {
   public:
    Entry() = default;
    Entry(int64_t main, int64_t sub, bool tombstone)
        : main_low_(static_cast<uint32_t>(static_cast<uint64_t>(main))),
          main_high_(static_cast<uint32_t>(static_cast<uint64_t>(main) >> 32)),
          sub_and_tombstone_((static_cast<uint32_t>(sub) << 1) | (tombstone ? 1u : 0u)) {}
    int64_t main() const {
      return static_cast<int64_t>((static_cast<uint64_t>(main_high_) << 32) | main_low_);
    }
    bool tombstone() const { return (sub_and_tombstone_ & 1u) != 0; }
    Revision revision() const { return {main(), static_cast<int64_t>(sub_and_tombstone_ >> 1)}; }

   private:
    uint32_t main_low_ = 0;
    uint32_t main_high_ = 0;
    // The change's number within its revision (a txn op, a deleted key; below kMaxSub),
    // shifted left by one, and the tombstone bit.
    uint32_t sub_and_tombstone_ = 0;
  };
  size_t size() const { return size_; }
  const Entry& at(size_t i) const { return i == 0 ? first_ : more_[i - 1]; }
  // more_'s length for `n` entries in it: grown by doubling, so never stored.
  static uint32_t CapacityFor(uint32_t n);
  void Append(Entry e);
  void Assign(const std::vector<Entry>& entries);

  // The open generation (the entries after the last tombstone), when it has entries.
  int64_t created_ = 0;
  int64_t version_ = 0;
  int64_t lease_ = 0;
  // Every revision, oldest first: entry 0 inline, entries 1.. in more_.
  std::unique_ptr<Entry[]> more_;
  Entry first_;
  uint32_t size_ = 0;
};

}  // namespace pharos::kv
