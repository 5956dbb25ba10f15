// The watch workload's judgement, on its own so that hand-made events can be fed to it: what each
// watcher received, event by event, against the truth — every key the cluster holds under the
// watched prefix at the end (each written once, by one put: one PUT event per revision) — and
// the writes the cluster acknowledged. Correct: each watcher received exactly the truth's events,
// in revision order, none missing and none repeated, each with the key, type (PUT, not DELETE),
// value and mod_revision the cluster holds, under the revision it was written at; and every
// acknowledged write is in the truth with the key and revision it was acknowledged with.
// Plain functions; no thread rules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pharos::jepsen {

struct WatchedEvent {
  enum class Type { kPut, kDelete };
  int64_t revision = 0;      // the revision the watch response delivered the event under
  int64_t mod_revision = 0;  // the event's own
  std::string key;
  Type type = Type::kPut;
  std::string value;
  bool operator==(const WatchedEvent&) const = default;
};

struct AckedWrite {
  int64_t revision = 0;  // from the put's response header
  std::string key;
};

// The events a watcher from revision 1 must receive, in order, given the keys the cluster holds
// under the prefix at the end (`mod_revision` and `value` read from it; revision and type are
// filled in here). Sorts them.
std::vector<WatchedEvent> ExpectedWatchEvents(std::vector<WatchedEvent> final_state);

// One line per anomaly; empty when the watchers and the acknowledged writes agree with `expected`
// (as ExpectedWatchEvents returns it).
std::vector<std::string> CheckWatchEvents(const std::vector<WatchedEvent>& expected,
                                          const std::vector<std::vector<WatchedEvent>>& watchers,
                                          const std::vector<AckedWrite>& acked);

}  // namespace pharos::jepsen
