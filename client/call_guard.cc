#include "client/call_guard.h"

#include <utility>

namespace pharos::client {

Permit::Permit(Permit&& other) noexcept
    : guard_(std::exchange(other.guard_, nullptr)),
      owner_(std::move(other.owner_)),
      id_(other.id_),
      start_(other.start_) {}

Permit& Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    if (guard_ != nullptr) Report(false);
    guard_ = std::exchange(other.guard_, nullptr);
    owner_ = std::move(other.owner_);
    id_ = other.id_;
    start_ = other.start_;
  }
  return *this;
}

Permit::~Permit() {
  if (guard_ != nullptr) Report(false);
}

void Permit::Success() { Report(true); }
void Permit::Failure() { Report(false); }

void Permit::Report(bool success) {
  CallGuard* guard = std::exchange(guard_, nullptr);
  if (guard != nullptr) guard->Report(id_, start_, success);
  // Last: this may be what kept the guard alive.
  owner_.reset();
}

Status CallGuard::Run(const std::function<Status()>& fn) {
  Result<Permit> permit = TryAcquire();
  if (!permit.ok()) return permit.status();
  Status status = fn();
  if (CountsAsFailure(status)) {
    permit->Failure();
  } else {
    permit->Success();
  }
  return status;
}

bool CountsAsFailure(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
    case StatusCode::kIoError:
    case StatusCode::kCorruption:
    case StatusCode::kInternal:
    // The connection was lost after the request went out, or the server gave up waiting for its
    // own commit: the backend did not answer, like a deadline overrun on a read. Counting it as a
    // success would let a half-open probe to a dead backend close the circuit.
    case StatusCode::kOutcomeUnknown:
      return true;
    default:
      return false;
  }
}

}  // namespace pharos::client
