// Tests of jepsen/history_recorder.cc's write errors: a history that could not be written whole
// (here /dev/full, which fails every write with ENOSPC) says so, and keeps saying so, and the
// register workload then gives no verdict (exit 2) rather than checking what is left of it.
#include "jepsen/history_recorder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "jepsen/check_command.h"
#include "jepsen/register_workload.h"

namespace pharos::jepsen {
namespace {

namespace fs = std::filesystem;

void RecordAWrite(HistoryRecorder& history) {
  const int64_t t = history.Invoke(0, "write", "r0", "1");
  history.Complete(0, "ok", "write", "r0", "1", t);
}

TEST(HistoryRecorderTest, AHistoryWrittenWholeFlushesOk) {
  const fs::path path =
      fs::temp_directory_path() / ("history-recorder-" + std::to_string(getpid()) + ".jsonl");
  {
    HistoryRecorder history(path.string());
    RecordAWrite(history);
    EXPECT_TRUE(history.Flush().ok());
  }
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 2);
  fs::remove(path);
}

TEST(HistoryRecorderTest, AWriteErrorIsReportedAndSticks) {
  HistoryRecorder history("/dev/full");
  RecordAWrite(history);
  const Status first = history.Flush();
  EXPECT_EQ(first.code(), StatusCode::kIoError) << first.ToString();
  EXPECT_NE(first.message().find("/dev/full"), std::string::npos) << first.ToString();
  // And stays: the history is short a line whatever later writes do.
  EXPECT_EQ(history.Flush().code(), StatusCode::kIoError);
}

TEST(HistoryRecorderTest, AHistoryThatCouldNotBeCreatedIsAnError) {
  HistoryRecorder history("/nonexistent-dir/history.jsonl");
  RecordAWrite(history);
  EXPECT_EQ(history.Flush().code(), StatusCode::kIoError);
}

TEST(HistoryRecorderTest, AnIncompleteHistoryIsNotCheckedAndGivesNoVerdict) {
  const fs::path dir =
      fs::temp_directory_path() / ("history-recorder-check-" + std::to_string(getpid()));
  fs::create_directories(dir);
  // A checker that would call anything linearizable: it must not be asked.
  const std::string checker = (dir / "fake-pharos-check").string();
  const std::string asked = (dir / "asked").string();
  std::ofstream(checker) << "#!/bin/sh\ntouch '" << asked << "'\necho '{\"valid\":true}'\nexit "
                         << kExitLinearizable << "\n";
  chmod(checker.c_str(), 0755);
  HistoryRecorder history("/dev/full");
  RecordAWrite(history);
  RegisterWorkloadOptions options;
  options.checker = checker;
  options.results_path = (dir / "check.json").string();
  RegisterWorkload workload(options, history);  // never started: Check alone
  const Verdict v = workload.Check();
  EXPECT_EQ(v.no_verdict, NoVerdict::kUnreadable) << v.summary;
  EXPECT_FALSE(v.valid);
  EXPECT_TRUE(v.problems.empty());
  EXPECT_NE(v.summary.find("incomplete"), std::string::npos) << v.summary;
  EXPECT_EQ(std::string(ValidJson(v)), "\"unreadable\"");
  EXPECT_EQ(RunExitCode(v, /*counts=*/true), 2);
  EXPECT_FALSE(fs::exists(asked));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pharos::jepsen
