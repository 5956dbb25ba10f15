// Tests of tools/pharosctl/snapshot_command.cc as a process against a FakeServer that streams a
// one-chunk snapshot: a save whose rename cannot be made durable (the directory cannot be opened
// to sync it) fails, and leaves neither FILE nor FILE.part behind.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/sha256.h"
#include "tests/client/fake_server.h"
#include "tests/tools/pharosctl_process.h"

namespace pharos::testing {
namespace {

namespace fs = std::filesystem;

FakeServer::Action OneChunkSnapshot(const pb::Envelope&) {
  const std::string blob = "a snapshot's bytes";
  pb::Envelope reply;
  auto* chunk = reply.mutable_snapshot_response();
  chunk->mutable_header()->set_revision(7);
  chunk->set_remaining_bytes(0);
  chunk->set_blob(blob);
  chunk->set_checksum(Sha256::Of(blob));
  return FakeServer::Ok(reply);
}

class SnapshotCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pharosctl-snapshot-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    chmod(dir_.c_str(), 0755);
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(SnapshotCommandTest, ASaveIsRenamedIntoPlace) {
  FakeServer server(OneChunkSnapshot);
  const std::string file = (dir_ / "backup.db").string();
  auto r = RunPharosctl(At(server.endpoint(), {"snapshot", "save", file}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Snapshot saved at " + file), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".part"));
}

TEST_F(SnapshotCommandTest, ASaveWhoseRenameCannotBeSyncedFails) {
  FakeServer server(OneChunkSnapshot);
  // Files may be created in the directory, but it cannot be opened to be synced. (The child runs
  // as nobody when the test runs as root, which no permission would stop.)
  ASSERT_EQ(chmod(dir_.c_str(), 0333), 0);
  const std::string file = (dir_ / "backup.db").string();
  auto r = RunPharosctl(At(server.endpoint(), {"snapshot", "save", file}), {.as_nobody = true});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("open directory " + dir_.string()), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".part"));
}

}  // namespace
}  // namespace pharos::testing
