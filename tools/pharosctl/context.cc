// The state pharosctl's commands share (see context.h).
#include "tools/pharosctl/context.h"

#include "tools/pharosctl/flags.h"

namespace pharos::pharosctl {

Status Context::Resolve(const GlobalFlags& flags) {
  if (flags.write_out == "simple") {
    format_ = Format::kSimple;
  } else if (flags.write_out == "json") {
    format_ = Format::kJson;
  } else if (flags.write_out == "table") {
    format_ = Format::kTable;
  } else {
    return Status::InvalidArgument("--write-out is simple, json or table, not '" + flags.write_out +
                                   "'");
  }
  auto endpoints = ParseEndpoints(flags.endpoints);
  if (!endpoints.ok())
    return Status::InvalidArgument("--endpoints: " + endpoints.status().message());
  endpoints_ = std::move(*endpoints);
  // Two timeouts would leave one silently ignored, and 0 silently meant the default: refused.
  if (flags.command_timeout && flags.command_timeout_ms) {
    return Status::InvalidArgument(
        "--command-timeout and --command-timeout-ms cannot be set at the same time");
  }
  if (flags.command_timeout) {
    auto d = ParseDuration(*flags.command_timeout);
    if (!d.ok()) return Status::InvalidArgument("--command-timeout: " + d.status().message());
    timeout_ = *d;
  } else if (flags.command_timeout_ms) {
    if (*flags.command_timeout_ms <= 0) {
      return Status::InvalidArgument("--command-timeout-ms must be a positive number of ms, not " +
                                     std::to_string(*flags.command_timeout_ms));
    }
    timeout_ = std::chrono::milliseconds(*flags.command_timeout_ms);
  }
  return Status::Ok();
}

client::Client& Context::client() {
  if (!client_) {
    client::ClientOptions options;
    options.endpoints = endpoints_;
    options.timeout = timeout_;
    client_ = std::make_unique<client::Client>(std::move(options));
  }
  return *client_;
}

void Context::Register(CLI::App* command, std::function<int()> run) {
  commands_.emplace_back(command, std::move(run));
}

std::function<int()> Context::Chosen() const {
  // Only leaf commands are registered, and one command line parses one leaf.
  for (const auto& [command, run] : commands_) {
    if (command->parsed()) return run;
  }
  return nullptr;
}

}  // namespace pharos::pharosctl
