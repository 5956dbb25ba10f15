// Snapshot streaming: the core emits one MSG_SNAP carrying the whole snapshot; Transport sends it
// as a stream of SnapshotChunk messages on a connection of its own and the receiver reassembles
// it before stepping the core. SplitSnapshot and SnapshotAssembler are that framing, kept here so
// the simulation and the real transport share it. Single-threaded objects.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "proto/raft.pb.h"

namespace pharos::raft {

// Cuts a MSG_SNAP into chunks of at most `chunk_size` data bytes (at least one chunk), one chunk
// at a time: a sender holds the snapshot's data once and makes each chunk when it can send it.
class SnapshotSplitter {
 public:
  SnapshotSplitter(raftpb::Message&& snap, size_t chunk_size);
  bool done() const { return done_; }
  // The next chunk; only while !done().
  raftpb::SnapshotChunk Next();

 private:
  raftpb::Message envelope_;  // the message without its data: the first chunk carries it
  std::string data_;
  size_t chunk_size_;
  size_t offset_ = 0;
  bool done_ = false;
};

// All the chunks at once (SnapshotSplitter's, in order).
std::vector<raftpb::SnapshotChunk> SplitSnapshot(const raftpb::Message& snap, size_t chunk_size);
// As above, taking the message: its data is cut into chunks without copying the message first.
std::vector<raftpb::SnapshotChunk> SplitSnapshot(raftpb::Message&& snap, size_t chunk_size);

class SnapshotAssembler {
 public:
  // Takes the next chunk of the stream. Returns the reassembled MSG_SNAP after the last chunk,
  // nullopt while more are expected, or an error (and forgets the stream) when a chunk is out of
  // order, the stream does not start with an envelope, or the size does not add up.
  Result<std::optional<raftpb::Message>> Add(const raftpb::SnapshotChunk& chunk);
  // The stream broke (connection lost): drop what was received.
  void Reset() { pending_.reset(); }
  bool InProgress() const { return pending_.has_value(); }

 private:
  std::optional<raftpb::Message> pending_;
  uint64_t total_size_ = 0;
};

}  // namespace pharos::raft
