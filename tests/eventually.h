// Eventually: how a test waits for a condition — polled until it holds or a deadline passes,
// never a fixed sleep in its place.
#pragma once

#include <chrono>
#include <thread>

namespace pharos::testing {

// Polls `pred` until it holds or the deadline passes; whether it held.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    // Short enough to be prompt, long enough to leave the two cores to what is being polled.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace pharos::testing
