// Ctl: pharosctl run as its users run it, for process tests — the binary in a child process,
// stdin from a string, stdout and stderr in files of its own, stopped (SIGKILL) and reaped when
// the object goes, whatever happened in between. Pharosctl(args) runs one to the end.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cluster/process_cluster.h"

namespace pharos::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One pharosctl process: stdin from a string, stdout and stderr in files of its own. Stopped
// (SIGKILL) and reaped when the object goes, whatever happened in between.
class Ctl {
 public:
  Ctl(std::vector<std::string> args, const std::string& stdin_text = "") {
    static std::atomic<int> counter{0};
    dir_ = (std::filesystem::temp_directory_path() /
            ("pharosctl-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++)))
               .string();
    std::filesystem::create_directories(dir_);
    {
      std::ofstream in(dir_ + "/stdin", std::ios::binary);
      in << stdin_text;
    }
    args.insert(args.begin(), PHAROSCTL_BINARY);
    pid_ = fork();
    if (pid_ == 0) {
      const int in = open((dir_ + "/stdin").c_str(), O_RDONLY);
      const int out = open((dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open((dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0 || err < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Ctl() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  Ctl(const Ctl&) = delete;
  Ctl& operator=(const Ctl&) = delete;

  std::string out() const { return ReadAll(dir_ + "/stdout"); }
  std::string err() const { return ReadAll(dir_ + "/stderr"); }
  void Signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    pid_ = -1;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  // The exit code (128 + signal if killed) once it ends within `deadline`, or -1.
  int Wait(std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    if (!Eventually([&] { return !Running(); }, deadline)) return -1;
    return code_;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int code_ = -1;
};

struct Outcome {
  int code;
  std::string out, err;
};

// pharosctl with `args`, waited for (-1 as the code if it had not ended within `deadline`).
inline Outcome Pharosctl(std::vector<std::string> args, const std::string& stdin_text = "",
                         std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  Ctl ctl(std::move(args), stdin_text);
  const int code = ctl.Wait(deadline);
  return {code, ctl.out(), ctl.err()};
}

}  // namespace pharos::testing
