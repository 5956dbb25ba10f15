#include "client/registrar.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "tests/client/fake_server.h"
#include "tests/eventually.h"

namespace pharos::client {
namespace {

using testing::FakeServer;

constexpr char kService[] = "svc";
constexpr char kId[] = "a";

ClientOptions Options(const std::string& endpoint,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  ClientOptions o;
  o.endpoints = {endpoint};
  o.timeout = timeout;
  o.backoff_initial = std::chrono::milliseconds(1);
  o.backoff_max = std::chrono::milliseconds(5);
  return o;
}

using pharos::testing::Eventually;

// The server's side in miniature: leases, keys attached to them, and the rule that matters here
// — a put under a lease that is gone is refused, and revoking a lease deletes its keys. The first
// lease granted is lost at its first keepalive, as if the cluster had expired it, so that the
// registrar re-registers at once. `hold`, run on the server's thread before a request is
// handled, may block it, or keep it back (true) until LandHeld() applies it: a request that
// reaches the server late, whose reply never comes.
class Registry {
 public:
  std::function<bool(const pb::Envelope&)> hold;

  // Holds every put under `lease` (answered never, applied at LandHeld); ready at the first.
  std::future<void> HoldPutsUnder(int64_t lease) {
    auto first = std::make_shared<std::promise<void>>();
    auto once = std::make_shared<std::once_flag>();
    hold = [lease, first, once](const pb::Envelope& r) {
      if (!r.has_put() || r.put().lease() != lease) return false;
      std::call_once(*once, [&] { first->set_value(); });
      return true;
    };
    return first->get_future();
  }

  FakeServer::Action Handle(const pb::Envelope& request) {
    if (hold && hold(request)) {
      std::lock_guard lock(mu_);
      held_.push_back(request);
      return {FakeServer::Action::Kind::kIgnore, {}};
    }
    std::lock_guard lock(mu_);
    log_.push_back(request);
    return Apply(request);
  }

  void LandHeld() {
    std::lock_guard lock(mu_);
    for (const auto& request : held_) (void)Apply(request);
    held_.clear();
  }

  // The lease the key is attached to, or nullopt when the key is absent.
  std::optional<int64_t> LeaseOfKey(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) return std::nullopt;
    return it->second;
  }
  int Grants() const {
    return Count([](const pb::Envelope& r) { return r.has_lease_grant(); });
  }
  int PutsUnder(int64_t lease) const {
    return Count([&](const pb::Envelope& r) { return r.has_put() && r.put().lease() == lease; });
  }
  int RevokesOf(int64_t lease) const {
    return Count([&](const pb::Envelope& r) {
      return r.has_lease_revoke() && r.lease_revoke().id() == lease;
    });
  }

 private:
  template <typename Pred>
  int Count(Pred pred) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& r : log_) n += pred(r) ? 1 : 0;
    return n;
  }

  void EndLease(int64_t id) {
    leases_.erase(id);
    std::erase_if(keys_, [id](const auto& kv) { return kv.second == id; });
  }

  FakeServer::Action Apply(const pb::Envelope& request) {
    pb::Envelope reply;
    if (request.has_lease_grant()) {
      const int64_t id = next_lease_++;
      leases_.insert(id);
      reply.mutable_lease_grant_response()->set_id(id);
      reply.mutable_lease_grant_response()->set_ttl(request.lease_grant().ttl());
    } else if (request.has_lease_keep_alive()) {
      const int64_t id = request.lease_keep_alive().id();
      if (id == kFirstLease) EndLease(id);
      if (!leases_.count(id)) return FakeServer::Error(pb::LEASE_NOT_FOUND, "lease not found");
      reply.mutable_lease_keep_alive_response()->set_id(id);
      reply.mutable_lease_keep_alive_response()->set_ttl(10);
    } else if (request.has_lease_revoke()) {
      const int64_t id = request.lease_revoke().id();
      if (!leases_.count(id)) return FakeServer::Error(pb::LEASE_NOT_FOUND, "lease not found");
      EndLease(id);
      reply.mutable_lease_revoke_response();
    } else if (request.has_put()) {
      const int64_t lease = request.put().lease();
      if (lease != 0 && !leases_.count(lease)) {
        return FakeServer::Error(pb::LEASE_NOT_FOUND, "lease not found");
      }
      keys_[request.put().key()] = lease;
      reply.mutable_put_response();
    } else if (request.has_delete_range()) {
      keys_.erase(request.delete_range().key());
      reply.mutable_delete_range_response();
    } else {
      return FakeServer::Error(pb::INVALID_ARGUMENT, "not a request the registrar sends");
    }
    return FakeServer::Ok(std::move(reply));
  }

 public:
  static constexpr int64_t kFirstLease = 100;

 private:
  mutable std::mutex mu_;
  int64_t next_lease_ = kFirstLease;
  std::set<int64_t> leases_;
  std::map<std::string, int64_t> keys_;  // key -> lease (0: none)
  std::vector<pb::Envelope> log_;        // every request handled, in order
  std::vector<pb::Envelope> held_;
};

