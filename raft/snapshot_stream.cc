#include "raft/snapshot_stream.h"

#include <algorithm>
#include <string>

namespace pharos::raft {

std::vector<raftpb::SnapshotChunk> SplitSnapshot(const raftpb::Message& snap, size_t chunk_size) {
  return SplitSnapshot(raftpb::Message(snap), chunk_size);
}

std::vector<raftpb::SnapshotChunk> SplitSnapshot(raftpb::Message&& snap, size_t chunk_size) {
  chunk_size = std::max<size_t>(chunk_size, 1);
  // The data leaves the message, which then goes into the first chunk as the envelope: neither
  // is copied whole.
  const std::string data = std::move(*snap.mutable_snapshot()->mutable_data());
  snap.mutable_snapshot()->clear_data();
  std::vector<raftpb::SnapshotChunk> chunks;
  size_t offset = 0;
  do {
    raftpb::SnapshotChunk& c = chunks.emplace_back();
    if (offset == 0) {
      *c.mutable_envelope() = std::move(snap);
      c.set_total_size(data.size());
    }
    const size_t n = std::min(chunk_size, data.size() - offset);
    c.set_offset(offset);
    c.set_data(data.substr(offset, n));
    offset += n;
    c.set_last(offset == data.size());
  } while (offset < data.size());
  return chunks;
}

Result<std::optional<raftpb::Message>> SnapshotAssembler::Add(const raftpb::SnapshotChunk& chunk) {
  if (chunk.offset() == 0) {
    if (!chunk.has_envelope() || chunk.envelope().type() != raftpb::MSG_SNAP) {
      pending_.reset();
      return Status::InvalidArgument("snapshot stream does not start with a MSG_SNAP envelope");
    }
    pending_ = chunk.envelope();
    total_size_ = chunk.total_size();
  } else if (!pending_) {
    return Status::InvalidArgument("snapshot chunk at offset " + std::to_string(chunk.offset()) +
                                   " without a stream in progress");
  }
  std::string* data = pending_->mutable_snapshot()->mutable_data();
  if (chunk.offset() != data->size()) {
    const std::string why = "snapshot chunk at offset " + std::to_string(chunk.offset()) +
                            ", expected " + std::to_string(data->size());
    pending_.reset();
    return Status::InvalidArgument(why);
  }
  data->append(chunk.data());
  if (data->size() > total_size_) {
    pending_.reset();
    return Status::InvalidArgument("snapshot stream longer than announced");
  }
  if (!chunk.last()) return std::optional<raftpb::Message>();
  if (data->size() != total_size_) {
    pending_.reset();
    return Status::InvalidArgument("snapshot stream ended short of its announced size");
  }
  std::optional<raftpb::Message> done = std::move(pending_);
  pending_.reset();
  return done;
}

}  // namespace pharos::raft
