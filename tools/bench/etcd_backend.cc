#include "tools/bench/etcd_backend.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tools/bench/etcd_rpc.grpc.pb.h"

namespace pharos::bench {
namespace {

namespace epb = etcdserverpb;
using Clock = std::chrono::steady_clock;

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  const StatusCode code = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                              ? StatusCode::kDeadlineExceeded
                              : StatusCode::kUnavailable;
  return Status(code, "etcd: " + s.error_message());
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& endpoint) {
  grpc::ChannelArguments args;
  // Without this, channels with equal arguments share one TCP connection, and M connections
  // would be one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
}

struct Conn {
  explicit Conn(const std::string& endpoint)
      : channel(NewChannel(endpoint)),
        kv(epb::KV::NewStub(channel)),
        lease(epb::Lease::NewStub(channel)),
        watch(epb::Watch::NewStub(channel)),
        maintenance(epb::Maintenance::NewStub(channel)) {}
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<epb::KV::Stub> kv;
  std::unique_ptr<epb::Lease::Stub> lease;
  std::unique_ptr<epb::Watch::Stub> watch;
  std::unique_ptr<epb::Maintenance::Stub> maintenance;
};

class EtcdKeepAlive : public KeepAliveStream {
 public:
  explicit EtcdKeepAlive(Conn& conn) : stream_(conn.lease->LeaseKeepAlive(&ctx_)) {}
  ~EtcdKeepAlive() override {
    stream_->WritesDone();
    ctx_.TryCancel();
    (void)stream_->Finish();
  }

  Status KeepAlive(int64_t id) override {
    epb::LeaseKeepAliveRequest req;
    req.set_id(id);
    epb::LeaseKeepAliveResponse resp;
    if (!stream_->Write(req) || !stream_->Read(&resp)) {
      return Status::Unavailable("etcd: keepalive stream broken");
    }
    if (resp.ttl() <= 0) return Status::NotFound("lease expired");
    return Status::Ok();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<epb::LeaseKeepAliveRequest, epb::LeaseKeepAliveResponse>>
      stream_;
};

// One Watch stream carrying several watches, with a thread reading it. etcd answers the creates
// of one stream in the order they were sent, which maps each created watch id to its watcher.
class EtcdWatchStream {
 public:
  using OnEvents = std::function<void(int, const std::vector<std::string>&)>;

  EtcdWatchStream(Conn& conn, const std::string& prefix, std::vector<int> watchers,
                  OnEvents on_events)
      : watchers_(std::move(watchers)), on_events_(std::move(on_events)) {
    stream_ = conn.watch->Watch(&ctx_);
    reader_ = std::thread([this] { ReadLoop(); });
    std::string end = prefix;
    end.back() = static_cast<char>(end.back() + 1);
    for (size_t i = 0; i < watchers_.size(); ++i) {
      epb::WatchRequest req;
      req.mutable_create_request()->set_key(prefix);
      req.mutable_create_request()->set_range_end(end);
      if (!stream_->Write(req)) break;
    }
  }
  ~EtcdWatchStream() {
    ctx_.TryCancel();
    reader_.join();
  }
  bool AllCreated() const { return created_.load() >= static_cast<int>(watchers_.size()); }

 private:
  void ReadLoop() {
    epb::WatchResponse resp;
    std::vector<std::string> values;
    while (stream_->Read(&resp)) {
      if (resp.created()) {
        const int n = created_.load();
        if (n < static_cast<int>(watchers_.size())) {
          std::lock_guard<std::mutex> lock(mu_);
          watcher_of_[resp.watch_id()] = watchers_[n];
        }
        created_.store(n + 1);
      }
      if (resp.events_size() == 0) continue;
      values.clear();
      for (const auto& e : resp.events()) values.push_back(e.kv().value());
      int watcher = -1;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = watcher_of_.find(resp.watch_id());
        if (it != watcher_of_.end()) watcher = it->second;
      }
      on_events_(watcher, values);
    }
  }

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<epb::WatchRequest, epb::WatchResponse>> stream_;
  std::vector<int> watchers_;
  OnEvents on_events_;
  std::atomic<int> created_{0};
  std::mutex mu_;
  std::map<int64_t, int> watcher_of_;
  std::thread reader_;
};

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
    }
  }

  int connections() const override { return static_cast<int>(conns_.size()); }

  Status Put(int conn, const std::string& key, const std::string& value) override {
    epb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    epb::PutResponse resp;
    auto ctx = Context(options_.timeout);
    return FromGrpc(C(conn).kv->Put(ctx.get(), req, &resp));
  }

  Status Get(int conn, const std::string& key, bool serializable) override {
    epb::RangeRequest req;
    req.set_key(key);
    req.set_serializable(serializable);
    epb::RangeResponse resp;
    auto ctx = Context(options_.timeout);
    return FromGrpc(C(conn).kv->Range(ctx.get(), req, &resp));
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

  Result<std::unique_ptr<KeepAliveStream>> OpenKeepAlive(int conn) override {
    return std::unique_ptr<KeepAliveStream>(std::make_unique<EtcdKeepAlive>(C(conn)));
  }

  Result<std::unique_ptr<WatchSet>> Watch(
      const std::string& prefix, int count,
      std::function<void(int, const std::vector<std::string>&)> on_events) override {
    auto set = std::make_unique<EtcdWatchSet>();
    std::vector<std::vector<int>> by_conn(conns_.size());
    for (int i = 0; i < count; ++i) by_conn[i % conns_.size()].push_back(i);
    for (size_t c = 0; c < conns_.size(); ++c) {
      if (by_conn[c].empty()) continue;
      set->streams_.push_back(
          std::make_unique<EtcdWatchStream>(*conns_[c], prefix, by_conn[c], on_events));
    }
    return std::unique_ptr<WatchSet>(std::move(set));
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
  static std::unique_ptr<grpc::ClientContext> Context(std::chrono::milliseconds timeout) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return ctx;
  }

  BackendOptions options_;
  std::vector<std::unique_ptr<Conn>> members_;  // one per endpoint, for status and failover
  std::vector<std::unique_ptr<Conn>> conns_;    // the M connections, to the leader
  std::atomic<size_t> anywhere_{0};
};

}  // namespace

std::unique_ptr<Backend> MakeEtcdBackend(const BackendOptions& options) {
  return std::make_unique<EtcdBackend>(options);
}

}  // namespace pharos::bench
