// Parsing of pharosctl's flag values (see flags.h).
#include "tools/pharosctl/flags.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "common/duration.h"

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
  auto parsed = pharos::ParseDuration(text);
  if (!parsed.ok()) return Bad("bad duration " + parsed.status().message());
  const std::string quoted = "duration '" + std::string(text) + "'";
  if (parsed->count() <= 0) return Bad(quoted + " must be positive");
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*parsed);
  if (ms.count() > std::numeric_limits<int32_t>::max()) return Bad(quoted + " is too long");
  return ms;
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

Result<int64_t> ParseLeaseTtl(std::string_view text) {
  auto ttl = ParseInt(text);
  if (!ttl.ok() || *ttl <= 0) {
    return Bad("bad TTL '" + std::string(text) + "': a positive number of seconds");
  }
  if (*ttl > kMaxLeaseTtlSeconds) {
    return Bad("TTL " + std::string(text) + " is too large: at most " +
               std::to_string(kMaxLeaseTtlSeconds) + " seconds (etcd's MaxLeaseTTL)");
  }
  return *ttl;
}

Status CheckRangeEnd(const std::string& range_end, bool prefix, bool from_key) {
  if (prefix && from_key) return Bad("--prefix and --from-key cannot be set at the same time");
  if (!range_end.empty() && prefix) {
    return Bad("--prefix and RANGE_END cannot be set at the same time");
  }
  if (!range_end.empty() && from_key) {
    return Bad("--from-key and RANGE_END cannot be set at the same time");
  }
  return Status::Ok();
}

Result<std::string> ReadValueFromStdin(int fd) {
  // etcdctl's words, so that scripts and people who know them recognize the mistake.
  static constexpr char kNoValue[] =
      "no available argument and stdin: put needs KEY VALUE, or KEY and the value on stdin";
  std::string value;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Bad(std::string(kNoValue) + " (reading stdin: " + std::strerror(errno) + ")");
    if (n == 0) break;
    value.append(buf, static_cast<size_t>(n));
  }
  if (value.empty()) return Bad(std::string(kNoValue) + " (stdin is empty)");
  return value;
}

}  // namespace pharos::pharosctl
