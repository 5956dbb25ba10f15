#include "tests/differential/pharos_target.h"

namespace pharos::differential {
namespace {

client::ClientOptions OptionsFor(const std::string& endpoint) {
  client::ClientOptions options;
  options.endpoints = {endpoint};
  options.timeout = std::chrono::seconds(10);
  return options;
}

}  // namespace

PharosTarget::PharosTarget(const std::string& endpoint) : client_(OptionsFor(endpoint)) {}

Result<pb::Envelope> PharosTarget::Execute(const pb::Envelope& request) {
  // One member and nothing failing on purpose: an error that only a retry would hide (the
  // member not yet leader, a refused connection) is a result to show, not to smooth over.
  client::CallOptions call;
  call.retry = client::RetryPolicy::kNever;
  return client_.Call(request, call);
}

}  // namespace pharos::differential
