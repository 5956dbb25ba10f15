// KeyIndex: the revisions at which one key changed, grouped in generations (a generation runs from
// a key's creation to its deletion), as etcd's mvcc index keeps them. The values live in RocksDB
// under the revision; this index says which revision a read at some revision must fetch.
// Single-threaded (owned by MvccStore).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace pharos::kv {

struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  friend auto operator<=>(const Revision&, const Revision&) = default;
};

class KeyIndex {
 public:
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
  struct Generation {
    int64_t created = 0;
    int64_t version = 0;
    int64_t lease = 0;
    std::vector<Revision> revs;  // the last one is the tombstone once the generation is closed
  };
  // The last generation is the open one; it is empty after a deletion.
  std::vector<Generation> generations_;
};

}  // namespace pharos::kv
