// Child: a helper process for process tests — `args[0]` run with its stdout in a file, stopped
// by PID (SIGKILL) and reaped on destruction if still running.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/cluster/process_cluster.h"
#include "tests/die_with_the_test.h"

namespace pharos::testing {

class Child {
 public:
  Child(std::vector<std::string> args, const std::string& out_file) {
    const pid_t test_pid = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      DieWithTheTest(test_pid);
      FILE* out = std::fopen(out_file.c_str(), "w");
      if (out) dup2(fileno(out), 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void Kill() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // The exit status once it ends by itself within `deadline`, or -1.
  int Wait(std::chrono::milliseconds deadline) {
    int status = -1;
    const bool ended =
        Eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, deadline);
    if (!ended) return -1;
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace pharos::testing
