// Status: the outcome of an operation that can fail, passed across module boundaries instead of
// exceptions (DESIGN.md §9). The codes mirror the client protocol's status codes so a server can
// hand a Status to a client unchanged. Immutable value type; safe to copy between threads.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace pharos {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kFailedPrecondition,
  kNotLeader,
  kUnavailable,
  kDeadlineExceeded,
  kCompacted,
  kFutureRevision,
  kLeaseNotFound,
  kTooLarge,
  kResourceExhausted,
  kUnauthenticated,
  kPermissionDenied,
  kIoError,
  kCorruption,
  kInternal,
  // A write that may or may not have been applied (the connection or leadership was lost after
  // it was sent). Never retried blindly: the caller reads back to find out.
  kOutcomeUnknown,
  // The backend is over its quota: writes that add data are refused until an operator reclaims
  // space and disarms the alarm. Retrying does not help.
  kNoSpace,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Compacted(std::string m) { return {StatusCode::kCompacted, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status OutcomeUnknown(std::string m) {
    return {StatusCode::kOutcomeUnknown, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message", or "OK".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace pharos
