#include "common/duration.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace pharos {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The nanoseconds in one `unit`, or 0 for no such unit.
double NanosecondsPer(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "µs") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  if (unit == "m") return 60e9;
  if (unit == "h") return 3600e9;
  return 0;
}

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(
    std::string_view text, std::optional<std::chrono::nanoseconds> bare_number_unit) {
  const std::string original(text);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("'" + original + "': " + why);
  };
  constexpr const char* kExamples = " (a duration such as 1h30m, 10s or 500ms)";
  if (text.empty()) return bad(std::string("empty") + kExamples);
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.front() == '-') return bad("must not be negative");
  double total_ns = 0;
  bool first = true;
  while (!text.empty()) {
    size_t end = 0;
    bool digits = false, point = false;
    for (; end < text.size(); ++end) {
      if (IsDigit(text[end])) {
        digits = true;
      } else if (text[end] == '.' && !point) {
        point = true;
      } else {
        break;
      }
    }
    if (!digits) return bad(std::string("not a number followed by a unit") + kExamples);
    const double number = std::strtod(std::string(text.substr(0, end)).c_str(), nullptr);
    text.remove_prefix(end);
    size_t unit_end = 0;
    while (unit_end < text.size() && !IsDigit(text[unit_end]) && text[unit_end] != '.') {
      ++unit_end;
    }
    const std::string_view unit = text.substr(0, unit_end);
    text.remove_prefix(unit_end);
    if (unit.empty()) {
      // Only a lone number may go without a unit, and only where the caller says what it means.
      if (!first || !text.empty() || !bare_number_unit) {
        return bad(std::string("a number without a unit") + kExamples);
      }
      total_ns = number * static_cast<double>(bare_number_unit->count());
      break;
    }
    const double per = NanosecondsPer(unit);
    if (per == 0)
      return bad("unknown unit '" + std::string(unit) + "' (use h, m, s, ms, us or ns)");
    total_ns += number * per;
    first = false;
  }
  // About 292 years: past it, the count no longer fits.
  if (total_ns >= static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return bad("too long");
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total_ns)));
}

}  // namespace pharos
