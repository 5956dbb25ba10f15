// FreePort: a loopback TCP port nothing listens on right now, for servers tests start.
#pragma once

#include <cstdint>

#include "common/asio.h"

namespace pharos::testing {

inline uint16_t FreePort(const char* host = "127.0.0.1") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(host), 0));
  return a.local_endpoint().port();
}

}  // namespace pharos::testing
