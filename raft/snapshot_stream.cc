#include "raft/snapshot_stream.h"

#include <algorithm>
#include <string>

namespace pharos::raft {

std::vector<raftpb::SnapshotChunk> SplitSnapshot(const raftpb::Message& snap, size_t chunk_size) {
  return SplitSnapshot(raftpb::Message(snap), chunk_size);
}

SnapshotSplitter::SnapshotSplitter(raftpb::Message&& snap, size_t chunk_size)
    : chunk_size_(std::max<size_t>(chunk_size, 1)) {
  // The data leaves the message, which then goes into the first chunk as the envelope: neither
  // is copied whole.
  data_ = std::move(*snap.mutable_snapshot()->mutable_data());
  snap.mutable_snapshot()->clear_data();
  envelope_ = std::move(snap);
}

raftpb::SnapshotChunk SnapshotSplitter::Next() {
  raftpb::SnapshotChunk c;
  if (offset_ == 0) {
    *c.mutable_envelope() = std::move(envelope_);
    c.set_total_size(data_.size());
  }
  const size_t n = std::min(chunk_size_, data_.size() - offset_);
  c.set_offset(offset_);
  c.set_data(data_.substr(offset_, n));
  offset_ += n;
  done_ = offset_ == data_.size();
  c.set_last(done_);
  if (done_) std::string().swap(data_);  // sent: its memory need not wait for the transfer's end
  return c;
}

std::vector<raftpb::SnapshotChunk> SplitSnapshot(raftpb::Message&& snap, size_t chunk_size) {
  SnapshotSplitter splitter(std::move(snap), chunk_size);
  std::vector<raftpb::SnapshotChunk> chunks;
  while (!splitter.done()) chunks.push_back(splitter.Next());
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
