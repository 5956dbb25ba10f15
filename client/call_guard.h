// CallGuard: a policy that decides, before a call goes out, whether it may go out at all, and
// learns from how the call went. The circuit breaker and adaptive throttling are the two
// policies; callers hold either through this interface and never care which.
//
// A call takes a Permit from TryAcquire and reports it exactly once with Success() or Failure().
// A Permit destroyed unreported counts as a failure, so an early return or an exception cannot
// leak a concurrency slot or leave a half-open circuit waiting forever for its probe.
//
// Thread rules: guards are thread-safe. A Permit is used by one thread at a time (it may be moved
// to another) and must not outlive the guard that issued it — unless the guard is owned by a
// std::shared_ptr, in which case the permit keeps it alive until reported (how InstanceBreakers
// can drop the breaker of an instance that left while a call to it is still in flight).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/clock.h"
#include "common/result.h"
#include "common/status.h"

namespace pharos::client {

class CallGuard;

class Permit {
 public:
  Permit(Permit&& other) noexcept;
  Permit& operator=(Permit&& other) noexcept;
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  ~Permit();

  // Only the first report counts; later ones are ignored.
  void Success();
  void Failure();

  Clock::TimePoint start() const { return start_; }

 private:
  friend class CallGuard;
  Permit(CallGuard* guard, std::shared_ptr<CallGuard> owner, uint64_t id, Clock::TimePoint start)
      : guard_(guard), owner_(std::move(owner)), id_(id), start_(start) {}
  void Report(bool success);

  CallGuard* guard_;                  // null once reported or moved from
  std::shared_ptr<CallGuard> owner_;  // the guard, when shared; held until reported
  uint64_t id_;
  Clock::TimePoint start_;
};

class CallGuard : public std::enable_shared_from_this<CallGuard> {
 public:
  virtual ~CallGuard() = default;

  // A permit, or UNAVAILABLE saying why the call must not go out.
  virtual Result<Permit> TryAcquire() = 0;

  // Acquires, runs fn, reports by CountsAsFailure(fn's status) and returns fn's status, or the
  // rejection without running fn.
  Status Run(const std::function<Status()>& fn);

 protected:
  Permit MakePermit(uint64_t id, Clock::TimePoint start) {
    return Permit(this, weak_from_this().lock(), id, start);
  }
  // Called once per permit; id and start are what MakePermit was given.
  virtual void Report(uint64_t id, Clock::TimePoint start, bool success) = 0;

 private:
  friend class Permit;
};

// Whether a call's status says the backend is unhealthy (down, overloaded, too slow, broken, or
// gone silent after the request was sent: OUTCOME_UNKNOWN) as opposed to the request being wrong
// or answered with a redirect: an INVALID_ARGUMENT or a NOT_FOUND from a healthy server must not
// open its circuit (Hystrix's BadRequestException).
bool CountsAsFailure(const Status& status);

}  // namespace pharos::client
