// Tests of tools/pharosctl/kv_commands.cc as a process against a FakeServer: what `put` and `txn`
// send, and that input they refuse sends nothing at all.
#include <gtest/gtest.h>

#include "tests/client/fake_server.h"
#include "tests/tools/pharosctl_process.h"

namespace pharos::testing {
namespace {

using std::chrono::milliseconds;

// Answers every request OK; a put at revision 2.
FakeServer::Action Answer(const pb::Envelope& request) {
  pb::Envelope reply;
  if (request.has_put()) reply.mutable_put_response()->mutable_header()->set_revision(2);
  if (request.has_txn()) reply.mutable_txn_response()->set_succeeded(true);
  return FakeServer::Ok(reply);
}

bool IsPut(const pb::Envelope& e) { return e.has_put(); }

TEST(KvCommandsTest, PutWithoutValueTakesAllOfStdin) {
  FakeServer server(Answer);
  auto r = RunPharosctl(At(server.endpoint(), {"put", "k"}), {.stdin_text = "from\nstdin\n"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "OK\n");
  auto put = server.WaitForRequest(IsPut, milliseconds(0));
  ASSERT_TRUE(put);
  EXPECT_EQ(put->put().key(), "k");
  EXPECT_EQ(put->put().value(), "from\nstdin\n");
}

TEST(KvCommandsTest, PutWithoutValueRefusesAnEmptyStdinAndWritesNothing) {
  FakeServer server(Answer);
  auto r = RunPharosctl(At(server.endpoint(), {"put", "k"}));  // stdin: an empty file
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("no available argument and stdin"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(server.requests(), 0);
}

TEST(KvCommandsTest, AnEmptyValueGivenAsAnArgumentIsWritten) {
  FakeServer server(Answer);
  auto r = RunPharosctl(At(server.endpoint(), {"put", "k", ""}));
  EXPECT_EQ(r.code, 0) << r.err;
  auto put = server.WaitForRequest(IsPut, milliseconds(0));
  ASSERT_TRUE(put);
  EXPECT_EQ(put->put().key(), "k");
  EXPECT_EQ(put->put().value(), "");
}

TEST(KvCommandsTest, ATxnScriptCutShortIsNotSent) {
  FakeServer server(Answer);
  // The success section never ended: the script was cut short.
  auto cut = RunPharosctl(At(server.endpoint(), {"txn"}),
                          {.stdin_text = "value(\"k\") = \"v\"\n\nput a 1\n"});
  EXPECT_EQ(cut.code, 2) << cut.err;
  EXPECT_NE(cut.err.find("unexpected end of input"), std::string::npos) << cut.err;
  EXPECT_EQ(server.requests(), 0);
  // Whole, it is.
  auto whole = RunPharosctl(At(server.endpoint(), {"txn"}),
                            {.stdin_text = "value(\"k\") = \"v\"\n\nput a 1\n\n\n"});
  EXPECT_EQ(whole.code, 0) << whole.err;
  auto txn =
      server.WaitForRequest([](const pb::Envelope& e) { return e.has_txn(); }, milliseconds(0));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->txn().success_size(), 1);
}

}  // namespace
}  // namespace pharos::testing
