// pharos-check's command line as a library function, so that tests drive the whole tool (flags,
// reading, checking, the report and the exit code) without spawning it.
//
//   pharos-check --model register [--json] [--timeout S] HISTORY.jsonl|-
//
// Prints `linearizable`, `not linearizable` or `unknown` (the search ran out of --timeout before
// any key was shown bad: no verdict) as the first line, then for a failure the key, the window of
// operations around the point where the search got stuck, the longest linearizable prefix and the
// operations that cannot follow it. With --json, stdout is
// one JSON document instead: {"valid", "keys", "ops", "configurations", "bad_keys", "anomaly"},
// or {"error"} for an unreadable history. No shared state: safe to call from any thread.
#pragma once

#include <iosfwd>

namespace pharos::jepsen {

inline constexpr int kExitLinearizable = 0;
inline constexpr int kExitNotLinearizable = 1;
// The history could not be read (or the command line was wrong).
inline constexpr int kExitUnreadable = 2;
// The search ran out of time: no verdict, never to be taken for one.
inline constexpr int kExitUnknown = 3;

// Runs the tool; `in` is read when the history is `-`. Returns the exit code.
int RunCheckCommand(int argc, const char* const* argv, std::istream& in, std::ostream& out,
                    std::ostream& err);

}  // namespace pharos::jepsen
