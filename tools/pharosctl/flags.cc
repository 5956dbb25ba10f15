// Parsing of pharosctl's flag values (see flags.h).
#include "tools/pharosctl/flags.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace pharos::pharosctl {
namespace {

Status Bad(std::string m) { return Status::InvalidArgument(std::move(m)); }

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

Result<uint64_t> ParseHex(std::string_view text, const char* what) {
  std::string_view digits = text;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
  }
  if (digits.empty() || digits.size() > 16) {
    return Bad("bad " + std::string(what) + " '" + std::string(text) + "', expecting an id in hex");
  }
  uint64_t v = 0;
  for (char c : digits) {
    if (!IsHexDigit(c)) {
      return Bad("bad " + std::string(what) + " '" + std::string(text) +
                 "', expecting an id in hex");
    }
    const int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  const std::string original(text);
  if (text.empty()) return Bad("empty duration");
  // Nanoseconds as a double: enough precision for anything a command timeout is.
  double total_ns = 0;
  while (!text.empty()) {
    size_t i = 0;
    bool digits = false, dot = false;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || (text[i] == '.' && !dot))) {
      if (text[i] == '.') {
        dot = true;
      } else {
        digits = true;
      }
      ++i;
    }
    if (!digits) return Bad("bad duration '" + original + "' (e.g. 5s, 500ms, 1m30s)");
    const double number = std::strtod(std::string(text.substr(0, i)).c_str(), nullptr);
    text.remove_prefix(i);
    size_t u = 0;
    while (u < text.size() && !(text[u] >= '0' && text[u] <= '9') && text[u] != '.') ++u;
    const std::string_view unit = text.substr(0, u);
    text.remove_prefix(u);
    double scale = 0;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "µs") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else if (unit.empty()) {
      return Bad("missing unit in duration '" + original + "' (e.g. 5s, 500ms)");
    } else {
      return Bad("unknown unit '" + std::string(unit) + "' in duration '" + original + "'");
    }
    total_ns += number * scale;
  }
  if (total_ns <= 0) return Bad("duration '" + original + "' must be positive");
  const double ms = std::ceil(total_ns / 1e6);
  if (ms > static_cast<double>(std::numeric_limits<int32_t>::max())) {
    return Bad("duration '" + original + "' is too long");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

Result<int64_t> ParseLeaseId(std::string_view hex) {
  auto v = ParseHex(hex, "lease id");
  if (!v.ok()) return v.status();
  if (*v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Bad("lease id '" + std::string(hex) + "' is out of range");
  }
  return static_cast<int64_t>(*v);
}

Result<uint64_t> ParseMemberId(std::string_view hex) { return ParseHex(hex, "member id"); }

std::string LeaseHex(int64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string MemberHex(uint64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(id));
  return buf;
}

Result<std::vector<std::string>> ParseEndpoints(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    if (item.rfind("https://", 0) == 0) {
      return Bad("endpoint '" + std::string(item) + "': TLS is not supported; use host:port");
    }
    if (item.rfind("http://", 0) == 0) item.remove_prefix(7);
    while (!item.empty() && item.back() == '/') item.remove_suffix(1);
    if (auto hp = ParseHostPort(item); !hp.ok()) {
      return Bad("endpoint '" + std::string(item) + "': " + hp.status().message());
    }
    out.emplace_back(item);
  }
  if (out.empty()) return Bad("no endpoints given");
  return out;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Bad("'" + std::string(text) + "' is not host:port");
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = ParseInt(text.substr(colon + 1));
  if (host.empty() || !port.ok() || *port < 1 || *port > 65535) {
    return Bad("'" + std::string(text) + "' is not host:port (port 1..65535)");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(*port)};
}

Result<int64_t> ParseInt(std::string_view text, bool allow_negative) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  if (text.empty() || (!allow_negative && text.front() == '-')) {
    return Bad("'" + std::string(text) + "' is not a non-negative integer");
  }
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end) {
    return Bad("'" + std::string(text) + "' is not an integer");
  }
  return v;
}

}  // namespace pharos::pharosctl
