// FreePort: a loopback TCP port nothing listens on right now, for servers tests start.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

#include "common/asio.h"

namespace pharos::testing {

inline uint16_t FreePort(const char* host = "127.0.0.1") {
  // Below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768 and up by default).
  // A port from that range, once the server on it stops, can become the source port of some
  // client connection, and a member restarted on it then cannot listen ("Address already in
  // use"): process tests that restart members failed that way.
  //
  // Handed out in turn from a random start, never twice in one process: a port is free when it
  // is checked, not when its server binds it, and random picks gave one cluster the same port
  // for two members ("--initial-cluster names 'n3' or address ... twice"). Two test processes
  // running at once start at random places in the range, far apart but for bad luck.
  constexpr uint32_t kFirst = 20000, kCount = 12000;  // [20000, 32000)
  static std::mutex mu;
  static uint32_t next = std::random_device{}() % kCount;
  std::lock_guard<std::mutex> lock(mu);
  boost::asio::io_context io;
  const auto address = boost::asio::ip::make_address(host);
  for (uint32_t attempt = 0; attempt < kCount; ++attempt) {
    const auto port = static_cast<uint16_t>(kFirst + next++ % kCount);
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
