// ServerConfig: how one pharosd is told who it is and where the others are — command-line flags,
// or a TOML/INI file with the same keys (--config-file). Parsing validates everything a node
// needs before it touches its data directory; a bad flag or file is a clear message and exit
// code 2. Plain value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "common/result.h"
#include "registry/auto_compactor.h"

namespace pharos::registry {

struct PeerSpec {
  std::string name;
  uint64_t id = 0;
  std::string peer_address;  // host:port
};

inline constexpr int64_t kDefaultQuotaBackendBytes = int64_t{2} << 30;

struct ServerConfig {
  std::string name = "default";
  std::string data_dir;  // default: "<name>.pharos"
  std::string listen_client = "127.0.0.1:2379";
  std::string advertise_client;  // default: listen_client
  std::string listen_peer = "127.0.0.1:2380";
  // Where the other members reach this one: its own address in --initial-cluster, which its id
  // is made from (set by validation). It is what this member publishes, and it may differ from
  // listen_peer: a member may listen on 0.0.0.0 and be named by host name.
  std::string advertise_peer;
  std::string listen_metrics = "127.0.0.1:2381";
  std::string initial_cluster;                // name=host:port,...
  std::string initial_cluster_state = "new";  // new | existing
  int tick_ms = 10;
  int election_min_ms = 150;
  int election_max_ms = 300;
  int heartbeat_ms = 50;
  uint64_t snapshot_count = 10000;           // applied entries between snapshots
  uint64_t snapshot_catchup_entries = 5000;  // entries a log compaction keeps for slow followers
  std::string log_level = "info";
  // A request slower than this is logged as a warning with its trace id (etcd's
  // --warning-apply-duration).
  int warning_request_duration_ms = 100;
  // History kept (etcd's flags): see AutoCompactor. Retention "0" is off.
  std::string auto_compaction_mode = "periodic";
  std::string auto_compaction_retention = "0";
  // The backend's size limit; past it the NOSPACE alarm is raised and writes that add data are
  // refused. 0 means the default, 2 GiB, as etcd.
  int64_t quota_backend_bytes = 0;
  // Proposals waiting to be applied; past it writes are answered RESOURCE_EXHAUSTED at once.
  int max_pending_proposals = 20000;
  // Requests in flight on one client connection, bounded the same way.
  int max_requests_per_connection = 1024;
  // How often a watch created with progress_notify, once caught up, is sent an empty response at
  // the current revision (etcd's --experimental-watch-progress-notify-interval, 10 minutes):
  // milliseconds, or a duration such as "10m", "30s", "500ms". "0" turns it off.
  std::string watch_progress_notify_interval = "600000";

  // Derived by Parse.
  AutoCompactionPolicy auto_compaction;
  std::chrono::milliseconds watch_progress_notify{};  // zero: off
  std::vector<PeerSpec> peers;
  uint64_t member_id = 0;
};

// Parses flags (and the config file they name). Returns the config, or the exit code the process
// should end with after `out`/`err` got the help text or the error (0 for --help, 2 otherwise).
struct ParseOutcome {
  bool run = false;
  int exit_code = 0;
  ServerConfig config;
};
ParseOutcome ParseServerConfig(int argc, const char* const* argv, std::ostream& out,
                               std::ostream& err);

// The id of a member, stable across restarts: a hash of its name and peer address.
uint64_t MemberId(const std::string& name, const std::string& peer_address);

// "host:port" with a numeric port in range; "host" may not be empty.
bool ValidHostPort(const std::string& address);
// A member's peer address: as above, with an IPv4 address or a host name (common/host_address.h)
// for the host. A name is looked up for every connection to the peer, and for its own address
// once, at start.
bool ValidPeerAddress(const std::string& address);
inline constexpr const char* kNotAPeerAddress = "is not an IPv4 address or a host name, and a port";

}  // namespace pharos::registry
