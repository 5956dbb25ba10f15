#include "registry/request_metrics.h"

#include "common/metrics.h"

namespace pharos::registry {

RequestMetrics::Method& RequestMetrics::For(pb::Envelope::BodyCase body) {
  auto [it, made] = methods_.try_emplace(static_cast<int>(body));
  Method& m = it->second;
  if (made) {
    const auto* field = pb::Envelope::descriptor()->FindFieldByNumber(static_cast<int>(body));
    m.name = field ? field->name() : "unknown";
    m.duration =
        &Metrics::Global().histogram("pharos_client_request_duration_seconds",
                                     "Client request latency by method", {{"method", m.name}});
  }
  return m;
}

void RequestMetrics::Record(Method& method, pb::Code code, double seconds) {
  auto [it, made] = method.by_code.try_emplace(code, nullptr);
  if (made) {
    it->second = &Metrics::Global().counter(
        "pharos_client_requests_total", "Client requests by method and result code",
        {{"method", method.name}, {"code", pb::Code_Name(code)}});
  }
  it->second->Inc();
  method.duration->Observe(seconds);
}

}  // namespace pharos::registry
