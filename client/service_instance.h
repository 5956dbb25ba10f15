// ServiceInstance: one running instance of a service as the registry stores it (DESIGN.md §6),
// at `/services/<service>/<id>` with a JSON value any tool can read. Balancers pick among these;
// Registrar writes them; Discovery reads them back.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"

namespace pharos::client {

struct ServiceInstance {
  std::string id;
  std::string service;
  std::string address;
  uint16_t port = 0;
  uint32_t weight = 1;
  std::string zone;
  std::string version;
  std::map<std::string, std::string> metadata;

  // "address:port", what a caller dials.
  std::string Endpoint() const { return address + ":" + std::to_string(port); }
  bool operator==(const ServiceInstance&) const = default;
};

// {"id","service","address","port","weight","zone","version","metadata":{}}.
std::string ToJson(const ServiceInstance& instance);
// Refuses anything that is not such an object (a missing id or service, a port out of range).
Result<ServiceInstance> InstanceFromJson(const std::string& json);

}  // namespace pharos::client
