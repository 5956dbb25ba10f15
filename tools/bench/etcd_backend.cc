#include "tools/bench/etcd_backend.h"

#include <atomic>
#include <thread>

#include "tools/bench/etcd_async.h"
#include "tools/bench/etcd_conn.h"
#include "tools/bench/etcd_registry.h"
#include "tools/bench/etcd_watch_stream.h"

namespace pharos::bench {
namespace {

using Clock = std::chrono::steady_clock;

class EtcdWatchSet : public WatchSet {
 public:
  Status WaitCreated(std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    for (const auto& s : streams_) {
      while (!s->AllCreated()) {
        if (Clock::now() > deadline) return Status::Unavailable("etcd: watches not created");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    return Status::Ok();
  }
  std::vector<std::unique_ptr<EtcdWatchStream>> streams_;
};

class EtcdBackend : public Backend {
 public:
  explicit EtcdBackend(const BackendOptions& options) : options_(options) {
    for (const auto& ep : options.endpoints) members_.push_back(std::make_unique<Conn>(ep));
    std::string leader = options.endpoints.empty() ? "" : options.endpoints[0];
    for (int attempt = 0; attempt < 50; ++attempt) {
      bool found = false;
      for (const auto& m : Members(std::chrono::milliseconds(1000))) {
        if (m.is_leader) {
          leader = m.endpoint;
          found = true;
        }
      }
      if (found) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (int i = 0; i < std::max(1, options.connections); ++i) {
      conns_.push_back(std::make_unique<Conn>(leader));
      queues_.push_back(std::make_unique<CompletionThread>());
    }
    // gRPC connects lazily, and while a connection's first attempt is down it fails calls at
    // once and waits a second before the next: the first second of a workload would be errors
    // (seen in CI: 178 of 200 lease grants). Every connection is up before the clock starts.
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(10);
    for (const auto& c : conns_) c->channel->WaitForConnected(deadline);
  }

  int connections() const override { return static_cast<int>(conns_.size()); }

  void PutAsync(int conn, const std::string& key, const std::string& value,
                std::function<void(Status)> done) override {
    epb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    UnaryCall<epb::PutResponse>::Begin(
        Queue(conn), options_.timeout,
        [&](grpc::ClientContext* ctx, grpc::CompletionQueue* q) {
          return C(conn).kv->PrepareAsyncPut(ctx, req, q);
        },
        std::move(done));
  }

  void GetAsync(int conn, const std::string& key, bool serializable,
                std::function<void(Status)> done) override {
    epb::RangeRequest req;
    req.set_key(key);
    req.set_serializable(serializable);
    UnaryCall<epb::RangeResponse>::Begin(
        Queue(conn), options_.timeout,
        [&](grpc::ClientContext* ctx, grpc::CompletionQueue* q) {
          return C(conn).kv->PrepareAsyncRange(ctx, req, q);
        },
        std::move(done));
  }

  Result<int64_t> ModRevision(int conn, const std::string& key) override {
    epb::RangeRequest req;
    req.set_key(key);
    epb::RangeResponse resp;
    auto ctx = Context(options_.timeout);
    if (auto s = FromGrpc(C(conn).kv->Range(ctx.get(), req, &resp)); !s.ok()) return s;
    return resp.kvs().empty() ? int64_t{0} : resp.kvs(0).mod_revision();
  }

  Result<CasOutcome> CompareAndSwap(int conn, const std::string& key, int64_t expected,
                                    const std::string& value) override {
    epb::TxnRequest req;
    auto* cmp = req.add_compare();
    cmp->set_key(key);
    cmp->set_target(epb::Compare::MOD);
    cmp->set_result(epb::Compare::EQUAL);
    cmp->set_mod_revision(expected);
    auto* put = req.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    req.add_failure()->mutable_request_range()->set_key(key);
    epb::TxnResponse resp;
    auto ctx = Context(options_.timeout);
    if (auto s = FromGrpc(C(conn).kv->Txn(ctx.get(), req, &resp)); !s.ok()) return s;
    CasOutcome out;
    out.succeeded = resp.succeeded();
    if (out.succeeded) {
      out.mod_revision = resp.header().revision();
    } else if (resp.responses_size() > 0 && resp.responses(0).response_range().kvs_size() > 0) {
      out.mod_revision = resp.responses(0).response_range().kvs(0).mod_revision();
    }
    return out;
  }

  Result<int64_t> GrantLease(int conn, int64_t ttl_seconds) override {
    epb::LeaseGrantRequest req;
    req.set_ttl(ttl_seconds);
    epb::LeaseGrantResponse resp;
    auto ctx = Context(options_.timeout);
    if (auto s = FromGrpc(C(conn).lease->LeaseGrant(ctx.get(), req, &resp)); !s.ok()) return s;
    if (!resp.error().empty()) return Status::Unavailable("etcd: " + resp.error());
    return resp.id();
  }

  Status RevokeLease(int conn, int64_t id) override {
    epb::LeaseRevokeRequest req;
    req.set_id(id);
    epb::LeaseRevokeResponse resp;
    auto ctx = Context(options_.timeout);
    return FromGrpc(C(conn).lease->LeaseRevoke(ctx.get(), req, &resp));
  }

  Result<std::unique_ptr<AsyncKeepAliveStream>> OpenAsyncKeepAlive(int conn) override {
    auto stream = std::make_unique<EtcdAsyncKeepAlive>(C(conn), Queue(conn));
    if (!stream->open()) return Status::Unavailable("etcd: keepalive stream not opened");
    return std::unique_ptr<AsyncKeepAliveStream>(std::move(stream));
  }

  Result<std::unique_ptr<WatchSet>> Watch(
      const std::string& prefix, int count,
      std::function<void(int, const std::vector<std::string>&)> on_events) override {
    auto set = std::make_unique<EtcdWatchSet>();
    std::vector<std::vector<EtcdWatchStream::Spec>> by_conn(conns_.size());
    for (int i = 0; i < count; ++i) by_conn[i % conns_.size()].push_back({.watcher = i});
    auto values_of = [on_events](int watcher,
                                 const google::protobuf::RepeatedPtrField<epb::Event>& events) {
      std::vector<std::string> values;
      values.reserve(events.size());
      for (const auto& e : events) values.push_back(e.kv().value());
      on_events(watcher, values);
    };
    for (size_t c = 0; c < conns_.size(); ++c) {
      if (by_conn[c].empty()) continue;
      set->streams_.push_back(
          std::make_unique<EtcdWatchStream>(*conns_[c], prefix, by_conn[c], values_of));
    }
    return std::unique_ptr<WatchSet>(std::move(set));
  }

  Result<std::unique_ptr<InstanceRegistry>> OpenRegistry(int64_t ttl_seconds) override {
    return MakeEtcdRegistry(Conns(), ttl_seconds, options_.timeout);
  }

  Result<std::unique_ptr<DiscoverySet>> Discover(const std::string& service, int count,
                                                 DiscoveryCallback on_change) override {
    return MakeEtcdDiscovery(Conns(), service, count, std::move(on_change), options_.timeout);
  }

  std::vector<MemberState> Members(std::chrono::milliseconds timeout) override {
    std::vector<MemberState> out;
    for (size_t i = 0; i < members_.size(); ++i) {
      MemberState m;
      m.endpoint = options_.endpoints[i];
      epb::StatusRequest req;
      epb::StatusResponse resp;
      auto ctx = Context(timeout);
      if (members_[i]->maintenance->Status(ctx.get(), req, &resp).ok()) {
        m.reachable = true;
        m.term = resp.raftterm();
        m.is_leader = resp.leader() != 0 && resp.leader() == resp.header().member_id();
        m.commit_index = resp.raftindex();
      }
      out.push_back(m);
    }
    return out;
  }

  // Tries the member it last succeeded with, and moves on to the next one when that fails, as
  // clientv3's balancer does after a connection error.
  Status PutAnywhere(const std::string& key, const std::string& value,
                     std::chrono::milliseconds timeout) override {
    epb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    epb::PutResponse resp;
    const size_t i = anywhere_.load() % members_.size();
    auto ctx = Context(timeout);
    const auto t0 = Clock::now();
    Status s = FromGrpc(members_[i]->kv->Put(ctx.get(), req, &resp));
    if (!s.ok()) {
      anywhere_.store(i + 1);
      // Do not spin on a member that refuses at once (a dead one): pause as a client would.
      if (Clock::now() - t0 < std::chrono::milliseconds(10)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    return s;
  }

 private:
  Conn& C(int conn) { return *conns_[conn % conns_.size()]; }
  grpc::CompletionQueue* Queue(int conn) { return queues_[conn % queues_.size()]->queue(); }
  std::vector<Conn*> Conns() {
    std::vector<Conn*> out;
    for (auto& c : conns_) out.push_back(c.get());
    return out;
  }
  static std::unique_ptr<grpc::ClientContext> Context(std::chrono::milliseconds timeout) {
    return ContextWithin(timeout);
  }

  BackendOptions options_;
  std::vector<std::unique_ptr<Conn>> members_;  // one per endpoint, for status and failover
  std::vector<std::unique_ptr<Conn>> conns_;    // the M connections, to the leader
  // The asynchronous calls' completions, one queue and thread per connection; after conns_ so
  // that they are drained before the connections go.
  std::vector<std::unique_ptr<CompletionThread>> queues_;
  std::atomic<size_t> anywhere_{0};
};

}  // namespace

std::unique_ptr<Backend> MakeEtcdBackend(const BackendOptions& options) {
  return std::make_unique<EtcdBackend>(options);
}

}  // namespace pharos::bench
