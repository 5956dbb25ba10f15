// Tests of jepsen/register_workload.cc's judgement: each of pharos-check's exit codes becomes the
// verdict it means, and the run's exit code follows (RunExitCode) — above all, a checker that ran
// out of time or could not read the history is no verdict, never an anomaly.
#include "jepsen/register_workload.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "jepsen/check_command.h"

namespace pharos::jepsen {
namespace {

namespace fs = std::filesystem;

class RegisterWorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("register-workload-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The verdict of a run whose checker is a script that does `body` (and prints `json`).
  Verdict CheckWith(const std::string& body, const std::string& json = "") {
    const std::string checker = (dir_ / "fake-pharos-check").string();
    std::ofstream(checker) << "#!/bin/sh\n"
                           << (json.empty() ? "" : "echo '" + json + "'\n") << body << "\n";
    chmod(checker.c_str(), 0755);
    HistoryRecorder history((dir_ / "history.jsonl").string());
    RegisterWorkloadOptions options;
    options.checker = checker;
    options.results_path = (dir_ / "check.json").string();
    RegisterWorkload workload(options, history);  // never started: Check alone
    return workload.Check();
  }

  fs::path dir_;
};

TEST_F(RegisterWorkloadTest, LinearizableAndNotAreVerdicts) {
  const Verdict good = CheckWith("exit " + std::to_string(kExitLinearizable), R"({"valid":true})");
  EXPECT_TRUE(good.valid);
  EXPECT_EQ(good.no_verdict, NoVerdict::kNone);
  EXPECT_EQ(good.json, R"({"valid":true})");
  EXPECT_EQ(RunExitCode(good, /*counts=*/true), 0);
  EXPECT_EQ(RunExitCode(good, /*counts=*/false), 3);

  const Verdict bad = CheckWith("exit " + std::to_string(kExitNotLinearizable));
  EXPECT_FALSE(bad.valid);
  EXPECT_EQ(bad.no_verdict, NoVerdict::kNone);
  EXPECT_EQ(bad.summary, "NOT linearizable");
  EXPECT_EQ(RunExitCode(bad, true), 1);
  EXPECT_EQ(RunExitCode(bad, false), 1);
}

TEST_F(RegisterWorkloadTest, ACheckerOutOfTimeIsUnknownNotAnAnomaly) {
  const Verdict v = CheckWith("exit " + std::to_string(kExitUnknown), R"({"valid":"unknown"})");
  EXPECT_EQ(v.no_verdict, NoVerdict::kUnknown);
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  EXPECT_NE(v.summary.find("unknown"), std::string::npos) << v.summary;
  EXPECT_EQ(std::string(ValidJson(v)), "\"unknown\"");
  EXPECT_EQ(RunExitCode(v, true), 3);
}

TEST_F(RegisterWorkloadTest, AHistoryTheCheckerCannotReadIsUnreadableNotAnAnomaly) {
  for (const std::string& body :
       std::vector<std::string>{"exit " + std::to_string(kExitUnreadable), "kill -9 $$"}) {
    const Verdict v = CheckWith(body);
    EXPECT_EQ(v.no_verdict, NoVerdict::kUnreadable) << body;
    EXPECT_TRUE(v.problems.empty()) << body;
    EXPECT_NE(v.summary.find("not checked"), std::string::npos) << v.summary;
    EXPECT_EQ(std::string(ValidJson(v)), "\"unreadable\"");
    EXPECT_EQ(RunExitCode(v, true), 2) << body;
  }
}

}  // namespace
}  // namespace pharos::jepsen
