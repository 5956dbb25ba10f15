#include "client/discovery.h"

namespace pharos::client {

Discovery::Discovery(Client& client, std::string service, DiscoveryOptions options)
    : service_(std::move(service)),
      key_prefix_(options.prefix + service_ + "/"),
      options_(std::move(options)),
      cache_(client, key_prefix_,
             [this](const std::string& key, const std::optional<std::string>& value) {
               OnChange(key, value);
             }) {
  // Last: a change may reach on_change, which may read this object, at once.
  cache_.Start();
}

// First, and with the cache left whole: a callback in progress, which Stop waits for, may still
// read this object (on_change calling Instances() is the documented use); none runs after.
Discovery::~Discovery() { cache_.Stop(); }

Status Discovery::WaitReady(std::chrono::milliseconds timeout) { return cache_.WaitReady(timeout); }

std::vector<ServiceInstance> Discovery::Instances() const {
  std::vector<ServiceInstance> out;
  for (const auto& [key, value] : cache_.Snapshot()) {
    auto instance = InstanceFromJson(value);
    if (instance.ok()) out.push_back(std::move(*instance));
  }
  return out;
}

std::optional<ServiceInstance> Discovery::Find(const std::string& instance_id) const {
  auto value = cache_.Get(key_prefix_ + instance_id);
  if (!value) return std::nullopt;
  auto instance = InstanceFromJson(*value);
  if (!instance.ok()) return std::nullopt;
  return std::move(*instance);
}

void Discovery::OnChange(const std::string& key, const std::optional<std::string>& value) {
  const std::string id = key.substr(key_prefix_.size());
  std::optional<ServiceInstance> instance;
  if (value) {
    if (auto parsed = InstanceFromJson(*value); parsed.ok()) instance = std::move(*parsed);
  }
  if (!instance) {
    // Deleted, or overwritten with a record Instances() skips: either way it is gone for callers,
    // and a valid record later is a new arrival.
    if (known_.erase(id) && options_.on_change) {
      ServiceInstance gone;
      gone.id = id;
      gone.service = service_;
      options_.on_change({InstanceChange::Kind::kRemoved, gone});
    }
    return;
  }
  const bool added = known_.insert(id).second;
  if (options_.on_change) {
    options_.on_change(
        {added ? InstanceChange::Kind::kAdded : InstanceChange::Kind::kUpdated, *instance});
  }
}

}  // namespace pharos::client