ServiceInstance Instance() {
  ServiceInstance i;
  i.service = kService;
  i.id = kId;
  i.address = "10.0.0.1";
  i.port = 8080;
  return i;
}

// The new lease's id: the registry grants them in sequence.
constexpr int64_t kSecondLease = Registry::kFirstLease + 1;

TEST(RegistrarTest, ALostLeaseIsReplacedAndTheRecordWrittenUnderTheNewOne) {
  Registry registry;
  FakeServer server([&](const pb::Envelope& r) { return registry.Handle(r); });
  Client client(Options(server.endpoint()));
  std::atomic<int> reregistered{0};
  Registrar registrar(client, {.on_reregister = [&](const std::string&, const Status& s) {
                        if (s.ok()) ++reregistered;
                      }});
  ASSERT_TRUE(registrar.Register(Instance()).ok());
  const std::string key = registrar.KeyOf(kService, kId);
  ASSERT_TRUE(Eventually([&] { return registrar.LeaseOf(kService, kId) == kSecondLease; }));
  EXPECT_EQ(registry.LeaseOfKey(key), kSecondLease);
  EXPECT_TRUE(Eventually([&] { return reregistered == 1; }));
}

// The lease is lost during an outage; the service shuts down while its re-registration waits
// for the new lease. Once Deregister has returned, nothing may bring the record back.
TEST(RegistrarTest, ADeregisterWhileTheNewLeaseIsBeingGrantedRevokesItAndSendsNoPut) {
  Registry registry;
  std::atomic<Registrar*> registrar{nullptr};  // the hook runs only once it is set
  std::future<Status> deregistered;
  std::promise<void> grant_held;
  registry.hold = [&](const pb::Envelope& r) {
    if (r.has_lease_grant() && registry.Grants() == 1) {
      // The grant of the re-registration: answer it only once Deregister has let go of the
      // instance (its revoke and delete queue behind this answer).
      Registrar* r = registrar;
      deregistered = std::async(std::launch::async, [r] { return r->Deregister(kService, kId); });
      EXPECT_TRUE(Eventually([r] { return r->LeaseOf(kService, kId) == 0; }));
      grant_held.set_value();
    }
    return false;
  };
  FakeServer server([&](const pb::Envelope& r) { return registry.Handle(r); });
  Client client(Options(server.endpoint()));
  Registrar owned(client);
  registrar = &owned;
  ASSERT_TRUE(owned.Register(Instance()).ok());
  const std::string key = owned.KeyOf(kService, kId);

  ASSERT_EQ(grant_held.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(deregistered.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(deregistered.get().ok());
  ASSERT_TRUE(Eventually([&] {
    return registry.RevokesOf(kSecondLease) > 0 || registry.PutsUnder(kSecondLease) > 0;
  }));
  EXPECT_EQ(registry.RevokesOf(kSecondLease), 1);
  EXPECT_EQ(registry.PutsUnder(kSecondLease), 0);
  EXPECT_EQ(registry.LeaseOfKey(key), std::nullopt);
}

// As above, but the put of the re-registration has left and reaches the server only after
// Deregister has returned (its answer is lost).
TEST(RegistrarTest, APutOfAReregistrationThatLandsAfterDeregisterWritesNothing) {
  Registry registry;
  std::future<void> put_held = registry.HoldPutsUnder(kSecondLease);
  FakeServer server([&](const pb::Envelope& r) { return registry.Handle(r); });
  Client client(Options(server.endpoint()));
  Registrar registrar(client);
  ASSERT_TRUE(registrar.Register(Instance()).ok());
  const std::string key = registrar.KeyOf(kService, kId);

  ASSERT_EQ(put_held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_TRUE(registrar.Deregister(kService, kId).ok());
  registry.LandHeld();
  EXPECT_EQ(registry.LeaseOfKey(key), std::nullopt);
}

TEST(RegistrarTest, APutOfAReregistrationThatLandsAfterTheRegistrarIsDestroyedWritesNothing) {
  Registry registry;
  std::future<void> put_held = registry.HoldPutsUnder(kSecondLease);
  FakeServer server([&](const pb::Envelope& r) { return registry.Handle(r); });
  Client client(Options(server.endpoint()));
  auto registrar = std::make_unique<Registrar>(client);
  ASSERT_TRUE(registrar->Register(Instance()).ok());
  const std::string key = registrar->KeyOf(kService, kId);

  ASSERT_EQ(put_held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  registrar.reset();
  registry.LandHeld();
  EXPECT_EQ(registry.LeaseOfKey(key), std::nullopt);
}

// A re-registration still in flight when the instance is deregistered and registered again
// belongs to the old registration: it must not take the new one over.
TEST(RegistrarTest, AReregistrationFromBeforeADeregisterLeavesTheNextRegistrationAlone) {
  Registry registry;
  std::future<void> put_held = registry.HoldPutsUnder(kSecondLease);
  FakeServer server([&](const pb::Envelope& r) { return registry.Handle(r); });
  // Short: the held put's answer never comes, and its callback is what this test is about.
  Client client(Options(server.endpoint(), std::chrono::milliseconds(300)));
  Registrar registrar(client);
  ASSERT_TRUE(registrar.Register(Instance()).ok());
  const std::string key = registrar.KeyOf(kService, kId);

  ASSERT_EQ(put_held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_TRUE(registrar.Deregister(kService, kId).ok());
  ASSERT_TRUE(registrar.Register(Instance()).ok());
  constexpr int64_t kThirdLease = kSecondLease + 1;
  ASSERT_EQ(registrar.LeaseOf(kService, kId), kThirdLease);

  // When the held put times out its callback either lets its lease go (revoking it once more
  // after Deregister did) or mistakes the new registration for its own and re-registers it.
  ASSERT_TRUE(
      Eventually([&] { return registry.RevokesOf(kSecondLease) == 2 || registry.Grants() > 3; }));
  EXPECT_EQ(registry.Grants(), 3);
  EXPECT_EQ(registrar.LeaseOf(kService, kId), kThirdLease);
  EXPECT_EQ(registry.LeaseOfKey(key), kThirdLease);
}

// Two threads register one instance at once. Both used to go through, and the entry of the one
// that finished last could hold the lease whose record the other's put had replaced: the
// registrar kept that lease alive while the record's own lease expired with the instance.
TEST(RegistrarTest, ASecondRegisterOfAnInstanceBeingRegisteredIsRefusedAtOnce) {
  Registry registry;
  std::atomic<Registrar*> registrar{nullptr};  // the hook runs only once it is set
  std::optional<Status> second;
  registry.hold = [&](const pb::Envelope& r) {
    Registrar* owned = registrar;
    if (owned != nullptr && r.has_lease_grant() && registry.Grants() == 0) {
      // The first Register's grant: the server answers nothing until the second has returned,
      // so a second that sends anything cannot return in time.
      auto f = std::async(std::launch::async, [owned] { return owned->Register(Instance()); });
      if (f.wait_for(std::chrono::seconds(3)) == std::future_status::ready) {
        second = f.get();
      } else {
        ADD_FAILURE() << "the second Register waited on the server";
      }
    }
    return false;
  };
  FakeServer server([&](const pb::Envelope& r) { return registry.Handle(r); });
  Client client(Options(server.endpoint()));
  Registrar owned(client);
  registrar = &owned;
  ASSERT_TRUE(owned.Register(Instance()).ok());

  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->code(), StatusCode::kFailedPrecondition) << second->ToString();
  EXPECT_EQ(registry.PutsUnder(Registry::kFirstLease), 1);
  // The first lease is lost at its first keepalive; the registrar's re-registration must end
  // with the record under the lease it keeps alive.
  const std::string key = owned.KeyOf(kService, kId);
  ASSERT_TRUE(Eventually([&] { return owned.LeaseOf(kService, kId) == kSecondLease; }));
  EXPECT_EQ(registry.LeaseOfKey(key), kSecondLease);
  EXPECT_EQ(registry.Grants(), 2);
}

// The service shuts down (Deregister on another thread) while its first Register waits for its
// put: the put, when it lands, must write nothing, and an Update meanwhile must not write the
// record under no lease at all.
TEST(RegistrarTest, ADeregisterWhileTheFirstRegisterIsInFlightLeavesNoRecord) {
  Registry registry;
  std::future<void> put_held = registry.HoldPutsUnder(Registry::kFirstLease);
  FakeServer server([&](const pb::Envelope& r) { return registry.Handle(r); });
  // The held put's answer never comes; Register gives up after this, which must leave the test
  // time to call Update and Deregister while it waits.
  Client client(Options(server.endpoint(), std::chrono::seconds(2)));
  Registrar registrar(client);
  auto registered = std::async(std::launch::async, [&] { return registrar.Register(Instance()); });
  const std::string key = registrar.KeyOf(kService, kId);

  ASSERT_EQ(put_held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ServiceInstance changed = Instance();
  changed.weight = 7;
  const Status updated = registrar.Update(changed);
  EXPECT_EQ(updated.code(), StatusCode::kFailedPrecondition) << updated.ToString();
  ASSERT_TRUE(registrar.Deregister(kService, kId).ok());
  registry.LandHeld();
  EXPECT_EQ(registry.LeaseOfKey(key), std::nullopt);

  ASSERT_EQ(registered.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const Status outcome = registered.get();
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition) << outcome.ToString();
  EXPECT_NE(outcome.message().find("deregistered while it was being registered"), std::string::npos)
      << outcome.ToString();
  EXPECT_EQ(registrar.LeaseOf(kService, kId), 0);
  EXPECT_EQ(registry.PutsUnder(0), 0);
  EXPECT_EQ(registry.LeaseOfKey(key), std::nullopt);
  // And the instance can be registered again.
  registry.hold = nullptr;
  EXPECT_TRUE(registrar.Register(Instance()).ok());
}

}  // namespace
}  // namespace pharos::client
