// Context: what every pharosctl command shares — the global flags (endpoints, output format,
// command timeout), the one SDK Client, created on first use so that a usage error never waits
// on a connection, the Signals, and the table of subcommands with what each runs. The command
// files add their subcommands to the CLI11 app and register a runner for each; main parses and
// runs the one the user chose.
//
// Thread rules: main thread only, except signals() and client(), which are thread-safe once
// created.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "tools/pharosctl/output.h"
#include "tools/pharosctl/signals.h"

namespace pharos::pharosctl {

struct GlobalFlags {
  std::string endpoints = "127.0.0.1:2379";
  std::string write_out = "simple";
  // The command timeout, said one way at most (unset: 5 s).
  std::optional<std::string> command_timeout;  // etcd's flag: "5s", "500ms"
  std::optional<int64_t> command_timeout_ms;   // pharosctl's first flag, kept for old scripts
};

class Context {
 public:
  explicit Context(Signals& signals) : signals_(signals) {}

  // Checks and applies the global flags once parsing is done; an error is a usage error.
  Status Resolve(const GlobalFlags& flags);

  Format format() const { return format_; }
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  client::Client& client();
  Signals& signals() { return signals_; }

  // `command` runs `run` when the user chose it; `run` returns the exit code.
  void Register(CLI::App* command, std::function<int()> run);
  // The chosen command's runner, or nullptr.
  std::function<int()> Chosen() const;

 private:
  Signals& signals_;
  Format format_ = Format::kSimple;
  std::vector<std::string> endpoints_;
  std::chrono::milliseconds timeout_{5000};
  std::unique_ptr<client::Client> client_;
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands_;
};

// The endpoints the user gave, or with `cluster` every member's client address (member list).
Result<std::vector<std::string>> CommandTargets(Context& ctx, bool cluster);

// Each file adds its commands (main.cc calls them in order).
void AddKvCommands(CLI::App& app, Context& ctx);           // get put del txn compaction
void AddWatchCommand(CLI::App& app, Context& ctx);         // watch
void AddLeaseCommands(CLI::App& app, Context& ctx);        // lease *
void AddClusterCommands(CLI::App& app, Context& ctx);      // member *, endpoint *, move-leader
void AddMaintenanceCommands(CLI::App& app, Context& ctx);  // alarm list|disarm, defrag
void AddRecipeCommands(CLI::App& app, Context& ctx);       // lock, elect
void AddServiceCommands(CLI::App& app, Context& ctx);      // service *
void AddSnapshotCommand(CLI::App& app, Context& ctx);      // snapshot save
// Under `snapshot`: the offline commands on a saved file (status, restore).
void AddSnapshotFileCommands(CLI::App& snapshot, Context& ctx);

}  // namespace pharos::pharosctl
