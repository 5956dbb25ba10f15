// Durations as Go's time.ParseDuration reads them, which is what etcd's and Consul's flags take:
// one or more <number><unit> pairs ("1h30m", "2.5s", "500ms"), with the units h, m, s, ms, us
// (or µs) and ns. A number is decimal digits with at most one point: no sign, exponent, hex or
// space, which strtod alone would let through. "0" alone is zero, as in Go.
//
// Every place that reads a duration from a user (pharosd's flags, pharosctl's, the SDK's
// ConfigWatcher) parses it here, so that one spelling means one thing everywhere; each caller then
// checks the range it allows and rounds to the precision it keeps.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/result.h"

namespace pharos {

// `bare_number_unit`: what a number without any unit means (etcd's auto-compaction retention
// counts hours, a millisecond flag milliseconds); nullopt refuses it, as Go does. The error says
// what was wrong, without naming the flag: the caller adds that.
Result<std::chrono::nanoseconds> ParseDuration(
    std::string_view text, std::optional<std::chrono::nanoseconds> bare_number_unit = std::nullopt);

}  // namespace pharos
