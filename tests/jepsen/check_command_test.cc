// Tests of jepsen/check_command.cc: pharos-check's flags, reports and exit codes, through the
// library entry point, and once through the real binary.
#include "jepsen/check_command.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/jepsen/history_builder.h"
#include "tests/jepsen/history_generator.h"

namespace pharos::jepsen {
namespace {

using nlohmann::json;

struct ToolRun {
  int code = -1;
  std::string out;
  std::string err;
};

ToolRun Check(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), "pharos-check");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::istringstream in(stdin_text);
  std::ostringstream out;
  std::ostringstream err;
  ToolRun r;
  r.code = RunCheckCommand(static_cast<int>(argv.size()), argv.data(), in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// Writes `text` to a fresh file in the test's temporary directory.
std::string TempFile(const std::string& name, const std::string& text) {
  const std::string path =
      ::testing::TempDir() + "pharos_check_" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

// Key "b" holds a stale read; "a" is fine.
std::string BadHistory() {
  return HistoryBuilder()
      .Write(1, 1, "a")
      .Write(1, 1, "b")
      .Invoke(3, "write", 7, "b")
      .Read(2, 1, "a")
      .Read(2, nullptr, "b")
      .Ok(3, "write", 7, "b")
      .Text();
}

TEST(CheckCommandTest, LinearizableHistoryExitsZero) {
  ToolRun r = Check({"--model", "register", "-"},
                    HistoryBuilder().Write(1, 1).Read(2, 1).Write(1, "z", "y").Text());
  EXPECT_EQ(r.code, kExitLinearizable) << r.err;
  EXPECT_EQ(FirstLine(r.out), "linearizable");
  EXPECT_NE(r.out.find("2 keys, 3 operations"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(CheckCommandTest, ModelDefaultsToRegister) {
  EXPECT_EQ(Check({"-"}, HistoryBuilder().Write(1, 1).Read(2, 1).Text()).code, 0);
}

TEST(CheckCommandTest, NotLinearizableNamesTheKeyAndTheWindow) {
  ToolRun r = Check({"--model", "register", "-"}, BadHistory());
  EXPECT_EQ(r.code, kExitNotLinearizable);
  EXPECT_EQ(FirstLine(r.out), "not linearizable");
  EXPECT_NE(r.out.find("2 keys, 5 operations; not linearizable: \"b\"\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("key \"b\": the search could not linearize\n"
                       "  process 2 read -> null ok [invoked 80, completed 90] (line 8-9)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("state there: 1, 7\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("concurrent with it:\n  process 3 write 7 ok [invoked 50, completed 100]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("last completed before it:\n  process 1 write 1 ok"), std::string::npos)
      << r.out;
}

TEST(CheckCommandTest, JsonReport) {
  ToolRun bad = Check({"--json", "-"}, BadHistory());
  EXPECT_EQ(bad.code, kExitNotLinearizable);
  const json j = json::parse(bad.out);  // stdout is one JSON document
  EXPECT_EQ(j["valid"], false);
  EXPECT_EQ(j["keys"], 2);
  EXPECT_EQ(j["ops"], 5);
  EXPECT_EQ(j["bad_keys"], json::array({"b"}));
  const json& a = j["anomaly"];
  EXPECT_EQ(a["key"], "b");
  EXPECT_EQ(a["op"], json({{"process", 2},
                           {"f", "read"},
                           {"type", "ok"},
                           {"value", nullptr},
                           {"invoke_time", 80},
                           {"complete_time", 90},
                           {"invoke_line", 8},
                           {"complete_line", 9}}));
  ASSERT_EQ(a["concurrent"].size(), 1u);
  EXPECT_EQ(a["concurrent"][0]["process"], 3);
  EXPECT_EQ(a["previous"]["process"], 1);
  EXPECT_EQ(a["states"], json::array({"1", "7"}));

  ToolRun good =
      Check({"--json", "-"}, HistoryBuilder().Op(1, "cas", {nullptr, 2}, {nullptr, 2}).Text());
  EXPECT_EQ(good.code, kExitLinearizable);
  const json g = json::parse(good.out);
  EXPECT_EQ(g["valid"], true);
  EXPECT_EQ(g["keys"], 1);
  EXPECT_EQ(g["ops"], 1);
  EXPECT_TRUE(g["anomaly"].is_null());
}

TEST(CheckCommandTest, NotLinearizableShowsTheLongestPrefixAndWhatCannotFollowIt) {
  // Both writes can be linearized, in that order; the read of nothing can follow neither.
  ToolRun r = Check({"-"}, BadHistory());
  EXPECT_NE(r.out.find("longest linearizable prefix: 2 operations:\n"
                       "  process 1 write 1 ok [invoked 30, completed 40] (line 3-4)\n"
                       "  process 3 write 7 ok [invoked 50, completed 100] (line 5-10)\n"
                       "cannot follow it:\n"
                       "  process 2 read -> null ok [invoked 80, completed 90] (line 8-9)\n"),
            std::string::npos)
      << r.out;
  const json j = json::parse(Check({"--json", "-"}, BadHistory()).out);
  const json& a = j["anomaly"];
  EXPECT_EQ(a["prefix_length"], 2);
  ASSERT_EQ(a["prefix"].size(), 2u);
  EXPECT_EQ(a["prefix"][0]["process"], 1);
  EXPECT_EQ(a["prefix"][1]["process"], 3);
  ASSERT_EQ(a["cannot_follow"].size(), 1u);
  EXPECT_EQ(a["cannot_follow"][0]["process"], 2);
  EXPECT_EQ(a["cannot_follow"][0]["f"], "read");
}

TEST(CheckCommandTest, OutOfTimeIsUnknownNeverAVerdict) {
  GeneratorOptions options;
  options.ops = 4000;
  options.workers = 20;
  options.keys = 4;
  const std::string history = GenerateHistory(options);
  ToolRun late = Check({"--timeout", "0.000001", "-"}, history);
  EXPECT_EQ(late.code, kExitUnknown) << late.out << late.err;
  EXPECT_EQ(FirstLine(late.out), "unknown");
  EXPECT_NE(late.out.find("out of time on 4 key(s)"), std::string::npos) << late.out;
  const json j = json::parse(Check({"--json", "--timeout", "0.000001", "-"}, history).out);
  EXPECT_EQ(j["valid"], "unknown");
  EXPECT_EQ(j["timed_out_keys"].size(), 4u);
  // With time enough, the same history gets its verdict; a bad one is still called bad.
  EXPECT_EQ(Check({"--timeout", "60", "-"}, history).code, kExitLinearizable);
  EXPECT_EQ(Check({"--timeout", "60", "-"}, BadHistory()).code, kExitNotLinearizable);
  EXPECT_EQ(Check({"--timeout", "-1", "-"}, history).code, kExitUnreadable);
}

TEST(CheckCommandTest, JsonReportListsCasValuesAndPendingOps) {
  const std::string text = HistoryBuilder()
                               .Write(1, 1)
                               .Invoke(2, "cas", {1, 2})
                               .Invoke(3, "read", nullptr)
                               .Ok(3, "read", 5)
                               .Text();
  ToolRun r = Check({"--json", "-"}, text);
  EXPECT_EQ(r.code, kExitNotLinearizable);
  const json j = json::parse(r.out);
  const json& pending = j["anomaly"]["concurrent"][0];
  EXPECT_EQ(pending["f"], "cas");
  EXPECT_EQ(pending["value"], json::array({1, 2}));
  EXPECT_EQ(pending["type"], "info");
  EXPECT_TRUE(pending["complete_time"].is_null());
  EXPECT_TRUE(pending["complete_line"].is_null());
}

TEST(CheckCommandTest, UnreadableInputExitsTwoWithTheLine) {
  const std::string text = HistoryBuilder().Write(1, 1).Text() + "{\"process\": 1, oops\n";
  ToolRun r = Check({"-"}, text);
  EXPECT_EQ(r.code, kExitUnreadable);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("pharos-check: <stdin>: line 3: not JSON", 0), 0u) << r.err;

  const std::string orphan = HistoryBuilder().Write(1, 1).Read(2, 1).Ok(4, "read", 1).Text();
  ToolRun j = Check({"--json", "-"}, orphan);
  EXPECT_EQ(j.code, kExitUnreadable);
  EXPECT_EQ(json::parse(j.out)["error"], "line 5: completion without a matching invoke");
}

TEST(CheckCommandTest, ReadsAFile) {
  const std::string path = TempFile("bad.jsonl", BadHistory());
  ToolRun r = Check({"--model", "register", path});
  EXPECT_EQ(r.code, kExitNotLinearizable);
  const std::string malformed = TempFile("malformed.jsonl", "\n\n[]\n");
  ToolRun m = Check({malformed});
  EXPECT_EQ(m.code, kExitUnreadable);
  EXPECT_NE(m.err.find(malformed + ": line 3:"), std::string::npos) << m.err;
  ToolRun missing = Check({path + ".missing"});
  EXPECT_EQ(missing.code, kExitUnreadable);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos);
  std::remove(path.c_str());
  std::remove(malformed.c_str());
}

TEST(CheckCommandTest, BadCommandLinesExitTwo) {
  EXPECT_EQ(Check({"--model", "queue", "-"}).code, kExitUnreadable);
  EXPECT_EQ(Check({}).code, kExitUnreadable);
  EXPECT_EQ(Check({"--frobnicate", "-"}).code, kExitUnreadable);
  ToolRun help = Check({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--model"), std::string::npos);
}

// The binary, for what only a process shows: its exit status and stdin.
int RunBinary(const std::string& args, const std::string& stdin_path, std::string* out) {
  const std::string out_path = TempFile("binary.out", "");
  const std::string command =
      std::string(PHAROS_CHECK) + " " + args + " <" + stdin_path + " >" + out_path + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream f(out_path);
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  std::remove(out_path.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CheckCommandTest, BinaryExitStatusAndStdin) {
  const std::string good = TempFile("good.jsonl", HistoryBuilder().Write(1, 1).Read(2, 1).Text());
  const std::string bad = TempFile("bad.jsonl", BadHistory());
  const std::string broken =
      TempFile("broken.jsonl",
               HistoryBuilder().Write(1, 1).Text() +
                   R"({"process":1,"type":"invoke","f":"scan","key":"x","value":1,"time":99})");
  std::string out;
  EXPECT_EQ(RunBinary("--model register -", good, &out), 0) << out;
  EXPECT_EQ(FirstLine(out), "linearizable");
  EXPECT_EQ(RunBinary("--model register -", bad, &out), 1) << out;
  EXPECT_EQ(FirstLine(out), "not linearizable");
  EXPECT_EQ(RunBinary("--model register " + bad, good, &out), 1) << out;
  EXPECT_EQ(RunBinary("--model register -", broken, &out), 2) << out;
  EXPECT_NE(out.find("line 3: bad \"f\""), std::string::npos) << out;
  for (const std::string& p : {good, bad, broken}) std::remove(p.c_str());
}

}  // namespace
}  // namespace pharos::jepsen
