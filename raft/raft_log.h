// RaftLog: the core's view of the log — durable entries in Storage plus the "unstable" tail that
// has been appended in memory but not yet handed back as persisted (Advance). Also tracks the
// commit and applied indexes. Owned by the Raft core; single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/storage.h"

namespace pharos::raft {

class RaftLog {
 public:
  RaftLog(const Storage* storage, uint64_t max_next_ents_size);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i; nullopt when i is compacted or beyond the log.
  std::optional<uint64_t> Term(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // Raft §5.4.1: a log ending in (last_index, last_term) is at least as up to date as ours.
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // Follower side of AppendEntries. If our entry at prev_index has prev_term, appends whatever of
  // `entries` we do not already have (truncating a conflicting suffix, never a matching one),
  // advances commit to min(leader_commit, last index this message matched) and returns that last
  // index. *first_written is set to the index where new entries started (0 if none).
  std::optional<uint64_t> MaybeAppend(uint64_t prev_index, uint64_t prev_term,
                                      uint64_t leader_commit,
                                      const std::vector<raftpb::Entry>& entries,
                                      uint64_t* first_written);
  // Appends entries at LastIndex()+1 or earlier (truncating from the first one's index).
  void Append(const std::vector<raftpb::Entry>& entries);
  // First index where `entries` disagree with the log, or where they extend it; 0 if the log
  // already holds all of them.
  uint64_t FindConflict(const std::vector<raftpb::Entry>& entries) const;
  // For fast backtracking: the largest index <= index whose term is <= term, and its term.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries in [lo, hi) within max_bytes (at least one); kCompacted when lo is compacted.
  Result<std::vector<raftpb::Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  void CommitTo(uint64_t index);
  void AppliedTo(uint64_t index);
  // Leader: commit up to `index` if the entry there is of `term` (Raft §5.4.2).
  bool MaybeCommit(uint64_t index, uint64_t term);

  // What the application must persist next.
  const std::vector<raftpb::Entry>& UnstableEntries() const { return unstable_entries_; }
  const std::optional<raftpb::Snapshot>& UnstableSnapshot() const { return unstable_snapshot_; }
  // Highest index known durable in this node's log: everything before the unstable tail.
  uint64_t StableLastIndex() const;
  // Committed entries not yet handed out for applying (applying_ < i <= committed_), and only
  // those this node's log already holds durably (i <= StableLastIndex()): they may then be
  // applied at once, in parallel with the write of the next Ready, and a crash never leaves the
  // state machine ahead of the log.
  bool HasNextCommittedEntries() const;
  std::vector<raftpb::Entry> NextCommittedEntries() const;
  // Entries up to `index` were handed out; the next NextCommittedEntries() starts after it.
  void HandedOutTo(uint64_t index);

  // The application persisted entries up to (index, term) / the unstable snapshot.
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapTo(uint64_t index);
  // The log becomes exactly the snapshot (follower installing one).
  void Restore(const raftpb::Snapshot& snapshot);
  // The snapshot the leader would send: the unstable one, else storage's.
  Result<raftpb::Snapshot> Snapshot() const;

 private:
  const Storage* storage_;
  uint64_t max_next_ents_size_;
  // Entries at indexes >= unstable_offset_ not yet persisted.
  uint64_t unstable_offset_;
  std::vector<raftpb::Entry> unstable_entries_;
  std::optional<raftpb::Snapshot> unstable_snapshot_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  // Highest index handed out for applying: applied_ <= applying_ <= committed_.
  uint64_t applying_ = 0;
};

}  // namespace pharos::raft
