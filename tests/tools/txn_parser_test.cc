// Tests of tools/pharosctl/txn_parser.cc: etcdctl's txn text, its quoting, and the requests it
// builds — checked field by field on the protobuf that goes to the server.
#include "tools/pharosctl/txn_parser.h"

#include <gtest/gtest.h>

#include <sstream>

namespace pharos::pharosctl {
namespace {

TEST(TxnParserTest, QuotedStringsFollowGoEscapes) {
  std::string_view text = R"("a\"b\\c\n\t\x41\101\u00e9" rest)";
  auto s = ParseQuoted(text);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*s, "a\"b\\c\n\tAA\xc3\xa9");
  EXPECT_EQ(text, " rest");

  std::string_view raw = "`no \\n escapes`";
  auto r = ParseQuoted(raw);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "no \\n escapes");

  for (std::string_view bad : {"\"unterminated", "\"bad \\q escape\"", "\"\\x4\"", "plain"}) {
    std::string_view t = bad;
    EXPECT_FALSE(ParseQuoted(t).ok()) << bad;
  }
}

TEST(TxnParserTest, SplitArgsLikeArgify) {
  auto a = SplitArgs(R"(put  "a key" 'it\s raw'  "tab\there" plain)");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, (std::vector<std::string>{"put", "a key", "it\\s raw", "tab\there", "plain"}));
  EXPECT_FALSE(SplitArgs(R"(put "open)").ok());
  EXPECT_FALSE(SplitArgs("put 'open").ok());
  EXPECT_FALSE(SplitArgs(R"(put "a"b)").ok());  // a quote glued to a word is a typo
}

TEST(TxnParserTest, CompareTargetsAndOperators) {
  auto mod = ParseCompare(R"(mod("k") > "0")");
  ASSERT_TRUE(mod.ok()) << mod.status().ToString();
  EXPECT_EQ(mod->proto().target(), pb::Compare::MOD);
  EXPECT_EQ(mod->proto().result(), pb::Compare::GREATER);
  EXPECT_EQ(mod->proto().key(), "k");
  EXPECT_EQ(mod->proto().mod_revision(), 0);

  auto value = ParseCompare(R"(value("k 1") = "v \"q\"")");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->proto().target(), pb::Compare::VALUE);
  EXPECT_EQ(value->proto().result(), pb::Compare::EQUAL);
  EXPECT_EQ(value->proto().key(), "k 1");
  EXPECT_EQ(value->proto().value(), "v \"q\"");

  auto version = ParseCompare(R"(ver("k") != "3")");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->proto().target(), pb::Compare::VERSION);
  EXPECT_EQ(version->proto().result(), pb::Compare::NOT_EQUAL);
  EXPECT_EQ(version->proto().version(), 3);

  auto create = ParseCompare(R"(  create("k")<"12"  )");
  ASSERT_TRUE(create.ok()) << create.status().ToString();
  EXPECT_EQ(create->proto().target(), pb::Compare::CREATE);
  EXPECT_EQ(create->proto().result(), pb::Compare::LESS);
  EXPECT_EQ(create->proto().create_revision(), 12);

  // Lease operands are lease ids as pharosctl prints them: hex.
  auto lease = ParseCompare(R"(lease("k") = "694d77aa9e38260f")");
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->proto().target(), pb::Compare::LEASE);
  EXPECT_EQ(lease->proto().lease(), 0x694d77aa9e38260fLL);

  auto shorthand = ParseCompare(R"(c("k") = "0")");
  ASSERT_TRUE(shorthand.ok());
  EXPECT_EQ(shorthand->proto().target(), pb::Compare::CREATE);
}

TEST(TxnParserTest, MalformedComparesAreRefusedWithTheLine) {
  for (const char* bad : {
           R"(mod "k" > "0")",         // no parenthesis
           R"(mod(k) > "0")",          // unquoted key
           R"(mod("k" > "0")",         // no closing parenthesis
           R"(mod("k") >= "0")",       // unknown operator
           R"(mod("k") > 0)",          // unquoted operand
           R"(mod("k") > "zero")",     // not a number
           R"(size("k") > "0")",       // unknown target
           R"(lease("k") = "xyz")",    // not hex
           R"(value("k") = "v" junk)"  // trailing text
       }) {
    auto c = ParseCompare(bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("malformed comparison"), std::string::npos) << bad;
  }
}

TEST(TxnParserTest, OpsTakeEtcdctlFlags) {
  auto put = ParseOp(R"(put --lease=ff --prev-kv k "v w")");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(put->proto().has_request_put());
  EXPECT_EQ(put->proto().request_put().key(), "k");
  EXPECT_EQ(put->proto().request_put().value(), "v w");
  EXPECT_EQ(put->proto().request_put().lease(), 0xff);
  EXPECT_TRUE(put->proto().request_put().prev_kv());

  auto get = ParseOp("get --prefix --limit 2 --rev=7 --keys-only /a/");
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  const auto& range = get->proto().request_range();
  EXPECT_EQ(range.key(), "/a/");
  EXPECT_EQ(range.range_end(), "/a0");
  EXPECT_EQ(range.limit(), 2);
  EXPECT_EQ(range.revision(), 7);
  EXPECT_TRUE(range.keys_only());
  EXPECT_FALSE(range.count_only());

  auto ranged = ParseOp("get a c");
  ASSERT_TRUE(ranged.ok());
  EXPECT_EQ(ranged->proto().request_range().range_end(), "c");

  auto del = ParseOp("del --from-key --prev-kv k");
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del->proto().request_delete_range().key(), "k");
  EXPECT_EQ(del->proto().request_delete_range().range_end(), std::string(1, '\0'));
  EXPECT_TRUE(del->proto().request_delete_range().prev_kv());

  // A value that looks like a flag needs "--", as on the command line.
  auto dash = ParseOp("put k -- -v");
  ASSERT_TRUE(dash.ok()) << dash.status().ToString();
  EXPECT_EQ(dash->proto().request_put().value(), "-v");
}

