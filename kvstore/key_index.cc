#include "kvstore/key_index.h"

#include <algorithm>
#include <bit>

namespace pharos::kv {

static_assert(sizeof(KeyIndex) == 48, "a key's map node should stay in the 112-byte class");

uint32_t KeyIndex::CapacityFor(uint32_t n) {
  return n == 0 ? 0 : std::max<uint32_t>(2, std::bit_ceil(n));
}

void KeyIndex::Append(Entry e) {
  if (size_ == 0) {
    first_ = e;
  } else {
    const uint32_t n = size_ - 1;  // entries in more_
    if (n == CapacityFor(n)) {
      auto grown = std::make_unique<Entry[]>(CapacityFor(n + 1));
      std::copy(more_.get(), more_.get() + n, grown.get());
      more_ = std::move(grown);
    }
    more_[n] = e;
  }
  ++size_;
}

void KeyIndex::Assign(const std::vector<Entry>& entries) {
  size_ = 0;
  more_.reset();
  for (const Entry& e : entries) Append(e);
}

void KeyIndex::Put(Revision rev, int64_t created, int64_t version, int64_t lease) {
  if (!Live()) created_ = created;  // a new generation begins
  version_ = version;
  lease_ = lease;
  Append(Entry(rev.main, rev.sub, false));
}

void KeyIndex::Tombstone(Revision rev) {
  if (!Live()) return;  // nothing live
  Append(Entry(rev.main, rev.sub, true));
}

bool KeyIndex::Live() const { return size_ > 0 && !at(size_ - 1).tombstone(); }

int64_t KeyIndex::created() const { return Live() ? created_ : 0; }

int64_t KeyIndex::version() const { return Live() ? version_ : 0; }

int64_t KeyIndex::lease() const { return Live() ? lease_ : 0; }

std::optional<Revision> KeyIndex::Get(int64_t at_main) const {
  // The last change at or before `at`: the key's value then, unless that change deleted it.
  for (size_t i = size_; i-- > 0;) {
    const Entry& e = at(i);
    if (e.main() > at_main) continue;
    if (e.tombstone()) return std::nullopt;
    return e.revision();
  }
  return std::nullopt;
}

bool KeyIndex::Compact(int64_t at_main, std::vector<std::pair<Revision, bool>>* obsolete) {
  std::vector<Entry> kept;
  // One generation at a time: [begin, end), closed when its last entry is a tombstone.
  for (size_t begin = 0; begin < size_;) {
    size_t end = begin;
    while (end < size_ && !at(end).tombstone()) ++end;
    const bool closed = end < size_;
    if (closed) ++end;  // the tombstone belongs to the generation it ends
    if (closed && at(end - 1).main() <= at_main) {
      // Deleted by `at`: nothing in it is visible at or after `at`.
      for (size_t j = begin; j < end; ++j) {
        obsolete->push_back({at(j).revision(), at(j).tombstone()});
      }
    } else {
      // Keep the revision visible at `at` (the last one <= at) and everything after it.
      size_t first_kept = begin;
      for (size_t j = begin; j < end; ++j) {
        if (at(j).main() <= at_main) first_kept = j;
      }
      for (size_t j = begin; j < first_kept; ++j) obsolete->push_back({at(j).revision(), false});
      for (size_t j = first_kept; j < end; ++j) kept.push_back(at(j));
    }
    begin = end;
  }
  Assign(kept);
  return size_ == 0;
}

}  // namespace pharos::kv
