// The backup file reader: a whole file reads back as written; every truncation and every flipped
// byte is refused before a single chunk is handed out.
#include "common/snapshot_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/frame.h"
#include "common/sha256.h"

namespace pharos {
namespace {

std::string MakeFile(const SnapshotHeader& header, const std::vector<std::string>& chunks) {
  std::string body;
  AppendFrame(&body, EncodeSnapshotHeader(header));
  for (const std::string& c : chunks) AppendFrame(&body, c);
  return body + SnapshotTrailer(Sha256::Of(body));
}

Result<SnapshotFileInfo> Read(const std::string& bytes, std::vector<std::string>* chunks) {
  std::istringstream in(bytes);
  return ReadSnapshot(in, bytes.size(), [&](std::string c) { chunks->push_back(std::move(c)); });
}

const std::vector<std::string> kChunks = {"first chunk", std::string(300, 'x'), ""};

TEST(SnapshotFileTest, AWholeFileReadsBackAsWritten) {
  const std::string file =
      MakeFile({.revision = 42, .key_count = 7, .compact_revision = 3}, kChunks);
  std::vector<std::string> chunks;
  auto info = Read(file, &chunks);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->header.revision, 42);
  EXPECT_EQ(info->header.key_count, 7u);
  EXPECT_EQ(info->header.compact_revision, 3);
  EXPECT_EQ(info->size_bytes, file.size());
  EXPECT_EQ(info->chunks, 3u);
  EXPECT_EQ(info->sha256, Sha256::Of(file.substr(0, file.size() - kSnapshotTrailerBytes)));
  EXPECT_EQ(chunks, kChunks);
}

TEST(SnapshotFileTest, EveryTruncationIsRefusedAndHandsOutNothing) {
  const std::string file = MakeFile({.revision = 9, .key_count = 2}, kChunks);
  for (size_t n = 0; n < file.size(); ++n) {
    std::vector<std::string> chunks;
    auto info = Read(file.substr(0, n), &chunks);
    ASSERT_FALSE(info.ok()) << "accepted a file cut to " << n << " bytes";
    EXPECT_EQ(info.status().code(), StatusCode::kCorruption) << n;
    EXPECT_TRUE(chunks.empty()) << n;
  }
}

TEST(SnapshotFileTest, EveryFlippedByteIsRefusedAndHandsOutNothing) {
  const std::string file = MakeFile({.revision = 9, .key_count = 2}, kChunks);
  for (size_t i = 0; i < file.size(); ++i) {
    std::string bad = file;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    std::vector<std::string> chunks;
    auto info = Read(bad, &chunks);
    ASSERT_FALSE(info.ok()) << "accepted a file with byte " << i << " flipped";
    EXPECT_TRUE(chunks.empty()) << i;
  }
}

TEST(SnapshotFileTest, TheMessagesSayWhatIsWrong) {
  const std::string file = MakeFile({.revision = 9, .key_count = 2}, kChunks);
  std::vector<std::string> chunks;
  std::string bad = file;
  bad[20] ^= 0x40;
  EXPECT_NE(Read(bad, &chunks).status().message().find("checksum mismatch"), std::string::npos);
  EXPECT_NE(Read(file.substr(0, file.size() - 1), &chunks).status().message().find("truncated"),
            std::string::npos);
  EXPECT_NE(Read("short", &chunks).status().message().find("too short"), std::string::npos);

  // A well-checksummed body that is not a snapshot (another writer's frames).
  std::string body;
  AppendFrame(&body, "something else entirely, long enough");
  const std::string foreign = body + SnapshotTrailer(Sha256::Of(body));
  EXPECT_NE(Read(foreign, &chunks).status().message().find("header"), std::string::npos);
  EXPECT_TRUE(chunks.empty());
}

TEST(SnapshotFileTest, ReadsFromDiskAndNamesTheFileInErrors) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("snapshot-file-test-" + std::to_string(getpid()) + ".db"))
                               .string();
  const std::string file = MakeFile({.revision = 5, .key_count = 1}, kChunks);
  std::ofstream(path, std::ios::binary) << file;
  auto loaded = LoadSnapshotFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->chunks, kChunks);
  EXPECT_EQ(loaded->info.header.revision, 5);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << file.substr(0, file.size() / 2);
  auto cut = LoadSnapshotFile(path);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().message().rfind(path + ": ", 0), 0u) << cut.status().message();
  std::filesystem::remove(path);
  EXPECT_EQ(LoadSnapshotFile(path).status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace pharos
