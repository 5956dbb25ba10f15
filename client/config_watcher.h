// ConfigWatcher: the config-center use of a registry. It keeps every key under a prefix in memory
// (a list, then a watch — PrefixCache), answers typed reads with defaults without touching the
// network, and calls back on each change. Names are keys without the prefix:
//   ConfigWatcher config(client, "/config/greeter/");
//   auto timeout = config.GetDuration("timeout", std::chrono::milliseconds(250));
// A value that does not parse as the type asked for reads as the default, as an absent one does.
//
// `on_change` may read the watcher from the first change on, which can come before the
// constructor returns, and until the destructor has returned.
//
// Thread rules: reads from any thread; `on_change` on the client's I/O thread. Destroy from any
// thread except that callback.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "client/client.h"
#include "client/prefix_cache.h"

namespace pharos::client {

// The parsers behind the typed reads: nullopt when `text` is not a whole value of the type.
std::optional<int64_t> ParseInt(const std::string& text);
std::optional<double> ParseDouble(const std::string& text);
// true/false, yes/no, on/off, 1/0 (any case).
std::optional<bool> ParseBool(const std::string& text);
// A duration with its units, as common/duration.h reads it (e.g. "250ms", "1.5s", "1m30s"),
// rounded to whole milliseconds.
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text);

class ConfigWatcher {
 public:
  using ChangeCallback =
      std::function<void(const std::string& name, const std::optional<std::string>& value)>;

  ConfigWatcher(Client& client, std::string prefix, ChangeCallback on_change = {});
  ~ConfigWatcher();

  Status WaitReady(std::chrono::milliseconds timeout) { return cache_.WaitReady(timeout); }
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetString(const std::string& name, const std::string& fallback) const;
  int64_t GetInt(const std::string& name, int64_t fallback) const;
  double GetDouble(const std::string& name, double fallback) const;
  bool GetBool(const std::string& name, bool fallback) const;
  std::chrono::milliseconds GetDuration(const std::string& name,
                                        std::chrono::milliseconds fallback) const;
  // Every setting, by name.
  std::map<std::string, std::string> All() const;

 private:
  std::string prefix_;
  ChangeCallback on_change_;
  // Last, so that what its callback touches exists before it and outlives it.
  PrefixCache cache_;
};

}  // namespace pharos::client
