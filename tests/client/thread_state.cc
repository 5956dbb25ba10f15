#include "tests/client/thread_state.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

namespace pharos::testing {

pid_t CurrentThreadId() { return static_cast<pid_t>(syscall(SYS_gettid)); }

bool ThreadIsAsleep(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "tid (command) state ...": the command may hold spaces and parentheses, the state follows
  // the last ')'.
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'S';
}

}  // namespace pharos::testing
