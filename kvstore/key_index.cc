#include "kvstore/key_index.h"

namespace pharos::kv {

void KeyIndex::Put(Revision rev, int64_t created, int64_t version, int64_t lease) {
  if (generations_.empty()) generations_.emplace_back();
  Generation& g = generations_.back();
  if (g.revs.empty()) g.created = created;
  g.version = version;
  g.lease = lease;
  g.revs.push_back(rev);
}

void KeyIndex::Tombstone(Revision rev) {
  if (generations_.empty() || generations_.back().revs.empty()) return;  // nothing live
  generations_.back().revs.push_back(rev);
  generations_.emplace_back();
}

bool KeyIndex::Live() const { return !generations_.empty() && !generations_.back().revs.empty(); }

int64_t KeyIndex::created() const { return Live() ? generations_.back().created : 0; }

int64_t KeyIndex::version() const { return Live() ? generations_.back().version : 0; }

int64_t KeyIndex::lease() const { return Live() ? generations_.back().lease : 0; }

std::optional<Revision> KeyIndex::Get(int64_t at) const {
  for (size_t i = generations_.size(); i-- > 0;) {
    const Generation& g = generations_[i];
    if (g.revs.empty()) continue;
    const bool closed = i + 1 != generations_.size();
    // Deleted at or before `at`, and no later generation began by then.
    if (closed && g.revs.back().main <= at) return std::nullopt;
    if (g.revs.front().main > at) continue;
    for (size_t j = g.revs.size(); j-- > 0;) {
      if (g.revs[j].main <= at) return g.revs[j];
    }
  }
  return std::nullopt;
}

bool KeyIndex::Compact(int64_t at, std::vector<std::pair<Revision, bool>>* obsolete) {
  std::vector<Generation> kept;
  for (size_t i = 0; i < generations_.size(); ++i) {
    Generation& g = generations_[i];
    const bool closed = i + 1 != generations_.size();
    if (g.revs.empty()) {
      if (!closed) kept.push_back(std::move(g));
      continue;
    }
    if (closed && g.revs.back().main <= at) {
      // Deleted by `at`: nothing in it is visible at or after `at`.
      for (size_t j = 0; j < g.revs.size(); ++j) {
        obsolete->push_back({g.revs[j], j + 1 == g.revs.size()});
      }
      continue;
    }
    // Keep the revision visible at `at` (the last one <= at) and everything after it.
    size_t first_kept = 0;
    for (size_t j = 0; j < g.revs.size(); ++j) {
      if (g.revs[j].main <= at) first_kept = j;
    }
    for (size_t j = 0; j < first_kept; ++j) obsolete->push_back({g.revs[j], false});
    g.revs.erase(g.revs.begin(), g.revs.begin() + static_cast<std::ptrdiff_t>(first_kept));
    kept.push_back(std::move(g));
  }
  generations_ = std::move(kept);
  return generations_.empty() || (generations_.size() == 1 && generations_.back().revs.empty());
}

}  // namespace pharos::kv
