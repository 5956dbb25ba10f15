// The sigwait thread behind Signals (see signals.h).
#include "tools/pharosctl/signals.h"

#include <pthread.h>

namespace pharos::pharosctl {

Signals::Signals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &original_);
  thread_ = std::thread([this] { Run(); });
}

Signals::~Signals() {
  closing_ = true;
  // A signal aimed at our own thread ends its sigwait; closing_ tells it to stop there.
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

void Signals::Run() {
  for (;;) {
    int sig = 0;
    if (sigwait(&set_, &sig) != 0) continue;
    if (closing_) return;
    if (!catching_) {
      // Nobody is waiting to clean up: die of the signal, as without us. Only this thread
      // unblocks it, so it is delivered here.
      std::signal(sig, SIG_DFL);
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, sig);
      pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
      raise(sig);
      continue;  // not reached
    }
    {
      std::lock_guard lock(mu_);
      last_ = sig;
      ++received_;
    }
    cv_.notify_all();
  }
}

void Signals::Catch() { catching_ = true; }

void Signals::Notify() {
  // Taking the mutex orders the caller's state change before a waiter's next check.
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
}

bool Signals::WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, pred);
}

void Signals::WaitUntil(const std::function<bool()>& pred) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, pred);
}

}  // namespace pharos::pharosctl
