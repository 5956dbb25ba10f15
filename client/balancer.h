// Balancer: picks one instance of a service for each call, among the instances Discovery last
// reported (Update), skipping those the availability hook turns away (a per-instance circuit
// breaker plugs in there). One interface behind MakeBalancer, one algorithm per subclass; the base
// keeps what they share: the instance set, the in-flight counts OnStart/OnFinish feed, the hook,
// and a seeded random engine, so a test with a fixed seed sees the same picks on every run.
//
// Thread rules: every public method may be called from any thread; one mutex per balancer
// serializes them. The availability hook runs under that mutex and is asked about any instance,
// several per Pick, including instances that are then not picked: it must be a quick query with no
// side effects (a breaker's "is open", not its "admit a half-open probe"), and must not call back
// into the balancer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/service_instance.h"

namespace pharos::client {

struct PickRequest {
  // What consistent hashing routes by (a user id, a session id): equal keys reach the same
  // instance while the set and the loads allow. Other algorithms ignore it.
  std::string hash_key;
};

struct BalancerOptions {
  // Seeds every random choice and round robin's starting point. Unset, it is drawn from
  // std::random_device, so that clients started together do not move in lockstep.
  std::optional<uint64_t> seed;
  // Ring points per instance for consistent hashing: the spread of instances' shares shrinks as
  // 1/sqrt(points); at least 1.
  int virtual_nodes = 160;
  // Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam): an instance takes a
  // call only while its in-flight count is below ceil((1 + load_epsilon) * (in-flight total + 1) /
  // available instances); otherwise the key walks on clockwise. A smaller epsilon evens the load
  // but moves more keys off their home instance. Negative values count as 0.
  bool bounded_load = true;
  double load_epsilon = 0.25;
};

enum class BalancerKind {
  kRandom,
  kRoundRobin,
  kWeightedRandom,
  kSmoothWeightedRoundRobin,
  kConsistentHash,
  kPowerOfTwoChoices,
};

class Balancer {
 public:
  using Availability = std::function<bool(const ServiceInstance&)>;

  virtual ~Balancer() = default;
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  // Replaces the instances to pick from (Discovery's change callback calls this). Order is kept;
  // of several instances with one id only the first counts. What is tied to an instance (its
  // in-flight count, its smooth weight) survives for ids still present.
  void Update(std::vector<ServiceInstance> instances);
  // An instance for this request, or nullopt when none is available.
  std::optional<ServiceInstance> Pick(const PickRequest& request = {});
  // Load feedback: a call to instance `id` started / finished. Ids not in the set are ignored
  // (the instance may have left between Pick and the call); a count never drops below zero.
  void OnStart(const std::string& id);
  void OnFinish(const std::string& id);
  // Calls in flight to `id` as OnStart/OnFinish left them; 0 for an id not in the set.
  int64_t InFlight(const std::string& id) const;
  // Instances for which `available` returns false are never picked. An empty function (the
  // default) makes every instance available.
  void SetAvailability(Availability available);

 protected:
  explicit Balancer(const BalancerOptions& options);

  // The public methods are not virtual: they take the lock and keep the shared bookkeeping, then
  // call these hooks, so no algorithm can forget either. The hooks run with the mutex held, so the
  // accessors below need no locking of their own.
  // After Update: previous_position[i] is where instances()[i] stood before, nullopt if new.
  virtual void InstancesChanged(const std::vector<std::optional<size_t>>& previous_position);
  // Index into instances() (never empty here) of the instance to pick, nullopt if none is
  // available.
  virtual std::optional<size_t> Choose(const PickRequest& request) = 0;

  const std::vector<ServiceInstance>& instances() const { return instances_; }
  bool IsAvailable(size_t i) const { return !available_ || available_(instances_[i]); }
  int64_t Load(size_t i) const { return in_flight_[i]; }
  // Uniform in [0, n), n > 0.
  size_t RandomIndex(size_t n);
  std::mt19937_64& rng() { return rng_; }
  // Replaces `*out` with the indices of the available instances, in order.
  void AvailableIndices(std::vector<size_t>* out) const;

 private:
  mutable std::mutex mu_;
  std::vector<ServiceInstance> instances_;
  std::vector<int64_t> in_flight_;  // parallel to instances_
  std::unordered_map<std::string, size_t> position_;
  Availability available_;
  std::mt19937_64 rng_;
};

std::unique_ptr<Balancer> MakeBalancer(BalancerKind kind, BalancerOptions options = {});

}  // namespace pharos::client
