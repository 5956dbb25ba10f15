#include "registry/server_config.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <ostream>
#include <set>

#include "common/duration.h"
#include "common/host_address.h"

namespace pharos::registry {

uint64_t MemberId(const std::string& name, const std::string& peer_address) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (char c : name + "|" + peer_address) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h == 0 ? 1 : h;
}

bool ValidHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  const std::string port = address.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(port) <= 65535;
}

bool ValidPeerAddress(const std::string& address) {
  if (!ValidHostPort(address)) return false;
  const std::string host = address.substr(0, address.rfind(':'));
  return IsIpv4Literal(host) || IsHostName(host);
}

namespace {

// A non-negative interval: a duration, where a bare number is milliseconds. "0" is off. A period
// under 10 ms is refused as a likely mistake: every period costs the apply thread a task per
// watch that asked for it.
Result<std::chrono::milliseconds> ParseInterval(const std::string& flag, const std::string& text) {
  auto parsed = ParseDuration(text, std::chrono::milliseconds(1));
  if (!parsed.ok()) return Status::InvalidArgument(flag + " " + parsed.status().message());
  auto invalid = [&](const std::string& why) {
    return Status::InvalidArgument(flag + " '" + text + "': " + why);
  };
  if (parsed->count() == 0) return std::chrono::milliseconds(0);
  if (*parsed < std::chrono::milliseconds(10))
    return invalid("an interval under 10 ms (0 turns it off)");
  // A year is far beyond any use and keeps the timer's arithmetic in range.
  if (*parsed > std::chrono::hours(365 * 24)) return invalid("an interval over a year");
  return std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
}

Status Validate(ServerConfig* c) {
  if (c->name.empty()) return Status::InvalidArgument("--name must not be empty");
  for (const auto& [flag, value] :
       {std::pair<const char*, std::string>{"--listen-client", c->listen_client},
        {"--listen-metrics", c->listen_metrics}}) {
    if (!ValidHostPort(value)) {
      return Status::InvalidArgument(std::string(flag) + " '" + value + "' is not host:port");
    }
  }
  if (!ValidPeerAddress(c->listen_peer)) {
    return Status::InvalidArgument("--listen-peer '" + c->listen_peer + "' " + kNotAPeerAddress);
  }
  if (c->advertise_client.empty()) c->advertise_client = c->listen_client;
  if (!ValidHostPort(c->advertise_client)) {
    return Status::InvalidArgument("--advertise-client '" + c->advertise_client +
                                   "' is not host:port");
  }
  if (c->data_dir.empty()) c->data_dir = c->name + ".pharos";
  if (c->initial_cluster_state != "new" && c->initial_cluster_state != "existing") {
    return Status::InvalidArgument("--initial-cluster-state must be 'new' or 'existing', not '" +
                                   c->initial_cluster_state + "'");
  }
  if (c->tick_ms <= 0) return Status::InvalidArgument("--tick-ms must be positive");
  if (c->heartbeat_ms < c->tick_ms || c->election_min_ms <= c->heartbeat_ms ||
      c->election_max_ms <= c->election_min_ms) {
    return Status::InvalidArgument(
        "timings must satisfy tick <= heartbeat < election-min < election-max (ms)");
  }
  auto policy = ParseAutoCompaction(c->auto_compaction_mode, c->auto_compaction_retention);
  if (!policy.ok()) return policy.status();
  c->auto_compaction = *policy;
  auto progress =
      ParseInterval("--watch-progress-notify-interval", c->watch_progress_notify_interval);
  if (!progress.ok()) return progress.status();
  c->watch_progress_notify = *progress;
  if (c->quota_backend_bytes < 0) {
    return Status::InvalidArgument("--quota-backend-bytes must not be negative");
  }
  if (c->quota_backend_bytes == 0) c->quota_backend_bytes = kDefaultQuotaBackendBytes;
  if (c->max_pending_proposals <= 0 || c->max_requests_per_connection <= 0) {
    return Status::InvalidArgument(
        "--max-pending-proposals and --max-requests-per-connection must be positive");
  }
  if (c->initial_cluster.empty()) c->initial_cluster = c->name + "=" + c->listen_peer;
  std::set<std::string> names, addresses;
  size_t start = 0;
  while (start <= c->initial_cluster.size()) {
    size_t comma = c->initial_cluster.find(',', start);
    if (comma == std::string::npos) comma = c->initial_cluster.size();
    const std::string item = c->initial_cluster.substr(start, comma - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || !ValidHostPort(item.substr(eq + 1))) {
      return Status::InvalidArgument("--initial-cluster entry '" + item +
                                     "' is not name=host:port");
    }
    if (!ValidPeerAddress(item.substr(eq + 1))) {
      return Status::InvalidArgument("--initial-cluster entry '" + item + "': the address " +
                                     kNotAPeerAddress);
    }
    PeerSpec p{item.substr(0, eq), 0, item.substr(eq + 1)};
    if (!names.insert(p.name).second || !addresses.insert(p.peer_address).second) {
      return Status::InvalidArgument("--initial-cluster names '" + p.name + "' or address '" +
                                     p.peer_address + "' twice");
    }
    p.id = MemberId(p.name, p.peer_address);
    c->peers.push_back(std::move(p));
    start = comma + 1;
  }
  for (const PeerSpec& p : c->peers) {
    if (p.name != c->name) continue;
    c->member_id = p.id;
    c->advertise_peer = p.peer_address;
  }
  if (c->member_id == 0) {
    return Status::InvalidArgument("--initial-cluster does not name this member ('" + c->name +
                                   "')");
  }
  return Status::Ok();
}

}  // namespace

