#include "raft/snapshot_stream.h"

#include <gtest/gtest.h>

namespace pharos::raft {
namespace {

raftpb::Message Snap(std::string data) {
  raftpb::Message m;
  m.set_type(raftpb::MSG_SNAP);
  m.set_from(1);
  m.set_to(2);
  m.mutable_snapshot()->mutable_metadata()->set_index(40);
  m.mutable_snapshot()->set_data(std::move(data));
  return m;
}

TEST(SnapshotStreamTest, SplitsAndReassemblesExactly) {
  const raftpb::Message m = Snap(std::string(1000, 'a') + std::string(37, 'b'));
  auto chunks = SplitSnapshot(m, 100);
  ASSERT_EQ(chunks.size(), 11u);
  EXPECT_EQ(chunks[0].envelope().snapshot().data(), "");  // data travels in the chunks only
  SnapshotAssembler a;
  std::optional<raftpb::Message> out;
  for (const auto& c : chunks) {
    auto r = a.Add(c);
    ASSERT_TRUE(r.ok());
    out = *r;
  }
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->SerializeAsString(), m.SerializeAsString());
}

TEST(SnapshotStreamTest, EmptyDataIsOneChunk) {
  auto chunks = SplitSnapshot(Snap(""), 100);
  ASSERT_EQ(chunks.size(), 1u);
  SnapshotAssembler a;
  auto r = a.Add(chunks[0]);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_value());
}

TEST(SnapshotStreamTest, OutOfOrderOrShortStreamsAreRefused) {
  auto chunks = SplitSnapshot(Snap(std::string(300, 'x')), 100);
  SnapshotAssembler a;
  ASSERT_TRUE(a.Add(chunks[0]).ok());
  EXPECT_FALSE(a.Add(chunks[2]).ok());  // a gap
  EXPECT_FALSE(a.InProgress());
  EXPECT_FALSE(a.Add(chunks[1]).ok());  // no stream in progress any more
  // A stream that claims to end before its announced size.
  ASSERT_TRUE(a.Add(chunks[0]).ok());
  raftpb::SnapshotChunk early = chunks[1];
  early.set_last(true);
  EXPECT_FALSE(a.Add(early).ok());
}

}  // namespace
}  // namespace pharos::raft
