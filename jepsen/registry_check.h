// The registry workload's judgement, on its own so that a hand-made history can be fed to it: a
// discovery client's view of one service, checked against the committed history of the service's
// instances. The history is the harness's JSON-lines format with these `f` values (the key is the
// instance's key, `/services/<svc>/<id>`; every instance is registered at most once):
//   register    invoke {"ttl": s}; ok {"lease": id, "revision": r, "ttl": s} — the record is
//               written with the lease and acknowledged; fail / info: it may exist until its
//               lease (never kept alive) expires.
//   deregister  invoke {"lease": id} (its keepalives stop here); ok {"lease": id, "revision": r}
//               — the record is deleted; fail / info: an `expire` follows.
//   expire      invoke {"lease": id, "alive_until": ns} — keepalives stopped (the instance died
//               silently, or its lease was lost); the lease is known to live until
//               `alive_until` (required: a history without it is unreadable). ok {"lease": id,
//               "revision": r}: a linearizable read saw the record gone; info: not seen gone before
//               the run ended.
//   discover    a single ok event (no invoke) from a discovery client's process, value "added" or
//               "removed": when that client's view changed.
// Correct, with G the grace and T an instance's TTL:
//   nothing lost — an acknowledged instance is in every view from ack + G until its deregister
//     is invoked or its lease's `alive_until` (or the end of the run);
//   nothing stale — an instance is out of every view from: deregister ok + G; expire invoke +
//     T + G; expire ok + G; a register that failed + T + G; and the cluster itself expires a
//     lease within T + G of its keepalives stopping;
//   nothing invented — a view never shows a key before a register of it was invoked.
// Plain functions; no thread rules.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "common/result.h"
#include "jepsen/workload.h"

namespace pharos::jepsen {

struct RegistryCheckOptions {
  int64_t grace_ns = 0;
  int64_t end_ns = 0;  // when the views were last looked at (the end of the run)
  // The discovery clients' processes: each is judged even if it never saw a change.
  std::vector<int64_t> views;
};

// InvalidArgument "line N: why" for a history it cannot read.
Result<Verdict> CheckRegistryHistory(std::istream& history, const RegistryCheckOptions& options);

}  // namespace pharos::jepsen
