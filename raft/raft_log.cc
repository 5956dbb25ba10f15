#include "raft/raft_log.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <string>

namespace pharos::raft {

RaftLog::RaftLog(const Storage* storage, uint64_t max_next_ents_size)
    : storage_(storage),
      max_next_ents_size_(max_next_ents_size),
      unstable_offset_(storage->LastIndex() + 1) {
  // Everything up to the snapshot is committed and applied by definition.
  committed_ = storage->FirstIndex() - 1;
  applied_ = storage->FirstIndex() - 1;
  applying_ = applied_;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->metadata().index() + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_entries_.empty()) return unstable_offset_ + unstable_entries_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->metadata().index();
  return storage_->LastIndex();
}

uint64_t RaftLog::LastTerm() const { return Term(LastIndex()).value_or(0); }

std::optional<uint64_t> RaftLog::Term(uint64_t i) const {
  if (unstable_snapshot_) {
    const uint64_t snap_index = unstable_snapshot_->metadata().index();
    if (i == snap_index) return unstable_snapshot_->metadata().term();
    if (i < snap_index) return std::nullopt;
  }
  if (i >= unstable_offset_) {
    if (i - unstable_offset_ < unstable_entries_.size()) {
      return unstable_entries_[i - unstable_offset_].term();
    }
    return std::nullopt;
  }
  auto t = storage_->Term(i);
  if (!t.ok()) return std::nullopt;
  return *t;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t.has_value() && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  const uint64_t our_term = LastTerm();
  return last_term > our_term || (last_term == our_term && last_index >= LastIndex());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t prev_index, uint64_t prev_term,
                                             uint64_t leader_commit,
                                             const std::vector<raftpb::Entry>& entries,
                                             uint64_t* first_written) {
  *first_written = 0;
  if (!MatchTerm(prev_index, prev_term)) return std::nullopt;
  const uint64_t last_new = prev_index + entries.size();
  const uint64_t conflict = FindConflict(entries);
  if (conflict != 0) {
    if (conflict <= committed_) {
      throw std::logic_error("raft: entry " + std::to_string(conflict) +
                             " conflicts with a committed entry (committed " +
                             std::to_string(committed_) + ")");
    }
    std::vector<raftpb::Entry> suffix(entries.begin() + (conflict - prev_index - 1), entries.end());
    Append(suffix);
    *first_written = conflict;
  }
  // Only what this message proved to match may be committed: our log beyond last_new may still
  // hold a stale suffix from an older leader.
  CommitTo(std::min(leader_commit, last_new));
  return last_new;
}

void RaftLog::Append(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return;
  const uint64_t after = entries.front().index();
  if (after <= committed_) {
    throw std::logic_error("raft: append at " + std::to_string(after) +
                           " would overwrite committed entries");
  }
  if (after == unstable_offset_ + unstable_entries_.size()) {
    unstable_entries_.insert(unstable_entries_.end(), entries.begin(), entries.end());
  } else if (after <= unstable_offset_) {
    // Replaces part of what storage holds too: storage's entries from `after` on are stale and
    // will be overwritten when these are persisted.
    unstable_offset_ = after;
    unstable_entries_ = entries;
  } else {
    unstable_entries_.resize(after - unstable_offset_);
    unstable_entries_.insert(unstable_entries_.end(), entries.begin(), entries.end());
  }
}

uint64_t RaftLog::FindConflict(const std::vector<raftpb::Entry>& entries) const {
  for (const raftpb::Entry& e : entries) {
    if (!MatchTerm(e.index(), e.term())) {
      // Entries at or below our snapshot are committed and so match by the Log Matching property.
      if (e.index() < FirstIndex()) continue;
      return e.index();
    }
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  index = std::min(index, LastIndex());
  for (; index > 0; --index) {
    auto t = Term(index);
    if (!t.has_value()) return {index, 0};  // compacted: let the leader decide (snapshot)
    if (*t <= term) return {index, *t};
  }
  return {0, 0};
}

Result<std::vector<raftpb::Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  if (lo < FirstIndex()) return Status::Compacted("log compacted below " + std::to_string(lo));
  if (hi > LastIndex() + 1) return Status::Unavailable("slice beyond the log");
  std::vector<raftpb::Entry> out;
  if (lo >= hi) return out;
  uint64_t bytes = 0;
  if (lo < unstable_offset_) {
    auto stored = storage_->Entries(lo, std::min(hi, unstable_offset_), max_bytes);
    if (!stored.ok()) return stored.status();
    for (const raftpb::Entry& e : *stored) bytes += e.ByteSizeLong();
    out = std::move(*stored);
    if (out.size() < std::min(hi, unstable_offset_) - lo) return out;  // byte limit reached
  }
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const raftpb::Entry& e = unstable_entries_[i - unstable_offset_];
    bytes += e.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

void RaftLog::CommitTo(uint64_t index) {
  if (index <= committed_) return;
  if (index > LastIndex()) {
    throw std::logic_error("raft: commit " + std::to_string(index) + " beyond last index " +
                           std::to_string(LastIndex()));
  }
  committed_ = index;
}

void RaftLog::AppliedTo(uint64_t index) {
  if (index == 0) return;
  assert(index <= committed_ && index >= applied_);
  applied_ = index;
  applying_ = std::max(applying_, index);
}

void RaftLog::HandedOutTo(uint64_t index) {
  assert(index <= committed_);
  applying_ = std::max(applying_, index);
}

bool RaftLog::MaybeCommit(uint64_t index, uint64_t term) {
  if (index > committed_ && MatchTerm(index, term)) {
    CommitTo(index);
    return true;
  }
  return false;
}

uint64_t RaftLog::StableLastIndex() const {
  if (unstable_snapshot_) return 0;
  return unstable_offset_ - 1;
}

bool RaftLog::HasNextCommittedEntries() const {
  return std::min(committed_, StableLastIndex()) + 1 > std::max(applying_ + 1, FirstIndex());
}

std::vector<raftpb::Entry> RaftLog::NextCommittedEntries() const {
  const uint64_t lo = std::max(applying_ + 1, FirstIndex());
  const uint64_t hi = std::min(committed_, StableLastIndex()) + 1;
  if (hi <= lo) return {};
  auto ents = Slice(lo, hi, max_next_ents_size_);
  if (!ents.ok()) {
    throw std::logic_error("raft: committed entries unavailable: " + ents.status().ToString());
  }
  return std::move(*ents);
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  // A truncation since the Ready was taken may have replaced these entries: then they are not
  // the ones now in memory, and nothing is marked stable.
  if (index < unstable_offset_) return;
  if (index - unstable_offset_ >= unstable_entries_.size()) return;
  if (unstable_entries_[index - unstable_offset_].term() != term) return;
  unstable_entries_.erase(unstable_entries_.begin(),
                          unstable_entries_.begin() + (index + 1 - unstable_offset_));
  unstable_offset_ = index + 1;
}

void RaftLog::StableSnapTo(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->metadata().index() == index) {
    unstable_snapshot_.reset();
  }
}

void RaftLog::Restore(const raftpb::Snapshot& snapshot) {
  committed_ = snapshot.metadata().index();
  unstable_offset_ = snapshot.metadata().index() + 1;
  unstable_entries_.clear();
  unstable_snapshot_ = snapshot;
}

Result<raftpb::Snapshot> RaftLog::Snapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_->GetSnapshot();
}

}  // namespace pharos::raft
