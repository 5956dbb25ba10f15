// Printing for pharosctl (see output.h).
#include "tools/pharosctl/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <mutex>

namespace pharos::pharosctl {
namespace {

std::mutex& OutputMutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string rule = "+";
  for (size_t w : width) rule += std::string(w + 2, '-') + "+";
  rule += "\n";
  std::string out = rule + "|";
  for (size_t i = 0; i < header.size(); ++i) {
    const size_t pad = width[i] - header[i].size();
    out += " " + std::string(pad / 2, ' ') + header[i] + std::string(pad - pad / 2, ' ') + " |";
  }
  out += "\n" + rule;
  for (const auto& row : rows) {
    out += "|";
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out += " " + std::string(width[i] - cell.size(), ' ') + cell + " |";
    }
    out += "\n";
  }
  if (!rows.empty()) out += rule;
  return out;
}

std::string HumanBytes(int64_t bytes) {
  if (bytes < 10) return std::to_string(bytes) + " B";
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  const int e = std::min(6, static_cast<int>(std::floor(std::log(bytes) / std::log(1000.0))));
  const double value = static_cast<double>(bytes) / std::pow(1000.0, e);
  char buf[32];
  std::snprintf(buf, sizeof(buf), value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[e]);
  return buf;
}

std::string Describe(const Status& s) {
  std::string what;
  switch (s.code()) {
    case StatusCode::kLeaseNotFound:
      what = "requested lease not found";
      break;
    case StatusCode::kCompacted:
      what = "required revision has been compacted";
      break;
    case StatusCode::kFutureRevision:
      what = "required revision is a future revision";
      break;
    case StatusCode::kDeadlineExceeded:
      what = "no answer within the command timeout";
      break;
    case StatusCode::kUnavailable:
      what = "cluster unavailable";
      break;
    case StatusCode::kOutcomeUnknown:
      what = "the outcome is unknown (the request may or may not have been applied)";
      break;
    case StatusCode::kInvalidArgument:
      what = "invalid request";
      break;
    case StatusCode::kTooLarge:
      what = "request too large";
      break;
    case StatusCode::kResourceExhausted:
      what = "the server is overloaded";
      break;
    case StatusCode::kNoSpace:
      what = "database space exceeded";
      break;
    default:
      what = std::string(StatusCodeName(s.code()));
      std::transform(what.begin(), what.end(), what.begin(),
                     [](char c) { return c == '_' ? ' ' : static_cast<char>(std::tolower(c)); });
  }
  return s.message().empty() ? what : what + ": " + s.message();
}

int Fail(const Status& status) { return Fail(Describe(status)); }

int Fail(const std::string& message) {
  std::lock_guard lock(OutputMutex());
  std::cout.flush();
  std::cerr << "Error: " << message << std::endl;
  return kExitError;
}

int UsageError(const std::string& message) {
  std::lock_guard lock(OutputMutex());
  std::cerr << "Error: " << message << std::endl;
  return kExitUsage;
}

void Emit(const std::string& text) {
  std::lock_guard lock(OutputMutex());
  std::cout << text;
  std::cout.flush();
}

std::string SimpleKv(const pb::KeyValue& kv, KvPrint how) {
  if (how.value_only) return kv.value() + "\n";
  if (how.keys_only) return kv.key() + "\n";
  return kv.key() + "\n" + kv.value() + "\n";
}

}  // namespace pharos::pharosctl