ParseOutcome ParseServerConfig(int argc, const char* const* argv, std::ostream& out,
                               std::ostream& err) {
  ParseOutcome outcome;
  ServerConfig& c = outcome.config;
  CLI::App app{"pharosd: a member of a Pharos service registry cluster"};
  app.set_config("--config-file", "", "read these flags from a TOML/INI file (same keys)");
  app.add_option("--name", c.name, "this member's name")->capture_default_str();
  app.add_option("--data-dir", c.data_dir,
                 "where this member keeps its data (default NAME.pharos)");
  app.add_option("--listen-client", c.listen_client, "host:port for clients")
      ->capture_default_str();
  app.add_option("--advertise-client", c.advertise_client,
                 "client address published to the cluster (default: --listen-client)");
  app.add_option("--listen-peer", c.listen_peer,
                 "host:port to listen on for the other members (they reach this one at its "
                 "--initial-cluster address)")
      ->capture_default_str();
  app.add_option("--listen-metrics", c.listen_metrics, "host:port for /metrics /health /status")
      ->capture_default_str();
  app.add_option("--initial-cluster", c.initial_cluster,
                 "the first members: name=host:port,... (peer addresses; a host may be a name)");
  app.add_option("--initial-cluster-state", c.initial_cluster_state, "new or existing")
      ->capture_default_str();
  app.add_option("--tick-ms", c.tick_ms, "Raft tick")->capture_default_str();
  app.add_option("--election-min-ms", c.election_min_ms, "election timeout, lower bound")
      ->capture_default_str();
  app.add_option("--election-max-ms", c.election_max_ms, "election timeout, upper bound")
      ->capture_default_str();
  app.add_option("--heartbeat-ms", c.heartbeat_ms, "leader heartbeat interval")
      ->capture_default_str();
  // NonNegativeNumber: CLI11 reads "-5" into an unsigned option as a huge number.
  app.add_option("--snapshot-count", c.snapshot_count, "applied entries between snapshots")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--snapshot-catchup-entries", c.snapshot_catchup_entries,
                 "entries a log compaction keeps below the applied index, for followers to "
                 "catch up from without a snapshot")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--warning-request-duration-ms", c.warning_request_duration_ms,
                 "requests slower than this are logged as warnings")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--auto-compaction-mode", c.auto_compaction_mode, "periodic or revision")
      ->capture_default_str();
  app.add_option("--auto-compaction-retention", c.auto_compaction_retention,
                 "history kept: a duration such as 1h, 30m, 10s (a bare number is hours) in "
                 "periodic mode, a revision count in revision mode; 0 is off")
      ->capture_default_str();
  app.add_option("--quota-backend-bytes", c.quota_backend_bytes,
                 "backend size that raises the NOSPACE alarm (0: 2 GiB)")
      ->capture_default_str();
  app.add_option("--max-pending-proposals", c.max_pending_proposals,
                 "proposals waiting to be applied before writes are refused RESOURCE_EXHAUSTED")
      ->capture_default_str();
  app.add_option("--max-requests-per-connection", c.max_requests_per_connection,
                 "requests in flight on one client connection before it is refused")
      ->capture_default_str();
  app.add_option("--watch-progress-notify-interval", c.watch_progress_notify_interval,
                 "how often a caught-up watch that asked for progress notifications is sent one "
                 "(the current revision): milliseconds or a duration such as 10m, 30s, 500ms; "
                 "0 is off")
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    out << app.help();
    outcome.exit_code = 0;
    return outcome;
  } catch (const CLI::ParseError& e) {
    err << "pharosd: " << e.what() << "\n(run pharosd --help for the flags)\n";
    outcome.exit_code = 2;
    return outcome;
  }
  if (Status s = Validate(&c); !s.ok()) {
    err << "pharosd: " << s.message() << "\n";
    outcome.exit_code = 2;
    return outcome;
  }
  outcome.run = true;
  return outcome;
}

}  // namespace pharos::registry
