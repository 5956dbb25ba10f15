// pharosctl: the operator's command line for a Pharos cluster, with etcdctl's commands, flags and
// output so etcd users feel at home. Exit 0 on success, 1 when an operation fails, 2 on a usage
// error. This file wires the global flags and the command files into CLI11.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "tools/pharosctl/context.h"

namespace {

// `lock [--ttl N] NAME -- COMMAND...`, as etcd users may write it: CLI11 hands what follows "--"
// to the top-level app instead of to lock's command, so that one separator is dropped here.
// (The command needs no protecting: lock stops parsing at the word after NAME.)
void DropLockSeparator(std::vector<std::string>& args) {
  size_t i = 0;
  while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') {
    const std::string& flag = args[i];
    const bool takes_value = flag == "--endpoints" || flag == "-w" || flag == "--write-out" ||
                             flag == "--command-timeout" || flag == "--command-timeout-ms";
    i += takes_value ? 2 : 1;
  }
  if (i >= args.size() || args[i] != "lock") return;
  size_t j = i + 1;
  while (j < args.size() && args[j].size() > 1 && args[j][0] == '-') {
    j += args[j] == "--ttl" ? 2 : 1;
  }
  if (j + 1 < args.size() && args[j + 1] == "--") args.erase(args.begin() + j + 1);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pharos::pharosctl;
  // First, before the SDK starts its thread: every thread must inherit the blocked signals.
  Signals signals;
  Context ctx(signals);

  CLI::App app{"pharosctl: a command line for Pharos clusters (etcdctl's habits)", "pharosctl"};
  app.fallthrough();  // global flags may follow the command, as etcdctl's do
  app.require_subcommand(1);
  GlobalFlags flags;
  app.add_option("--endpoints", flags.endpoints, "comma-separated host:port list")
      ->capture_default_str();
  app.add_option("-w,--write-out", flags.write_out, "output format: simple, json or table")
      ->capture_default_str();
  app.add_option("--command-timeout", flags.command_timeout,
                 "deadline of each request, e.g. 5s or 500ms (default 5s)");
  app.add_option("--command-timeout-ms", flags.command_timeout_ms,
                 "deadline of each request in milliseconds (older form of --command-timeout)");

  AddKvCommands(app, ctx);
  AddWatchCommand(app, ctx);
  AddLeaseCommands(app, ctx);
  AddClusterCommands(app, ctx);
  AddMaintenanceCommands(app, ctx);
  AddRecipeCommands(app, ctx);
  AddServiceCommands(app, ctx);
  AddSnapshotCommand(app, ctx);

  std::vector<std::string> args(argv + 1, argv + argc);
  DropLockSeparator(args);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // --help is a "parse error" that exits 0; every other one is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (pharos::Status s = ctx.Resolve(flags); !s.ok()) return UsageError(s.message());
  auto run = ctx.Chosen();
  if (!run) {
    std::cerr << app.help();
    return kExitUsage;
  }
  return run();
}
