// pharosd: one member of a Pharos cluster. See `pharosd --help`.
#include <spdlog/spdlog.h>

#include <iostream>
#include <string_view>

#include "common/asio.h"
#include "registry/server.h"
#include "registry/server_config.h"
#include "registry/snapshot_restore.h"

int main(int argc, char** argv) {
  // An offline mode: no server, no ports (`pharosctl snapshot restore` runs it).
  if (argc >= 2 && std::string_view(argv[1]) == "snapshot-restore") {
    return pharos::registry::RunSnapshotRestore(argc, argv, std::cout, std::cerr);
  }
  auto parsed = pharos::registry::ParseServerConfig(argc, argv, std::cout, std::cerr);
  if (!parsed.run) return parsed.exit_code;
  const pharos::registry::ServerConfig& config = parsed.config;
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + config.name + "] %v");

  boost::asio::io_context io;
  pharos::registry::Server server(io, config);
  if (pharos::Status s = server.Start(); !s.ok()) {
    spdlog::error("cannot start: {}", s.ToString());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signo);
    server.Shutdown([&io] { io.stop(); });
  });
  io.run();
  spdlog::info("stopped");
  return 0;
}
