// Tests of jepsen/history.cc: pairing invokes with completions, values, and every way a line can
// make a history unreadable (with the line it names).
#include "jepsen/history.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/jepsen/history_builder.h"

namespace pharos::jepsen {
namespace {

Result<History> Read(const std::string& text) {
  std::istringstream in(text);
  return ReadHistory(in);
}

// The message of an unreadable history, which must name `line`.
std::string ErrorAt(const std::string& text, int line) {
  Result<History> h = Read(text);
  EXPECT_FALSE(h.ok()) << text;
  if (h.ok()) return "";
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  const std::string prefix = "line " + std::to_string(line) + ": ";
  EXPECT_EQ(h.status().message().rfind(prefix, 0), 0u)
      << "wanted " << prefix << " got " << h.status().message();
  return h.status().message();
}

const char* const kWriteInvoke =
    R"({"process":1,"type":"invoke","f":"write","key":"x","value":1,"time":1})";

TEST(HistoryTest, PairsInvokesWithCompletionsInInvokeOrder) {
  History h = HistoryBuilder()
                  .Invoke(1, "write", 5)
                  .Invoke(2, "read", nullptr, "y")
                  .Ok(2, "read", "v", "y")
                  .Fail(1, "write", 5)
                  .Build();
  ASSERT_EQ(h.ops.size(), 2u);
  EXPECT_EQ(h.ops[0].process, 1);
  EXPECT_EQ(h.ops[0].f, Fn::kWrite);
  EXPECT_EQ(h.ops[0].key, "x");
  EXPECT_EQ(h.ops[0].value, Value{int64_t{5}});
  EXPECT_EQ(h.ops[0].outcome, Outcome::kFail);
  EXPECT_EQ(h.ops[0].invoke_time, 10);
  EXPECT_EQ(h.ops[0].complete_time, 40);
  EXPECT_EQ(h.ops[0].invoke_line, 1);
  EXPECT_EQ(h.ops[0].complete_line, 4);
  EXPECT_EQ(h.ops[1].f, Fn::kRead);
  EXPECT_EQ(h.ops[1].key, "y");
  EXPECT_EQ(h.ops[1].value, Value{std::string("v")});
  EXPECT_EQ(h.ops[1].outcome, Outcome::kOk);
  EXPECT_EQ(h.ops[1].invoke_line, 2);
  EXPECT_EQ(h.ops[1].complete_line, 3);
}

TEST(HistoryTest, StringsAndIntegersAreDifferentValues) {
  History h = HistoryBuilder().Write(1, "1").Write(1, 1).Read(1, nullptr).Build();
  ASSERT_EQ(h.ops.size(), 3u);
  EXPECT_EQ(h.ops[0].value, Value{std::string("1")});
  EXPECT_EQ(h.ops[1].value, Value{int64_t{1}});
  EXPECT_NE(h.ops[0].value, h.ops[1].value);
  EXPECT_EQ(h.ops[2].value, Value{});
}

TEST(HistoryTest, CasCarriesExpectedAndNew) {
  History h = HistoryBuilder()
                  .Op(1, "cas", {1, "two"}, {1, "two"})
                  .Op(1, "cas", {nullptr, 3}, {nullptr, 3})
                  .Build();
  ASSERT_EQ(h.ops.size(), 2u);
  EXPECT_EQ(h.ops[0].expected, Value{int64_t{1}});
  EXPECT_EQ(h.ops[0].value, Value{std::string("two")});
  // A null expected value means "the key is absent".
  EXPECT_EQ(h.ops[1].expected, Value{});
  EXPECT_EQ(h.ops[1].value, Value{int64_t{3}});
}

TEST(HistoryTest, InfoAndUnfinishedOpsAreInfoWithoutAReturn) {
  History h = HistoryBuilder()
                  .Invoke(1, "write", 1)
                  .Info(1, "write", 1)
                  .Invoke(2, "append", "a")
                  .Invoke(3, "read", nullptr)
                  .Info(3, "read", nullptr)
                  .Build();
  ASSERT_EQ(h.ops.size(), 3u);
  EXPECT_EQ(h.ops[0].outcome, Outcome::kInfo);
  EXPECT_EQ(h.ops[0].complete_line, 2);
  EXPECT_EQ(h.ops[1].outcome, Outcome::kInfo);
  EXPECT_EQ(h.ops[1].complete_line, 0);
  EXPECT_FALSE(h.ops[1].complete_time.has_value());
  EXPECT_EQ(h.ops[2].outcome, Outcome::kInfo);
}

TEST(HistoryTest, AProcessMayInvokeAgainAfterOkOrFail) {
  History h =
      HistoryBuilder().Write(1, 1).Invoke(1, "write", 2).Fail(1, "write", 2).Read(1, 1).Build();
  EXPECT_EQ(h.ops.size(), 3u);
}

TEST(HistoryTest, SkipsBlankLinesButCountsThem) {
  std::string text = std::string("\n") + kWriteInvoke + "\n   \n" +
                     R"({"process":1,"type":"ok","f":"write","key":"x","value":1,"time":2})" + "\n";
  Result<History> h = Read(text);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->ops.size(), 1u);
  EXPECT_EQ(h->ops[0].invoke_line, 2);
  EXPECT_EQ(h->ops[0].complete_line, 4);
}

TEST(HistoryTest, IgnoresExtraFields) {
  Result<History> h = Read(
      R"({"process":1,"type":"invoke","f":"read","key":"x","value":null,"time":1,"node":"n1"})");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->ops.size(), 1u);
}

