#include "registry/pharosd_run.h"

#include <spdlog/spdlog.h>

#include <iostream>
#include <string_view>

#include "common/asio.h"
#include "registry/server.h"
#include "registry/server_config.h"
#include "registry/snapshot_restore.h"

namespace pharos::registry {

int RunPharosd(int argc, char** argv) {
  // An offline mode: no server, no ports (`pharosctl snapshot restore` runs it).
  if (argc >= 2 && std::string_view(argv[1]) == "snapshot-restore") {
    return RunSnapshotRestore(argc, argv, std::cout, std::cerr);
  }
  auto parsed = ParseServerConfig(argc, argv, std::cout, std::cerr);
  if (!parsed.run) return parsed.exit_code;
  const ServerConfig& config = parsed.config;
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + config.name + "] %v");

  boost::asio::io_context io;
  Server server(io, config);
  if (Status s = server.Start(); !s.ok()) {
    spdlog::error("cannot start: {}", s.ToString());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signo);
    server.Shutdown([&io] { io.stop(); });
  });
  int exit_code = 0;
  boost::asio::steady_timer stop_after_removal(io);
  server.OnRemovedFromCluster([&] {
    exit_code = 1;  // a supervisor must not restart it as if it had merely stopped
    // A moment first, as etcd's stopWithDelay: a leader that removed itself answers that
    // `member remove` once it has applied the removal, and that answer must not lose the race.
    stop_after_removal.expires_after(std::chrono::seconds(1));
    stop_after_removal.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) server.Shutdown([&io] { io.stop(); });
    });
  });
  io.run();
  spdlog::info("stopped");
  return exit_code;
}

}  // namespace pharos::registry
