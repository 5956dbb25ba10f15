// The registry workload (issue 8): `instances` service instances register and deregister at
// `rate` changes per second in all (each change flips one instance, round robin), while
// `discoverers` discovery clients watch the service. A change counts once every discovery
// client has seen it; its latency runs from the register/deregister's acknowledgement (0 when
// every client saw it before the acknowledgement came back) and, beside it, from its send, to
// the moment the last client saw it. A change some client never sees is an error.
//
// How a change is recognised: each registration's record carries its change number in
// metadata["change"]; a removal carries only the instance id, and is the change that followed
// the registration the client last saw of that instance (an instance's changes alternate, one
// at a time).
//
// Thread rules: RunRegistry blocks and runs its own threads; one call at a time per Backend.
#pragma once

#include "tools/bench/backend.h"
#include "tools/bench/workload.h"

namespace pharos::bench {

Result<Report> RunRegistry(Backend& backend, const WorkloadOptions& o, Report report);

}  // namespace pharos::bench
