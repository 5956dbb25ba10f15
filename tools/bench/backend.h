// Backend: what a pharos-bench workload needs from a cluster, so that the same workload code runs
// against Pharos (through the SDK) and against etcd (through its gRPC API). Every call blocks and
// names one of the backend's connections (`conn`, taken modulo connections()), so N clients
// share M connections the same way on both systems. The calls the closed loops make (put, get,
// keepalive) are asynchronous only, so N clients need no N threads; a loop with a thread per
// client waits for each (Await, run_loop.h).
//
// Thread rules: every method may be called from any thread at once; a keepalive stream has one
// keepalive in flight at a time. Watch callbacks run on the backend's own threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/discovery.h"
#include "client/service_instance.h"
#include "common/result.h"

namespace pharos::bench {

struct MemberState {
  std::string endpoint;
  bool reachable = false;
  uint64_t term = 0;
  bool is_leader = false;
  uint64_t commit_index = 0;  // as the member knows it (etcd: raftIndex)
};

struct CasOutcome {
  bool succeeded = false;
  // The key's mod revision after the txn: the new one when it succeeded, the one that beat us
  // when it did not (0: the key does not exist).
  int64_t mod_revision = 0;
};

// One keepalive round trip for lease `id` at a time, its `done` run on the backend's threads
// (from where the next may start).
class AsyncKeepAliveStream {
 public:
  virtual ~AsyncKeepAliveStream() = default;
  virtual void KeepAlive(int64_t id, std::function<void(Status)> done) = 0;
};

class WatchSet {
 public:
  virtual ~WatchSet() = default;
  // Blocks until every watch has been confirmed by the server, or `timeout` passes.
  virtual Status WaitCreated(std::chrono::milliseconds timeout) = 0;
};

// Service instances registered the registry's way (DESIGN.md §6): each at
// `/services/<service>/<id>`, its JSON record attached to a lease of its own that is kept alive
// until the instance deregisters.
class InstanceRegistry {
 public:
  virtual ~InstanceRegistry() = default;
  // Grants the lease, writes the record under it and starts keeping the lease alive; returns
  // once the record is written. Deregister with the same `conn`.
  virtual Status Register(int conn, const client::ServiceInstance& instance) = 0;
  // Stops the keepalives and revokes the lease, which deletes the record; returns once done.
  virtual Status Deregister(int conn, const std::string& service, const std::string& id) = 0;
};

// Discovery clients of one service: each lists `/services/<service>/` and then watches it from
// the list's revision + 1, as client::Discovery does.
class DiscoverySet {
 public:
  virtual ~DiscoverySet() = default;
  // Blocks until every client has its first list (and, where the driver can tell, its watch
  // confirmed), or `timeout` passes.
  virtual Status WaitReady(std::chrono::milliseconds timeout) = 0;
};

// `on_change(client, change)`: one call per instance a discovery client sees added, updated or
// removed (the first list counts as added), on the driver's threads.
using DiscoveryCallback = std::function<void(int client, const client::InstanceChange& change)>;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual int connections() const = 0;

  // `done` runs once, on one of the backend's threads, and may start the next call from there.
  virtual void PutAsync(int conn, const std::string& key, const std::string& value,
                        std::function<void(Status)> done) = 0;
  virtual void GetAsync(int conn, const std::string& key, bool serializable,
                        std::function<void(Status)> done) = 0;
  // The key's mod revision (0 when absent), read linearizably.
  virtual Result<int64_t> ModRevision(int conn, const std::string& key) = 0;
  // One txn: if key's mod revision == expected, put value; else read the key.
  virtual Result<CasOutcome> CompareAndSwap(int conn, const std::string& key,
                                            int64_t expected_mod_revision,
                                            const std::string& value) = 0;

  virtual Result<int64_t> GrantLease(int conn, int64_t ttl_seconds) = 0;
  virtual Status RevokeLease(int conn, int64_t id) = 0;
  virtual Result<std::unique_ptr<AsyncKeepAliveStream>> OpenAsyncKeepAlive(int conn) = 0;

  // `count` watchers on `prefix`, spread over the connections; `on_events(watcher, values)` for
  // every watch response that carries events.
  virtual Result<std::unique_ptr<WatchSet>> Watch(
      const std::string& prefix, int count,
      std::function<void(int watcher, const std::vector<std::string>& values)> on_events) = 0;

  // Registers instances with leases of `ttl_seconds`.
  virtual Result<std::unique_ptr<InstanceRegistry>> OpenRegistry(int64_t ttl_seconds) = 0;
  // `count` discovery clients of `service`, spread over the connections.
  virtual Result<std::unique_ptr<DiscoverySet>> Discover(const std::string& service, int count,
                                                         DiscoveryCallback on_change) = 0;

  // Every member's view (term, leader), each asked directly; a member that does not answer
  // within `timeout` is reported unreachable.
  virtual std::vector<MemberState> Members(std::chrono::milliseconds timeout) = 0;
  // A put with a short deadline that may go to any member (for failover timing): OK once the
  // cluster accepts writes again.
  virtual Status PutAnywhere(const std::string& key, const std::string& value,
                             std::chrono::milliseconds timeout) = 0;
};

struct BackendOptions {
  std::vector<std::string> endpoints;
  int connections = 1;
  std::chrono::milliseconds timeout{5000};
};

// "pharos" or "etcd"; an error when the target is unknown or was not built in.
Result<std::unique_ptr<Backend>> MakeBackend(const std::string& target,
                                             const BackendOptions& options);

}  // namespace pharos::bench
