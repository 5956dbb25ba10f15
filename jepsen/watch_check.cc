#include "jepsen/watch_check.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "jepsen/history_recorder.h"

namespace pharos::jepsen {
namespace {

std::string Describe(const WatchedEvent& e) {
  return std::string(e.type == WatchedEvent::Type::kPut ? "PUT " : "DELETE ") + JsonString(e.key) +
         " = " + JsonString(e.value) + " (mod_revision " + std::to_string(e.mod_revision) +
         ") under revision " + std::to_string(e.revision);
}

std::string DescribeAt(const std::vector<WatchedEvent>& events, size_t i) {
  return i < events.size() ? Describe(events[i]) : "nothing";
}

}  // namespace

std::vector<WatchedEvent> ExpectedWatchEvents(std::vector<WatchedEvent> final_state) {
  for (auto& e : final_state) {
    e.revision = e.mod_revision;  // a put's event comes under the revision that wrote it
    e.type = WatchedEvent::Type::kPut;
  }
  std::sort(final_state.begin(), final_state.end(), [](const auto& a, const auto& b) {
    return std::tie(a.mod_revision, a.key) < std::tie(b.mod_revision, b.key);
  });
  return final_state;
}

std::vector<std::string> CheckWatchEvents(const std::vector<WatchedEvent>& expected,
                                          const std::vector<std::vector<WatchedEvent>>& watchers,
                                          const std::vector<AckedWrite>& acked) {
  std::vector<std::string> problems;
  // Event by event, whole events: a gap, a repeat or a swap shifts the sequence, and a wrong
  // key, type, value or revision at the right place differs in place.
  for (size_t w = 0; w < watchers.size(); ++w) {
    const auto& got = watchers[w];
    if (got == expected) continue;
    size_t i = 0;
    while (i < got.size() && i < expected.size() && got[i] == expected[i]) ++i;
    problems.push_back("watcher " + std::to_string(w) + " saw " + std::to_string(got.size()) +
                       " events, the cluster holds " + std::to_string(expected.size()) +
                       "; first difference at event " + std::to_string(i) + ": expected " +
                       DescribeAt(expected, i) + ", got " + DescribeAt(got, i));
  }
  std::map<std::string, int64_t> held;  // key -> the revision that wrote it
  for (const auto& e : expected) held[e.key] = e.mod_revision;
  for (const auto& a : acked) {
    auto it = held.find(a.key);
    if (it == held.end()) {
      problems.push_back("acknowledged write of " + JsonString(a.key) + " at revision " +
                         std::to_string(a.revision) + " is lost");
    } else if (it->second != a.revision) {
      problems.push_back("acknowledged write of " + JsonString(a.key) + " at revision " +
                         std::to_string(a.revision) + " is held at revision " +
                         std::to_string(it->second));
    }
  }
  return problems;
}

}  // namespace pharos::jepsen
