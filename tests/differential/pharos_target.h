// PharosTarget: the differential test's Pharos side — requests sent as they are through the SDK
// (client::Client) to a running pharosd.
//
// Thread rules: one thread at a time.
#pragma once

#include <string>

#include "client/client.h"
#include "tests/differential/kv_target.h"

namespace pharos::differential {

class PharosTarget : public KvTarget {
 public:
  explicit PharosTarget(const std::string& endpoint);
  Result<pb::Envelope> Execute(const pb::Envelope& request) override;

 private:
  client::Client client_;
};

}  // namespace pharos::differential
