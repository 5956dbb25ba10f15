// What an accept loop does after a failed accept. Include only from .cc files: it brings Asio.
#pragma once

#include <chrono>
#include <functional>

#include "common/asio.h"

namespace pharos {

// The loop goes on unless its acceptor was closed. The usual cause is the process running out of
// file descriptors (EMFILE), which passes once connections close: a loop that ended there never
// took a connection again, and one that retried at once would spin on the error while it lasted.
// Returns whether the loop goes on; `again` then runs after `pause`, unless `timer` is cancelled
// or destroyed first (so `again` may capture what owns the timer).
inline bool AcceptAgainAfterPause(
    const boost::system::error_code& ec, const boost::asio::ip::tcp::acceptor& acceptor,
    boost::asio::steady_timer& timer, std::function<void()> again,
    std::chrono::milliseconds pause = std::chrono::milliseconds(100)) {
  if (ec == boost::asio::error::operation_aborted || !acceptor.is_open()) return false;
  timer.expires_after(pause);
  timer.async_wait([again = std::move(again)](const boost::system::error_code& waited) {
    if (!waited) again();
  });
  return true;
}

}  // namespace pharos
