// KeyTable: every key's KeyIndex, in key order for ranges, with a hash index beside the tree for
// single keys. A get of one key is the common read (a registry looks up a key; linearizable gets
// in pharos-bench), and in a std::map of 100,000 keys it walks about 17 nodes, most of them a
// cache miss: perf put that walk at 22% of the apply thread's time under gets from 64 clients,
// and each read waits for the reads queued before it on that thread. The hash index holds a
// pointer to each of the tree's elements (a std::map element never moves): 9 bytes a slot with
// its control byte, 1.2 MB for 100,000 keys (PERFORMANCE.md, "Runs 58 to 60").
// Single-threaded (owned by MvccStore).
#pragma once

#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

#include <map>
#include <string>
#include <string_view>

#include "kvstore/key_index.h"

namespace pharos::kv {

class KeyTable {
 public:
  using Map = std::map<std::string, KeyIndex>;
  using Entry = Map::value_type;
  using iterator = Map::iterator;
  using const_iterator = Map::const_iterator;

  KeyTable() = default;
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  // The key's entry, or null.
  const Entry* Find(std::string_view key) const;
  Entry* Find(std::string_view key);
  // The key's index, made empty if the key had none. Found through the tree (why in the .cc).
  KeyIndex& FindOrAdd(const std::string& key);

  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  iterator begin() { return map_.begin(); }
  iterator end() { return map_.end(); }
  const_iterator lower_bound(const std::string& key) const { return map_.lower_bound(key); }
  iterator erase(iterator it);
  void clear();
  size_t size() const { return map_.size(); }

 private:
  // The set holds the map's elements by address and finds them by key (heterogeneous lookup).
  struct Hash {
    using is_transparent = void;
    // absl::string_view, not std::string_view: this Abseil is built with a string_view of its
    // own, and hashing a std::string_view would go through std::hash and then absl's mixing.
    size_t operator()(std::string_view key) const {
      return absl::Hash<absl::string_view>{}(absl::string_view(key.data(), key.size()));
    }
    size_t operator()(const Entry* e) const { return (*this)(std::string_view(e->first)); }
  };
  struct Eq {
    using is_transparent = void;
    static std::string_view KeyOf(std::string_view key) { return key; }
    static std::string_view KeyOf(const Entry* e) { return e->first; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return KeyOf(a) == KeyOf(b);
    }
  };

  Map map_;
  absl::flat_hash_set<const Entry*, Hash, Eq> by_key_;
};

}  // namespace pharos::kv
