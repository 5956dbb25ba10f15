// The backup file format shared by the three sides of a backup: the member that streams it
// (registry/server_snapshot.cc writes the header), `pharosctl snapshot save` (appends the
// trailer) and its readers (`pharosctl snapshot status`, `pharosd snapshot-restore`). It lives
// in common/ because tools/ and registry/ may not include each other (DESIGN.md §2).
//
//   file    := body trailer
//   body    := frame(header) frame(chunk)*   -- exactly the blobs the member streamed
//   header  := "PHRSNAP1" revision:i64 key_count:u64 compact_revision:i64   (big-endian)
//   trailer := "PHRSSUM1" SHA-256(body):32 bytes
//
// A frame is a 4-byte big-endian length and that many bytes (common/frame.h); each chunk is one
// kvstore snapshot chunk, restored in order. The reader verifies the checksum before it hands out
// a single chunk, so a corrupt or truncated file is refused as a whole. Plain functions, no state.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

// What the member knew when it took the snapshot.
struct SnapshotHeader {
  int64_t revision = 0;
  uint64_t key_count = 0;  // live keys at `revision`
  int64_t compact_revision = 0;
};

inline constexpr size_t kSnapshotTrailerBytes = 8 + 32;

// The payload of the first frame of a snapshot stream.
std::string EncodeSnapshotHeader(const SnapshotHeader& header);
// What follows the body in a file: `sha256` is the 32-byte digest of the body.
std::string SnapshotTrailer(std::string_view sha256);

struct SnapshotFileInfo {
  SnapshotHeader header;
  uint64_t size_bytes = 0;  // the whole file
  std::string sha256;       // of the body, as recorded in (and verified against) the trailer
  size_t chunks = 0;        // data chunks after the header
};

// Verifies the `size` bytes of `in` as a snapshot file; then, if `on_chunk` is given, reads the
// data chunks again and hands each to it in order. Errors say what is wrong (truncated, checksum
// mismatch, not a snapshot) and that nothing can be trusted: a caller that got chunks before an
// error (only a faulty writer can cause one once the checksum held) throws them away.
Result<SnapshotFileInfo> ReadSnapshot(std::istream& in, uint64_t size,
                                      const std::function<void(std::string)>& on_chunk = {});
Result<SnapshotFileInfo> ReadSnapshotFile(const std::string& path,
                                          const std::function<void(std::string)>& on_chunk = {});

// The whole file in memory: its description and its chunks, for a restore.
struct SnapshotContents {
  SnapshotFileInfo info;
  std::vector<std::string> chunks;
};
Result<SnapshotContents> LoadSnapshotFile(const std::string& path);

}  // namespace pharos
