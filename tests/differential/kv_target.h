// KvTarget: one key-value server the differential test drives — Pharos through its SDK, or etcd
// through its v3 gRPC API — behind one call. Requests and responses are Pharos protocol
// envelopes, so both servers' answers can be described and compared the same way; a target that
// speaks another protocol translates both ways, and translates its errors into the Pharos status
// code for the same failure.
//
// Thread rules: one thread at a time per target.
#pragma once

#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::differential {

class KvTarget {
 public:
  virtual ~KvTarget() = default;
  // `request` carries one request body (range, put, delete_range, txn, compaction, lease_grant,
  // lease_revoke, lease_keep_alive, lease_time_to_live or lease_leases). The response envelope
  // carries the matching response body; a failure is the error, never an envelope.
  virtual Result<pb::Envelope> Execute(const pb::Envelope& request) = 0;
};

}  // namespace pharos::differential
