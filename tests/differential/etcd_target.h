// EtcdTarget: the differential test's etcd side — each Pharos request translated field by field
// into etcd's v3 gRPC request (tools/bench/etcd_rpc.proto), sent to a running etcd, and the
// answer translated back: the response into the Pharos message, an error into the Pharos status
// code for the same failure (the table in etcd_target.cc).
//
// Thread rules: one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "tests/differential/kv_target.h"

namespace pharos::differential {

class EtcdTarget : public KvTarget {
 public:
  explicit EtcdTarget(const std::string& endpoint);
  ~EtcdTarget() override;
  Result<pb::Envelope> Execute(const pb::Envelope& request) override;

  // Whether the server answers yet (its status, with a short deadline). Make the target once
  // the server listens (EtcdProcess::Listening): a channel that met a refused connection waits
  // out gRPC's reconnect backoff, seconds, before it tries again.
  bool Ready();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pharos::differential
