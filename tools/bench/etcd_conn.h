// What the etcd driver of pharos-bench shares between its parts: one gRPC connection to an etcd
// member with a stub per service, the mapping of gRPC errors to Status, per-call deadlines, and a
// lease keepalive stream. Everything here speaks etcd's v3 gRPC API (etcd_rpc.proto).
//
// Thread rules: a Conn's stubs may be used from any thread at once; an EtcdKeepAlive by one
// thread at a time.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "tools/bench/backend.h"
#include "tools/bench/etcd_rpc.grpc.pb.h"

namespace pharos::bench {

namespace epb = etcdserverpb;

struct Conn {
  explicit Conn(const std::string& endpoint);
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<epb::KV::Stub> kv;
  std::unique_ptr<epb::Lease::Stub> lease;
  std::unique_ptr<epb::Watch::Stub> watch;
  std::unique_ptr<epb::Maintenance::Stub> maintenance;
};

Status FromGrpc(const grpc::Status& s);
// A context whose deadline is `timeout` from now.
std::unique_ptr<grpc::ClientContext> ContextWithin(std::chrono::milliseconds timeout);

// One LeaseKeepAlive stream; each KeepAlive is one round trip on it.
class EtcdKeepAlive {
 public:
  explicit EtcdKeepAlive(Conn& conn);
  ~EtcdKeepAlive();
  EtcdKeepAlive(const EtcdKeepAlive&) = delete;
  EtcdKeepAlive& operator=(const EtcdKeepAlive&) = delete;

  Status KeepAlive(int64_t id);

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<epb::LeaseKeepAliveRequest, epb::LeaseKeepAliveResponse>>
      stream_;
};

}  // namespace pharos::bench