TEST(HistoryTest, EmptyInputIsAnEmptyHistory) {
  Result<History> h = Read("");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->ops.empty());
}

TEST(HistoryTest, NonJsonIsUnreadable) {
  const std::string text = std::string(kWriteInvoke) + "\n{\"process\": 1, oops\n";
  EXPECT_NE(ErrorAt(text, 2).find("not JSON"), std::string::npos);
  EXPECT_NE(ErrorAt("[1,2]\n", 1).find("not a JSON object"), std::string::npos);
}

TEST(HistoryTest, EachMissingFieldIsUnreadable) {
  for (const char* field : {"process", "type", "f", "key", "value", "time"}) {
    nlohmann::json j = nlohmann::json::parse(kWriteInvoke);
    j.erase(field);
    const std::string message = ErrorAt(j.dump() + "\n", 1);
    EXPECT_NE(message.find(std::string("missing \"") + field + "\""), std::string::npos) << message;
  }
}

TEST(HistoryTest, BadTypeOrFIsUnreadable) {
  const std::string third_bad_type =
      HistoryBuilder().Write(1, 1).Text() +
      R"({"process":1,"type":"done","f":"write","key":"x","value":1,"time":99})";
  EXPECT_NE(ErrorAt(third_bad_type, 3).find("bad \"type\""), std::string::npos);
  EXPECT_NE(ErrorAt(R"({"process":1,"type":"invoke","f":"delete","key":"x","value":1,"time":1})", 1)
                .find("bad \"f\""),
            std::string::npos);
  EXPECT_NE(ErrorAt(R"({"process":1,"type":3,"f":"read","key":"x","value":null,"time":1})", 1)
                .find("bad \"type\""),
            std::string::npos);
}

TEST(HistoryTest, FieldsOfTheWrongKindAreUnreadable) {
  ErrorAt(R"({"process":"a","type":"invoke","f":"read","key":"x","value":null,"time":1})", 1);
  ErrorAt(R"({"process":1,"type":"invoke","f":"read","key":7,"value":null,"time":1})", 1);
  ErrorAt(R"({"process":1,"type":"invoke","f":"read","key":"x","value":null,"time":1.5})", 1);
}

TEST(HistoryTest, ValuesOfTheWrongKindAreUnreadable) {
  const char* bad[] = {
      // A float, a boolean, an object, an integer beyond int64 are not values.
      R"({"process":1,"type":"invoke","f":"write","key":"x","value":1.5,"time":1})",
      R"({"process":1,"type":"invoke","f":"write","key":"x","value":true,"time":1})",
      R"({"process":1,"type":"invoke","f":"write","key":"x","value":{"a":1},"time":1})",
      R"({"process":1,"type":"invoke","f":"write","key":"x","value":18446744073709551615,"time":1})",
      // A write of nothing.
      R"({"process":1,"type":"invoke","f":"write","key":"x","value":null,"time":1})",
      // A read's invoke carries no value.
      R"({"process":1,"type":"invoke","f":"read","key":"x","value":1,"time":1})",
      // cas needs [expected, new], new not null.
      R"({"process":1,"type":"invoke","f":"cas","key":"x","value":1,"time":1})",
      R"({"process":1,"type":"invoke","f":"cas","key":"x","value":[1],"time":1})",
      R"({"process":1,"type":"invoke","f":"cas","key":"x","value":[1,null],"time":1})",
      R"({"process":1,"type":"invoke","f":"cas","key":"x","value":[1.5,2],"time":1})",
      // append takes strings only.
      R"({"process":1,"type":"invoke","f":"append","key":"x","value":1,"time":1})",
  };
  for (const char* line : bad) {
    EXPECT_NE(ErrorAt(line, 1).find("bad \"value\""), std::string::npos) << line;
  }
  // An ok read may carry a float no more than a write may.
  const std::string read_float =
      HistoryBuilder().Invoke(1, "read", nullptr).Text() +
      R"({"process":1,"type":"ok","f":"read","key":"x","value":0.5,"time":11})";
  ErrorAt(read_float, 2);
}

