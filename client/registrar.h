// Registrar: a service instance's presence in the registry (DESIGN.md §6). Register grants a
// lease, writes the instance's JSON record at `<prefix><service>/<id>` attached to it, and keeps
// the lease alive. When the lease is lost (a long partition, the cluster expired it) the
// registrar registers the instance again by itself, with a new lease, retrying with backoff
// until it succeeds or the instance is deregistered.
//
// Thread rules: every method from any thread except the client's callbacks (they block).
// Destroying the registrar deregisters what it still holds (best effort, bounded by the
// client's timeout).
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client/client.h"
#include "client/service_instance.h"
#include "common/status.h"

namespace pharos::client {

struct RegistrarOptions {
  std::string prefix = "/services/";
  int64_t ttl_seconds = 10;
  // After each automatic re-registration (OK, or why it failed and will be retried).
  std::function<void(const std::string& instance_id, const Status& status)> on_reregister;
};

class Registrar {
 public:
  Registrar(Client& client, RegistrarOptions options = {});
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  // FAILED_PRECONDITION when the instance is registered here already, or a Register of it is
  // still in flight (from another thread), or it was deregistered before this returned.
  Status Register(const ServiceInstance& instance);
  // Rewrites the record (weight, metadata, ...) under the same lease. FAILED_PRECONDITION while
  // the instance's first Register is still in flight.
  Status Update(const ServiceInstance& instance);
  // Deletes the record and revokes its lease, and the lease of a registration or re-registration
  // in flight: once it returns OK, no record of the instance appears again.
  Status Deregister(const std::string& service, const std::string& instance_id);
  // The key an instance lives at.
  std::string KeyOf(const std::string& service, const std::string& instance_id) const;
  // The lease currently holding the instance (0 when not registered), for tests.
  int64_t LeaseOf(const std::string& service, const std::string& instance_id) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace pharos::client
