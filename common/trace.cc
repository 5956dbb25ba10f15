#include "common/trace.h"

#include <cstdio>
#include <random>

namespace pharos {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char ch : s) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string NewTraceparent() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00-%016llx%016llx-%016llx-01",
                static_cast<unsigned long long>(rng()), static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

std::string TraceIdOf(std::string_view tp) {
  // version "-" trace-id (32) "-" parent-id (16) "-" flags (2); later versions may append more.
  if (tp.size() < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return "";
  const std::string_view version = tp.substr(0, 2), trace = tp.substr(3, 32),
                         parent = tp.substr(36, 16), flags = tp.substr(53, 2);
  if (!IsLowerHex(version) || version == "ff" || !IsLowerHex(trace) || !IsLowerHex(parent) ||
      !IsLowerHex(flags)) {
    return "";
  }
  if (version == "00" && tp.size() != 55) return "";
  if (tp.size() > 55 && tp[55] != '-') return "";
  // All-zero ids are invalid. Compared in place: this runs for every client request.
  const auto all_zero = [](std::string_view id) {
    return id.find_first_not_of('0') == std::string_view::npos;
  };
  if (all_zero(trace) || all_zero(parent)) return "";
  return std::string(trace);
}

}  // namespace pharos
