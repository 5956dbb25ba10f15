// EtcdBackend: the Backend of pharos-bench for an etcd v3 cluster, over etcd's own gRPC API
// (tools/bench/etcd_rpc.proto). Its M connections are M gRPC channels to the leader (found at
// start with Maintenance.Status), each its own TCP connection, as `etcdctl --endpoints=<leader>`
// or etcd's own benchmark tool would use; watches are multiplexed on one stream per connection,
// as clientv3 does. Only this file and its .cc see gRPC: nothing else in Pharos links it.
//
// Thread rules: as Backend.
#pragma once

#include <memory>

#include "tools/bench/backend.h"

namespace pharos::bench {

std::unique_ptr<Backend> MakeEtcdBackend(const BackendOptions& options);

}  // namespace pharos::bench
