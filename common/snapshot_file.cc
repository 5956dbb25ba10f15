#include "common/snapshot_file.h"

#include <fstream>
#include <istream>
#include <sstream>

#include "common/frame.h"
#include "common/sha256.h"

namespace pharos {
namespace {

constexpr std::string_view kHeaderMagic = "PHRSNAP1";
constexpr std::string_view kTrailerMagic = "PHRSSUM1";
constexpr size_t kHeaderBytes = 8 + 3 * 8;
constexpr size_t kReadBlock = 1 << 20;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

Status Refuse(const std::string& why) {
  return Status::Corruption(why + "; the snapshot cannot be used");
}

bool ReadExactly(std::istream& in, char* out, size_t n) {
  in.read(out, static_cast<std::streamsize>(n));
  return static_cast<size_t>(in.gcount()) == n;
}

}  // namespace

std::string EncodeSnapshotHeader(const SnapshotHeader& header) {
  std::string out(kHeaderMagic);
  PutU64(&out, static_cast<uint64_t>(header.revision));
  PutU64(&out, header.key_count);
  PutU64(&out, static_cast<uint64_t>(header.compact_revision));
  return out;
}

std::string SnapshotTrailer(std::string_view sha256) {
  std::string out(kTrailerMagic);
  out.append(sha256);
  return out;
}

Result<SnapshotFileInfo> ReadSnapshot(std::istream& in, uint64_t size,
                                      const std::function<void(std::string)>& on_chunk) {
  SnapshotFileInfo info;
  info.size_bytes = size;
  if (size < kFrameHeaderBytes + kHeaderBytes + kSnapshotTrailerBytes) {
    return Refuse("the file is " + std::to_string(size) +
                  " bytes, too short for a Pharos snapshot (truncated?)");
  }
  const uint64_t body = size - kSnapshotTrailerBytes;

  // Pass 1: the trailer, then the checksum of everything before it.
  std::string trailer(kSnapshotTrailerBytes, '\0');
  in.seekg(static_cast<std::streamoff>(body));
  if (!ReadExactly(in, trailer.data(), trailer.size())) {
    return Status::IoError("cannot read the end of the snapshot file");
  }
  if (std::string_view(trailer).substr(0, kTrailerMagic.size()) != kTrailerMagic) {
    return Refuse("no checksum at the end of the file: it is truncated or not a Pharos snapshot");
  }
  const std::string recorded = trailer.substr(kTrailerMagic.size());
  in.clear();
  in.seekg(0);
  Sha256 sha;
  std::string block;
  for (uint64_t done = 0; done < body;) {
    block.resize(static_cast<size_t>(std::min<uint64_t>(kReadBlock, body - done)));
    if (!ReadExactly(in, block.data(), block.size())) {
      return Status::IoError("cannot read the snapshot file at offset " + std::to_string(done));
    }
    sha.Update(block);
    done += block.size();
  }
  info.sha256 = sha.Final();
  if (info.sha256 != recorded) {
    return Refuse("checksum mismatch: the file's SHA-256 is " + HexOf(info.sha256) +
                  " but it records " + HexOf(recorded) + " (corrupt or truncated)");
  }

  // Pass 2: the frames. The checksum held, so an error here means a faulty writer, not the disk.
  in.clear();
  in.seekg(0);
  uint64_t pos = 0;
  bool first = true;
  while (pos < body) {
    unsigned char len[kFrameHeaderBytes];
    if (body - pos < kFrameHeaderBytes ||
        !ReadExactly(in, reinterpret_cast<char*>(len), kFrameHeaderBytes)) {
      return Refuse("a chunk header at offset " + std::to_string(pos) + " is cut short");
    }
    const uint64_t n =
        (uint64_t{len[0]} << 24) | (uint64_t{len[1]} << 16) | (uint64_t{len[2]} << 8) | len[3];
    pos += kFrameHeaderBytes;
    if (n > body - pos) {
      return Refuse("a chunk at offset " + std::to_string(pos) + " claims " + std::to_string(n) +
                    " bytes, past the end of the data");
    }
    std::string payload(static_cast<size_t>(n), '\0');
    if (!ReadExactly(in, payload.data(), payload.size())) {
      return Status::IoError("cannot read the snapshot file at offset " + std::to_string(pos));
    }
    pos += n;
    if (first) {
      if (payload.size() < kHeaderBytes ||
          std::string_view(payload).substr(0, kHeaderMagic.size()) != kHeaderMagic) {
        return Refuse("the file does not start with a Pharos snapshot header");
      }
      const std::string_view h = std::string_view(payload).substr(kHeaderMagic.size());
      info.header.revision = static_cast<int64_t>(GetU64(h));
      info.header.key_count = GetU64(h.substr(8));
      info.header.compact_revision = static_cast<int64_t>(GetU64(h.substr(16)));
      first = false;
      continue;
    }
    ++info.chunks;
    if (on_chunk) on_chunk(std::move(payload));
  }
  return info;
}

Result<SnapshotFileInfo> ReadSnapshotFile(const std::string& path,
                                          const std::function<void(std::string)>& on_chunk) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status::IoError("cannot open " + path);
  const std::streamoff size = in.tellg();
  if (size < 0) return Status::IoError("cannot read the size of " + path);
  auto info = ReadSnapshot(in, static_cast<uint64_t>(size), on_chunk);
  if (!info.ok()) {
    return Status(info.status().code(), path + ": " + info.status().message());
  }
  return info;
}

Result<SnapshotContents> LoadSnapshotFile(const std::string& path) {
  SnapshotContents contents;
  auto info = ReadSnapshotFile(
      path, [&](std::string chunk) { contents.chunks.push_back(std::move(chunk)); });
  if (!info.ok()) return info.status();
  contents.info = std::move(*info);
  return contents;
}

}  // namespace pharos
