// FreePort: a loopback TCP port nothing listens on right now, for servers tests start.
#pragma once

#include <cstdint>
#include <random>

#include "common/asio.h"

namespace pharos::testing {

inline uint16_t FreePort(const char* host = "127.0.0.1") {
  // Below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768 and up by default).
  // A port from that range, once the server on it stops, can become the source port of some
  // client connection, and a member restarted on it then cannot listen ("Address already in
  // use"): process tests that restart members failed that way.
  thread_local std::mt19937 rng(std::random_device{}());
  boost::asio::io_context io;
  const auto address = boost::asio::ip::make_address(host);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<uint16_t>(20000 + rng() % 12000);  // [20000, 32000)
    boost::system::error_code ec;
    boost::asio::ip::tcp::acceptor probe(io);
    probe.open(address.is_v4() ? boost::asio::ip::tcp::v4() : boost::asio::ip::tcp::v6(), ec);
    if (!ec) probe.bind(boost::asio::ip::tcp::endpoint(address, port), ec);
    if (!ec) return port;
  }
  boost::asio::ip::tcp::acceptor any(io, boost::asio::ip::tcp::endpoint(address, 0));
  return any.local_endpoint().port();
}

}  // namespace pharos::testing
