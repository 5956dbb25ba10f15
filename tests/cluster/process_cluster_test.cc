// The process tests' own harness: what it promises the tests after it.
#include "tests/cluster/process_cluster.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace pharos::testing {
namespace {

// The state letter of /proc/<pid>/stat ('R', 'S', 'Z', ...), or 0 once there is no such process.
char ProcessState(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? 0 : line[close + 2];
}

// A test binary that dies (a crash, SIGPIPE) runs no destructor: its members must die with it
// all the same (DieWithTheTest), or they hold their ports and CPU for every test after it.
TEST(ProcessClusterTest, MembersDieWithATestProcessThatDies) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);  // the member must not hold the pipe open
  const pid_t test_stand_in = fork();   // this test process is single-threaded here (ctest)
  if (test_stand_in == 0) {
    close(fds[0]);
    ProcessCluster cluster(1);
    const pid_t member = cluster.pid(0);
    const std::string dir = std::filesystem::path(cluster.data_dir(0)).parent_path().string();
    if (write(fds[1], &member, sizeof member) != sizeof member) _exit(1);
    if (write(fds[1], dir.data(), dir.size()) != static_cast<ssize_t>(dir.size())) _exit(1);
    close(fds[1]);
    for (;;) pause();  // until killed: the cluster's destructor never runs
  }
  close(fds[1]);
  pid_t member = 0;
  const ssize_t got = read(fds[0], &member, sizeof member);
  std::string dir;  // the cluster's, which no destructor will remove
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) dir.append(buf, n);
  close(fds[0]);
  const bool member_ran =
      got == static_cast<ssize_t>(sizeof member) && member > 0 &&
      Eventually([&] { return ProcessState(member) != 0; }, std::chrono::seconds(5));

  // Killed whatever happened above: a stand-in left paused would outlive this test.
  kill(test_stand_in, SIGKILL);
  waitpid(test_stand_in, nullptr, 0);
  if (!dir.empty()) std::filesystem::remove_all(dir);
  ASSERT_TRUE(member_ran) << "the stand-in's member never ran";
  // Its new parent may never reap it: a zombie is dead enough.
  const bool gone = Eventually(
      [&] {
        const char state = ProcessState(member);
        return state == 0 || state == 'Z' || state == 'X';
      },
      std::chrono::seconds(10));
  if (!gone) kill(member, SIGKILL);  // leave nothing running, whatever the verdict
  EXPECT_TRUE(gone) << "member " << member << " outlived its test process";
}

}  // namespace
}  // namespace pharos::testing
