// Ctl: pharosctl run as its users run it, for process tests (tests/tools/pharosctl_process.h).
// Pharosctl(args) runs one to the end.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/cluster/process_cluster.h"
#include "tests/tools/pharosctl_process.h"

namespace pharos::testing {

// The cluster tests' names for tests/tools' PharosctlProcess (the binary is pharosctl itself
// here: tests/cluster/CMakeLists.txt), with stdin as a plain string.
class Ctl : public PharosctlProcess {
 public:
  explicit Ctl(std::vector<std::string> args, const std::string& stdin_text = "")
      : PharosctlProcess(std::move(args), {.stdin_text = stdin_text}) {}
};

using Outcome = PharosctlResult;

// pharosctl with `args`, waited for (-1 as the code if it had not ended within `deadline`).
inline Outcome Pharosctl(std::vector<std::string> args, const std::string& stdin_text = "",
                         std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  return RunPharosctl(std::move(args), {.stdin_text = stdin_text}, deadline);
}

}  // namespace pharos::testing
