// Signals: SIGINT and SIGTERM for pharosctl, taken by sigwait on a thread of their own so no work
// ever runs in a signal handler. Until a command calls Catch(), a signal ends the process as it
// would without us (a one-shot `get` stays interruptible); after Catch(), signals are counted
// and wake WaitUntil(), so long-running commands (watch, lock, elect, keep-alive, service
// register) can clean up — release, resign, revoke — before they exit (DESIGN.md §6).
//
// Other events a waiting command must see (a lease lost, a child exited, a watch failed) are
// announced with Notify() after the state they change is set; WaitUntil re-checks its predicate
// under the same mutex, so no wake-up is lost.
//
// Thread rules: construct first in main, before any other thread exists (the SDK's I/O thread
// included), so every thread inherits the blocked mask. Everything else from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <thread>

namespace pharos::pharosctl {

class Signals {
 public:
  Signals();
  ~Signals();
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  // From now on SIGINT/SIGTERM are counted and wake waiters instead of ending the process.
  void Catch();
  // SIGINT/SIGTERM received since Catch(); the last one's number.
  int received() const { return received_.load(); }
  int last() const { return last_.load(); }

  void Notify();
  // Waits until `pred` holds; returns it. The timeout version gives up after `timeout`.
  bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout);
  void WaitUntil(const std::function<bool()>& pred);

  // The mask a child process must get back before exec (the one main started with).
  const sigset_t& original_mask() const { return original_; }

 private:
  void Run();

  sigset_t set_;
  sigset_t original_;
  std::atomic<bool> catching_{false};
  std::atomic<bool> closing_{false};
  std::atomic<int> received_{0};
  std::atomic<int> last_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace pharos::pharosctl
