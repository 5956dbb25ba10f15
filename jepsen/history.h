// A Jepsen-style history: the operations clients invoked against the cluster and how each ended,
// read from the harness's JSON-lines file (one event a line, in real-time order) and paired into
// operations. The checker works on operations, the reports on their times and line numbers.
// Plain values and free functions; no thread rules.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace pharos::jepsen {

// A register's value as a history records it: absent (JSON null), a string or an integer.
// "1" and 1 are different values, as they are different bytes on the wire.
using Value = std::variant<std::monostate, std::string, int64_t>;

// JSON text of a value: null, "text" (escaped) or 12.
std::string FormatValue(const Value& v);

enum class Fn { kRead, kWrite, kCas, kAppend };

// How an operation ended. kInfo covers both an explicit "info" completion and an invoke the
// history never completed: either way it may have taken effect at any moment after its invoke,
// or never.
enum class Outcome { kOk, kFail, kInfo };

std::string_view FnName(Fn f);
std::string_view OutcomeName(Outcome o);

struct Op {
  int64_t process = 0;
  Fn f = Fn::kRead;
  std::string key;
  // read: the value read (ok only; null when the key was absent); write: the value written;
  // cas: the new value; append: the string appended.
  Value value;
  // cas only: the value it compared against (null: "the key is absent").
  Value expected;
  Outcome outcome = Outcome::kInfo;
  int64_t invoke_time = 0;
  // The completion event's time; absent when the history ended before the op completed.
  std::optional<int64_t> complete_time;
  // 1-based lines of the two events; complete_line is 0 when there was no completion. Lines are
  // the real-time order: event A happened before event B iff A's line is smaller.
  int invoke_line = 0;
  int complete_line = 0;
};

// One line for reports: `process 3 cas 1 -> 2 ok [invoked 10, completed 25]`.
std::string FormatOp(const Op& op);

struct History {
  std::vector<Op> ops;  // in invoke order
};

// Reads a history. Blank lines are skipped. A line that is not a JSON object, lacks a field,
// names an unknown type or f, carries a value of the wrong kind, completes an op that was never
// invoked (or with another f, key or value than its invoke), invokes on a process whose op is
// still pending or that already ended with info, or goes back in time makes the whole history
// unreadable: InvalidArgument "line N: why". Extra fields are ignored.
Result<History> ReadHistory(std::istream& in);

}  // namespace pharos::jepsen
