// Flag values as etcdctl users type them: Go-style durations ("5s", "500ms", "1m30s"), ids in
// hex (leases, members), endpoint lists with or without "http://", host:port pairs, lease TTLs,
// the rule on how a range ends, and a VALUE left out and read from stdin instead. Parsing lives
// here, away from the commands, so each rule is written once and unit-tested
// (tests/tools/flags_test.cc). Pure functions, except ReadValueFromStdin, which reads a file
// descriptor; no thread rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos::pharosctl {

// A positive duration (common/duration.h: "1.5s", "1m30s"; a unit is required), rounded up to
// whole milliseconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// A lease id as pharosctl prints it (hex, optionally "0x"-prefixed); 0 is "no lease".
Result<int64_t> ParseLeaseId(std::string_view hex);
// A member id in hex.
Result<uint64_t> ParseMemberId(std::string_view hex);
// How ids are printed: leases as etcdctl does (%016x), members without padding (%x).
std::string LeaseHex(int64_t id);
std::string MemberHex(uint64_t id);

// "a:1,http://b:2" -> {"a:1", "b:2"}. TLS is not spoken, so "https://" is refused.
Result<std::vector<std::string>> ParseEndpoints(std::string_view list);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "10.0.0.1:8080", "[::1]:8080" (brackets dropped), "host:port"; the port must be 1..65535.
Result<HostPort> ParseHostPort(std::string_view text);

// A decimal integer, the whole of `text` (no sign unless `allow_negative`).
Result<int64_t> ParseInt(std::string_view text, bool allow_negative = false);

// etcd's MaxLeaseTTL, in seconds: the server refuses a longer lease, so pharosctl refuses it
// before sending (the constant is the server's; tools may not include kvstore/).
inline constexpr int64_t kMaxLeaseTtlSeconds = 9'000'000'000;
// A lease TTL: whole seconds, 1..kMaxLeaseTtlSeconds.
Result<int64_t> ParseLeaseTtl(std::string_view text);

// etcdctl's rule for get, del and watch: one way to say where the range ends — RANGE_END,
// --prefix or --from-key, at most one of them. InvalidArgument names the two that were given.
Status CheckRangeEnd(const std::string& range_end, bool prefix, bool from_key);

// The VALUE of `put KEY` left out: all of `fd` (stdin), byte for byte, as etcdctl's argOrStdin.
// Nothing to read, or a read that fails, is refused rather than taken for an empty value: a
// script whose producer died must not blank the key (an empty value is given as "" instead).
Result<std::string> ReadValueFromStdin(int fd);

}  // namespace pharos::pharosctl
