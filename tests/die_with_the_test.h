// DieWithTheTest: for a test's forked child, before it execs a server. A test binary that dies
// (a crash, an assertion in a destructor, SIGPIPE from a closed pipe) never runs the destructors
// that stop its servers by PID; they would run on, holding ports and CPU, and the next tests on
// the same machine would meet them. With this, the kernel kills the child when the thread that
// forked it ends: every caller forks from the test's main thread, which ends with the process.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace pharos::testing {

// `test_pid` is the test process's pid, read before the fork. Exits if the test already died.
inline void DieWithTheTest(pid_t test_pid) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(124);
  if (getppid() != test_pid) _exit(124);  // it died before the line above took effect
}

}  // namespace pharos::testing
