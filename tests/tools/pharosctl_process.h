// PharosctlProcess: the pharosctl binary run as its users run it, for what only a process shows —
// stdin, exit codes, signals, and which requests reach the (fake) server. Stdin comes from a
// string; stdout and stderr go to files of its own. The child is killed (SIGKILL) and reaped
// when the object goes, whatever happened in between. The binary is PHAROSCTL_UNDER_TEST, which
// each test target defines (pharosctl, built with libstdc++'s assertions on: tools/CMakeLists.txt,
// so that an undefined use of the standard library aborts instead of passing unseen).
//
// Thread rules: one thread uses an object.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/eventually.h"

namespace pharos::testing {

// All of a file's bytes ("" if it cannot be read).
inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `command` with the global flags that point it at `endpoint`.
inline std::vector<std::string> At(const std::string& endpoint, std::vector<std::string> command) {
  command.insert(command.begin(), {"--endpoints", endpoint});
  return command;
}

struct PharosctlOptions {
  std::string stdin_text;
  // When the test runs as root: run the child as user nobody, so that file permissions bind it
  // (root passes every permission check).
  bool as_nobody = false;
};

class PharosctlProcess {
 public:
  explicit PharosctlProcess(std::vector<std::string> args, PharosctlOptions options = {}) {
    static std::atomic<int> counter{0};
    dir_ = (std::filesystem::temp_directory_path() /
            ("pharosctl-process-" + std::to_string(getpid()) + "-" + std::to_string(counter++)))
               .string();
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ + "/stdin", std::ios::binary) << options.stdin_text;
    args.insert(args.begin(), PHAROSCTL_UNDER_TEST);
    const bool drop = options.as_nobody && geteuid() == 0;
    pid_ = fork();
    if (pid_ == 0) {
      const int in = open((dir_ + "/stdin").c_str(), O_RDONLY);
      const int out = open((dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open((dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0 || err < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      if (drop && (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
        _exit(125);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~PharosctlProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  PharosctlProcess(const PharosctlProcess&) = delete;
  PharosctlProcess& operator=(const PharosctlProcess&) = delete;

  std::string out() const { return ReadAll(dir_ + "/stdout"); }
  std::string err() const { return ReadAll(dir_ + "/stderr"); }
  void Signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }
  // Whether it still runs (reaping it, and keeping its exit code, once it ended).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    pid_ = -1;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  // The exit code (128 + the signal if one ended it) once it ends within `deadline`, else -1.
  int Wait(std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    if (!Eventually([&] { return !Running(); }, deadline)) return -1;
    return code_;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int code_ = -1;
};

struct PharosctlResult {
  int code;
  std::string out, err;
};

// pharosctl with `args`, waited for (code -1 if it had not ended within `deadline`).
inline PharosctlResult RunPharosctl(std::vector<std::string> args, PharosctlOptions options = {},
                                    std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  PharosctlProcess p(std::move(args), std::move(options));
  const int code = p.Wait(deadline);
  return {code, p.out(), p.err()};
}

}  // namespace pharos::testing
