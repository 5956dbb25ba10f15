#include "client/service_instance.h"

#include <nlohmann/json.hpp>

namespace pharos::client {

std::string ToJson(const ServiceInstance& i) {
  nlohmann::json j = {{"id", i.id},          {"service", i.service}, {"address", i.address},
                      {"port", i.port},      {"weight", i.weight},   {"zone", i.zone},
                      {"version", i.version}};
  j["metadata"] = nlohmann::json::object();
  for (const auto& [k, v] : i.metadata) j["metadata"][k] = v;
  return j.dump();
}

Result<ServiceInstance> InstanceFromJson(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("service instance is not a JSON object");
  auto str = [&](const char* field) -> std::string {
    auto it = j.find(field);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ServiceInstance i;
  i.id = str("id");
  i.service = str("service");
  i.address = str("address");
  i.zone = str("zone");
  i.version = str("version");
  if (i.id.empty() || i.service.empty()) {
    return Status::InvalidArgument("service instance needs an id and a service");
  }
  if (auto p = j.find("port"); p != j.end()) {
    if (!p->is_number_unsigned() || p->get<uint64_t>() > 65535) {
      return Status::InvalidArgument("service instance port out of range");
    }
    i.port = static_cast<uint16_t>(p->get<uint64_t>());
  }
  if (auto w = j.find("weight"); w != j.end()) {
    if (!w->is_number_unsigned() || w->get<uint64_t>() > UINT32_MAX) {
      return Status::InvalidArgument("service instance weight must be a non-negative integer");
    }
    i.weight = static_cast<uint32_t>(w->get<uint64_t>());
  }
  if (auto m = j.find("metadata"); m != j.end() && m->is_object()) {
    for (const auto& [k, v] : m->items())
      i.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  return i;
}

}  // namespace pharos::client