TEST(HistoryTest, CompletionWithoutInvokeIsUnreadable) {
  const std::string text = HistoryBuilder().Write(1, 1).Ok(2, "write", 2).Text();
  EXPECT_NE(ErrorAt(text, 3).find("without a matching invoke"), std::string::npos);
  // A second completion of the same op has no invoke left to match either.
  EXPECT_NE(ErrorAt(HistoryBuilder().Write(1, 1).Ok(1, "write", 1).Text(), 3)
                .find("without a matching invoke"),
            std::string::npos);
}

TEST(HistoryTest, CompletionMustMatchItsInvoke) {
  EXPECT_NE(
      ErrorAt(HistoryBuilder().Invoke(1, "write", 1).Ok(1, "read", 1).Text(), 2).find("f/key"),
      std::string::npos);
  EXPECT_NE(ErrorAt(HistoryBuilder().Invoke(1, "write", 1).Ok(1, "write", 1, "y").Text(), 2)
                .find("f/key"),
            std::string::npos);
  EXPECT_NE(ErrorAt(HistoryBuilder().Invoke(1, "write", 1).Ok(1, "write", 2).Text(), 2)
                .find("value differs"),
            std::string::npos);
  EXPECT_NE(ErrorAt(HistoryBuilder().Invoke(1, "cas", {1, 2}).Info(1, "cas", {1, 3}).Text(), 2)
                .find("value differs"),
            std::string::npos);
}

TEST(HistoryTest, InvokeWhilePendingIsUnreadable) {
  const std::string text =
      HistoryBuilder().Write(2, 1).Invoke(1, "write", 1).Invoke(1, "read", nullptr).Text();
  EXPECT_NE(ErrorAt(text, 4).find("pending"), std::string::npos);
}

TEST(HistoryTest, InvokeAfterInfoIsUnreadable) {
  // The harness gives a process that crashed a new id; one that comes back is a bug somewhere.
  const std::string text = HistoryBuilder()
                               .Invoke(1, "write", 1)
                               .Info(1, "write", 1)
                               .Read(2, 1)
                               .Invoke(1, "read", nullptr)
                               .Text();
  EXPECT_NE(ErrorAt(text, 5).find("never reused"), std::string::npos);
}

TEST(HistoryTest, TimeGoingBackIsUnreadable) {
  const std::string text =
      std::string(kWriteInvoke) + "\n" +
      R"({"process":2,"type":"invoke","f":"read","key":"x","value":null,"time":5})" + "\n" +
      R"({"process":2,"type":"ok","f":"read","key":"x","value":null,"time":4})" + "\n";
  EXPECT_NE(ErrorAt(text, 3).find("real-time order"), std::string::npos);
}

TEST(HistoryTest, FormatsOpsForReports) {
  History h = HistoryBuilder()
                  .Op(3, "cas", {1, "a\"b"}, {1, "a\"b"})
                  .Read(4, nullptr)
                  .Invoke(5, "append", "z")
                  .Build();
  ASSERT_EQ(h.ops.size(), 3u);
  EXPECT_EQ(FormatOp(h.ops[0]), R"(process 3 cas 1 -> "a\"b" ok [invoked 10, completed 20])");
  EXPECT_EQ(FormatOp(h.ops[1]), "process 4 read -> null ok [invoked 30, completed 40]");
  EXPECT_EQ(FormatOp(h.ops[2]), R"(process 5 append "z" pending [invoked 50])");
}

}  // namespace
}  // namespace pharos::jepsen
