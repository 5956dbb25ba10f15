// Output: how pharosctl prints, in etcdctl's three forms — simple (lines a script can read),
// json (protobuf's JSON of the response, with the proto's field names as etcd's JSON has them)
// and table (an ASCII table for people). Also the "Error: ..." line and exit codes every command
// shares.
//
// Thread rules: Emit() may be called from the SDK's I/O thread (watch callbacks) while the main
// thread prints; it writes whole blocks under a mutex and flushes, so lines reach a pipe whole
// and at once.
#pragma once

#include <google/protobuf/message.h>

#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/pharos.pb.h"

namespace pharos::pharosctl {

enum class Format { kSimple, kJson, kTable };

enum ExitCode { kExitOk = 0, kExitError = 1, kExitUsage = 2 };

// One line of protobuf JSON (int64 fields are strings, bytes are base64, as protobuf says).
std::string ToJson(const google::protobuf::Message& message);
// A JSON string literal.
std::string JsonQuote(const std::string& s);

// An etcdctl-style table: header centred, cells right-aligned, +---+ rules.
std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows);

// 20 kB, 1.5 MB: SI units, as etcdctl's DB SIZE column.
std::string HumanBytes(int64_t bytes);

// A status as a person reads it: what went wrong, then the server's words.
std::string Describe(const Status& status);

// "Error: <what>" on stderr; returns kExitError.
int Fail(const Status& status);
int Fail(const std::string& message);
// "Error: <what>" on stderr; returns kExitUsage.
int UsageError(const std::string& message);

// Writes `text` to stdout whole and flushes.
void Emit(const std::string& text);

// etcdctl's simple form of a key-value: key line, then value line (each as configured).
struct KvPrint {
  bool keys_only = false;
  bool value_only = false;
};
std::string SimpleKv(const pb::KeyValue& kv, KvPrint how = {});

}  // namespace pharos::pharosctl
