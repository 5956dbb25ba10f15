// The registry conventions (DESIGN.md §6) done with etcd's own KV, lease and watch, the way a
// clientv3 service does them, for pharos-bench's registry workload: the same key layout and
// record as Pharos's client::Registrar and client::Discovery.
//   register:   LeaseGrant(ttl), Put(/services/<service>/<id>, record JSON, lease), then the
//               lease is renewed every TTL/3 on a keepalive stream (clientv3's lessor cadence)
//   deregister: LeaseRevoke (etcd deletes the record in the same revision), then DeleteRange of
//               the key (in case it was written under another lease), as client::Registrar does
//   discover:   Range of the prefix, then a watch from the list's revision + 1, one watch per
//               discovery client multiplexed on one stream per connection
//
// Thread rules: as InstanceRegistry and DiscoverySet (backend.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tools/bench/backend.h"
#include "tools/bench/etcd_conn.h"

namespace pharos::bench {

// `conns` outlive the registry.
std::unique_ptr<InstanceRegistry> MakeEtcdRegistry(std::vector<Conn*> conns, int64_t ttl_seconds,
                                                   std::chrono::milliseconds timeout);

// `conns` outlive the set. Lists before it returns; an error when a list fails.
Result<std::unique_ptr<DiscoverySet>> MakeEtcdDiscovery(std::vector<Conn*> conns,
                                                        const std::string& service, int count,
                                                        DiscoveryCallback on_change,
                                                        std::chrono::milliseconds timeout);

}  // namespace pharos::bench