TEST(TxnParserTest, BadOpsAreRefused) {
  for (const char* bad : {"put k", "put k v extra", "get", "del a b c", "watch k",
                          "get --prefix a b", "get --limit=x k", "put --lease=zz k v",
                          "put --prefix k v", "get --bogus k", "del --prefix --from-key k"}) {
    auto op = ParseOp(bad);
    ASSERT_FALSE(op.ok()) << bad;
    EXPECT_NE(op.status().message().find("invalid txn request"), std::string::npos) << bad;
  }
}

TEST(TxnParserTest, ThreeSectionsSeparatedByBlankLines) {
  std::istringstream in(
      "mod(\"k\") > \"0\"\n"
      "value(\"k\") = \"v\"\n"
      "\n"
      "put k \"new\"\n"
      "get k\n"
      "\n"
      "del k\n"
      "\n");
  auto txn = ParseTxn(in);
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  const auto& r = txn->request();
  ASSERT_EQ(r.compare_size(), 2);
  EXPECT_EQ(r.compare(0).target(), pb::Compare::MOD);
  EXPECT_EQ(r.compare(1).value(), "v");
  ASSERT_EQ(r.success_size(), 2);
  EXPECT_EQ(r.success(0).request_put().value(), "new");
  EXPECT_TRUE(r.success(1).has_request_range());
  ASSERT_EQ(r.failure_size(), 1);
  EXPECT_TRUE(r.failure(0).has_request_delete_range());
}

TEST(TxnParserTest, SectionsMayBeEmptyButEachEndsWithABlankLine) {
  // No compares (always succeeds), a success op, no failure ops: three blank lines in all.
  std::istringstream in("\nput k v\n\n\n");
  auto txn = ParseTxn(in);
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  EXPECT_EQ(txn->request().compare_size(), 0);
  EXPECT_EQ(txn->request().success_size(), 1);
  EXPECT_EQ(txn->request().failure_size(), 0);

  std::istringstream empty("\n\n\n");
  auto nothing = ParseTxn(empty);
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_EQ(nothing->request().compare_size() + nothing->request().success_size() +
                nothing->request().failure_size(),
            0);

  // What follows the third blank line is not read, as etcdctl.
  std::istringstream more("\nput k v\n\n\ntrailing words");
  EXPECT_TRUE(ParseTxn(more).ok());
}

TEST(TxnParserTest, AScriptCutShortIsRefusedNotCommitted) {
  const std::string compares = "value(\"k\") = \"v\"\n";
  const struct {
    std::string text;
    const char* section;  // where the input ran out
  } kCut[] = {
      {"", "compares"},
      {compares, "compares"},
      {"value(\"k\") = \"v", "compares"},            // mid-line
      {compares + "\nput a 1", "success requests"},  // the last line has no end
      {compares + "\nput a 1\n", "success requests"},
      {compares + "\nput a 1\n\n", "failure requests"},
      {compares + "\nput a 1\n\nput b 2\n", "failure requests"},
      {compares + "\nput a 1\n\nput b 2\n  ", "failure requests"},  // a blank with no end
  };
  for (const auto& cut : kCut) {
    std::istringstream in(cut.text);
    auto txn = ParseTxn(in);
    ASSERT_FALSE(txn.ok()) << cut.text;
    EXPECT_NE(txn.status().message().find(std::string("unexpected end of input in the ") +
                                          cut.section + " section"),
              std::string::npos)
        << cut.text << " -> " << txn.status().message();
  }
}

TEST(TxnParserTest, InteractiveInputCutShortIsRefusedToo) {
  std::istringstream in("\nput k v\n");
  std::ostringstream prompts;
  auto txn = ParseTxn(in, &prompts);
  ASSERT_FALSE(txn.ok());
  EXPECT_NE(txn.status().message().find("success requests section"), std::string::npos)
      << txn.status().message();
  EXPECT_EQ(prompts.str(), "compares:\n\nsuccess requests (get, put, del):\n");
}

TEST(TxnParserTest, ErrorsNameTheBadLine) {
  std::istringstream in("mod(\"k\") > \"0\"\n\nput k v\nfrobnicate k\n");
  auto txn = ParseTxn(in);
  ASSERT_FALSE(txn.ok());
  EXPECT_NE(txn.status().message().find("frobnicate k"), std::string::npos);
}

TEST(TxnParserTest, InteractivePromptsAnnounceEachSection) {
  std::istringstream in("\nput k v\n\nget k\n\n");
  std::ostringstream prompts;
  auto txn = ParseTxn(in, &prompts);
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(prompts.str(),
            "compares:\n\nsuccess requests (get, put, del):\n\nfailure requests (get, put, "
            "del):\n");
}

}  // namespace
}  // namespace pharos::pharosctl
