#include "client/discovery.h"

namespace pharos::client {

Discovery::Discovery(Client& client, std::string service, DiscoveryOptions options)
    : service_(std::move(service)),
      key_prefix_(options.prefix + service_ + "/"),
      options_(std::move(options)) {
  cache_ = std::make_unique<PrefixCache>(
      client, key_prefix_, [this](const std::string& key, const std::optional<std::string>& value) {
        OnChange(key, value);
      });
}

// The cache goes first: after it, no callback touches this object.
Discovery::~Discovery() { cache_.reset(); }

Status Discovery::WaitReady(std::chrono::milliseconds timeout) {
  return cache_->WaitReady(timeout);
}

std::vector<ServiceInstance> Discovery::Instances() const {
  std::vector<ServiceInstance> out;
  for (const auto& [key, value] : cache_->Snapshot()) {
    auto instance = InstanceFromJson(value);
    if (instance.ok()) out.push_back(std::move(*instance));
  }
  return out;
}

std::optional<ServiceInstance> Discovery::Find(const std::string& instance_id) const {
  auto value = cache_->Get(key_prefix_ + instance_id);
  if (!value) return std::nullopt;
  auto instance = InstanceFromJson(*value);
  if (!instance.ok()) return std::nullopt;
  return std::move(*instance);
}

void Discovery::OnChange(const std::string& key, const std::optional<std::string>& value) {
  const std::string id = key.substr(key_prefix_.size());
  if (!value) {
    if (known_.erase(id) && options_.on_change) {
      ServiceInstance gone;
      gone.id = id;
      gone.service = service_;
      options_.on_change({InstanceChange::Kind::kRemoved, gone});
    }
    return;
  }
  auto instance = InstanceFromJson(*value);
  if (!instance.ok()) return;
  const bool added = known_.insert(id).second;
  if (options_.on_change) {
    options_.on_change(
        {added ? InstanceChange::Kind::kAdded : InstanceChange::Kind::kUpdated, *instance});
  }
}

}  // namespace pharos::client
