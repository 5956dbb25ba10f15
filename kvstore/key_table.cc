#include "kvstore/key_table.h"

#include <utility>

namespace pharos::kv {

const KeyTable::Entry* KeyTable::Find(std::string_view key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : *it;
}

KeyTable::Entry* KeyTable::Find(std::string_view key) {
  // The set stores const pointers only because its elements' keys must not change; the entry
  // itself belongs to map_, which this non-const table may change.
  return const_cast<Entry*>(std::as_const(*this).Find(key));
}

KeyIndex& KeyTable::FindOrAdd(const std::string& key) {
  // Through the tree, which a new key needs anyway for its place. Writers often go through keys
  // in order (a load, a service's instances under one prefix), and then the tree's path stays
  // in cache while the hash index would miss on every key: with the hash index here, puts from
  // 64 clients over 100,000 keys in turn ran 4% slower.
  auto it = map_.lower_bound(key);
  if (it != map_.end() && it->first == key) return it->second;
  it = map_.emplace_hint(it, key, KeyIndex());
  try {
    by_key_.insert(&*it);
  } catch (...) {
    map_.erase(it);  // a key the hash index cannot find would be invisible to gets for good
    throw;
  }
  return it->second;
}

KeyTable::iterator KeyTable::erase(iterator it) {
  by_key_.erase(std::string_view(it->first));
  return map_.erase(it);
}

void KeyTable::clear() {
  by_key_.clear();
  map_.clear();
}

}  // namespace pharos::kv
