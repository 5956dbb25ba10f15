#include "raft/memory_storage.h"

#include <string>

#include "raft/membership.h"

namespace pharos::raft {

MemoryStorage::MemoryStorage() { entries_.emplace_back(); }

std::unique_ptr<MemoryStorage> MemoryStorage::Bootstrap(const std::vector<uint64_t>& voters) {
  auto storage = std::make_unique<MemoryStorage>();
  const auto entries = BootstrapEntries(voters);
  (void)storage->Append(entries);
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(entries.size());
  storage->SetHardState(hs);
  return storage;
}

Result<InitialState> MemoryStorage::GetInitialState() const {
  return InitialState{hard_state_, snapshot_.metadata().conf_state()};
}

Result<std::vector<raftpb::Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                          uint64_t max_bytes) const {
  if (lo <= offset()) return Status::Compacted("entries compacted below " + std::to_string(lo));
  if (hi > LastIndex() + 1) {
    return Status::Unavailable("entries up to " + std::to_string(hi) + " not in the log");
  }
  std::vector<raftpb::Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const raftpb::Entry& e = entries_[i - offset()];
    bytes += e.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Result<uint64_t> MemoryStorage::Term(uint64_t i) const {
  if (i < offset()) return Status::Compacted("term of compacted index " + std::to_string(i));
  if (i > LastIndex()) return Status::Unavailable("term of index " + std::to_string(i));
  return entries_[i - offset()].term();
}

uint64_t MemoryStorage::FirstIndex() const { return offset() + 1; }

uint64_t MemoryStorage::LastIndex() const { return offset() + entries_.size() - 1; }

Result<raftpb::Snapshot> MemoryStorage::GetSnapshot() const { return snapshot_; }

Status MemoryStorage::Append(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return Status::Ok();
  const uint64_t first = entries.front().index();
  if (first > LastIndex() + 1) {
    return Status::InvalidArgument("append leaves a gap: first " + std::to_string(first) +
                                   ", last " + std::to_string(LastIndex()));
  }
  // Entries at or below the snapshot are already covered by it.
  size_t skip = 0;
  while (skip < entries.size() && entries[skip].index() <= offset()) ++skip;
  if (skip == entries.size()) return Status::Ok();
  entries_.resize(entries[skip].index() - offset());
  entries_.insert(entries_.end(), entries.begin() + static_cast<std::ptrdiff_t>(skip),
                  entries.end());
  return Status::Ok();
}

Status MemoryStorage::ApplySnapshot(const raftpb::Snapshot& snapshot) {
  if (snapshot.metadata().index() <= snapshot_.metadata().index()) {
    return Status::FailedPrecondition("snapshot is older than the one held");
  }
  snapshot_ = snapshot;
  entries_.clear();
  raftpb::Entry placeholder;
  placeholder.set_index(snapshot.metadata().index());
  placeholder.set_term(snapshot.metadata().term());
  entries_.push_back(std::move(placeholder));
  return Status::Ok();
}

Status MemoryStorage::CreateSnapshotAndCompact(uint64_t index, const raftpb::ConfState& conf_state,
                                               std::string data) {
  if (index <= offset()) return Status::FailedPrecondition("snapshot index already compacted");
  if (index > LastIndex()) return Status::InvalidArgument("snapshot index beyond the log");
  const raftpb::Entry& at = entries_[index - offset()];
  snapshot_.mutable_metadata()->set_index(index);
  snapshot_.mutable_metadata()->set_term(at.term());
  *snapshot_.mutable_metadata()->mutable_conf_state() = conf_state;
  snapshot_.set_data(std::move(data));
  raftpb::Entry placeholder;
  placeholder.set_index(index);
  placeholder.set_term(at.term());
  entries_.erase(entries_.begin(),
                 entries_.begin() + static_cast<std::ptrdiff_t>(index - offset()));
  entries_.front() = std::move(placeholder);
  return Status::Ok();
}

}  // namespace pharos::raft
