#include "client/config_watcher.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/duration.h"

namespace pharos::client {

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty()) return std::nullopt;
  return v;
}

std::optional<double> ParseDouble(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(const std::string& text) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  auto parsed = pharos::ParseDuration(text);
  if (!parsed.ok()) return std::nullopt;
  return std::chrono::round<std::chrono::milliseconds>(*parsed);
}

ConfigWatcher::ConfigWatcher(Client& client, std::string prefix, ChangeCallback on_change)
    : prefix_(std::move(prefix)),
      on_change_(std::move(on_change)),
      cache_(client, prefix_,
             [this](const std::string& key, const std::optional<std::string>& value) {
               if (on_change_) on_change_(key.substr(prefix_.size()), value);
             }) {
  // Last: a change may reach on_change, which may read this object, at once.
  cache_.Start();
}

// First, and with the cache left whole: a callback in progress, which Stop waits for, may still
// read this object; none runs after.
ConfigWatcher::~ConfigWatcher() { cache_.Stop(); }

std::optional<std::string> ConfigWatcher::Get(const std::string& name) const {
  return cache_.Get(prefix_ + name);
}

std::string ConfigWatcher::GetString(const std::string& name, const std::string& fallback) const {
  return Get(name).value_or(fallback);
}

int64_t ConfigWatcher::GetInt(const std::string& name, int64_t fallback) const {
  auto v = Get(name);
  return v ? ParseInt(*v).value_or(fallback) : fallback;
}

double ConfigWatcher::GetDouble(const std::string& name, double fallback) const {
  auto v = Get(name);
  return v ? ParseDouble(*v).value_or(fallback) : fallback;
}

bool ConfigWatcher::GetBool(const std::string& name, bool fallback) const {
  auto v = Get(name);
  return v ? ParseBool(*v).value_or(fallback) : fallback;
}

std::chrono::milliseconds ConfigWatcher::GetDuration(const std::string& name,
                                                     std::chrono::milliseconds fallback) const {
  auto v = Get(name);
  return v ? ParseDuration(*v).value_or(fallback) : fallback;
}

std::map<std::string, std::string> ConfigWatcher::All() const {
  std::map<std::string, std::string> out;
  for (auto& [key, value] : cache_.Snapshot()) out[key.substr(prefix_.size())] = value;
  return out;
}

}  // namespace pharos::client
