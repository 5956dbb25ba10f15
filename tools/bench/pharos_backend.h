// PharosBackend: the Backend of pharos-bench for a Pharos cluster, through the SDK. Each of the
// M connections is a client::Client of its own (one TCP connection to the member it talks to),
// which follows the leader as any service's client would.
//
// Thread rules: as Backend.
#pragma once

#include <memory>

#include "tools/bench/backend.h"

namespace pharos::bench {

std::unique_ptr<Backend> MakePharosBackend(const BackendOptions& options);

}  // namespace pharos::bench
