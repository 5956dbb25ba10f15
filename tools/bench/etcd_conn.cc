#include "tools/bench/etcd_conn.h"

namespace pharos::bench {
namespace {

std::shared_ptr<grpc::Channel> NewChannel(const std::string& endpoint) {
  grpc::ChannelArguments args;
  // Without this, channels with equal arguments share one TCP connection, and M connections
  // would be one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

Conn::Conn(const std::string& endpoint)
    : channel(NewChannel(endpoint)),
      kv(epb::KV::NewStub(channel)),
      lease(epb::Lease::NewStub(channel)),
      watch(epb::Watch::NewStub(channel)),
      maintenance(epb::Maintenance::NewStub(channel)) {}

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  const StatusCode code = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                              ? StatusCode::kDeadlineExceeded
                              : StatusCode::kUnavailable;
  return Status(code, "etcd: " + s.error_message());
}

std::unique_ptr<grpc::ClientContext> ContextWithin(std::chrono::milliseconds timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

EtcdKeepAlive::EtcdKeepAlive(Conn& conn) : stream_(conn.lease->LeaseKeepAlive(&ctx_)) {}

EtcdKeepAlive::~EtcdKeepAlive() {
  stream_->WritesDone();
  ctx_.TryCancel();
  (void)stream_->Finish();
}

Status EtcdKeepAlive::KeepAlive(int64_t id) {
  epb::LeaseKeepAliveRequest req;
  req.set_id(id);
  epb::LeaseKeepAliveResponse resp;
  if (!stream_->Write(req) || !stream_->Read(&resp)) {
    return Status::Unavailable("etcd: keepalive stream broken");
  }
  if (resp.ttl() <= 0) return Status::NotFound("lease expired");
  return Status::Ok();
}

}  // namespace pharos::bench
