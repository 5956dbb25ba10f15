#include "tests/differential/etcd_target.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "tools/bench/etcd_rpc.grpc.pb.h"

namespace pharos::differential {
namespace {

namespace epb = etcdserverpb;

// etcd's errors (a gRPC code and a fixed message each, its rpctypes) as the Pharos code for the
// same failure. Where one gRPC code covers several failures (OutOfRange: compacted, future
// revision, TTL too large), the message says which.
StatusCode PharosCodeOf(const grpc::Status& s) {
  struct Known {
    const char* message;
    StatusCode code;
  };
  static const Known kKnown[] = {
      {"etcdserver: mvcc: required revision has been compacted", StatusCode::kCompacted},
      {"etcdserver: mvcc: required revision is a future revision", StatusCode::kFutureRevision},
      {"etcdserver: requested lease not found", StatusCode::kLeaseNotFound},
      {"etcdserver: lease already exists", StatusCode::kFailedPrecondition},
      // A put with ignore_value or ignore_lease of a key that does not exist: etcd files it under
      // InvalidArgument, Pharos answers NOT_FOUND (what is missing is the key).
      {"etcdserver: key not found", StatusCode::kNotFound},
      {"etcdserver: mvcc: database space exceeded", StatusCode::kNoSpace},
  };
  for (const Known& k : kKnown) {
    if (s.error_message() == k.message) return k.code;
  }
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return StatusCode::kDeadlineExceeded;
    case grpc::StatusCode::UNAVAILABLE:
      return StatusCode::kUnavailable;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return StatusCode::kResourceExhausted;
    default:
      return StatusCode::kInternal;  // no Pharos counterpart: shows as a difference
  }
}

Status FromGrpc(const grpc::Status& s) {
  return Status(PharosCodeOf(s),
                "etcd: gRPC code " + std::to_string(s.error_code()) + ": " + s.error_message());
}

// ---- requests: Pharos -> etcd (the field numbers and enum values are etcd's in both) ----

epb::RangeRequest ToEtcd(const pb::RangeRequest& r) {
  epb::RangeRequest e;
  e.set_key(r.key());
  e.set_range_end(r.range_end());
  e.set_limit(r.limit());
  e.set_revision(r.revision());
  e.set_serializable(r.serializable());
  e.set_keys_only(r.keys_only());
  e.set_count_only(r.count_only());
  return e;
}

epb::PutRequest ToEtcd(const pb::PutRequest& r) {
  epb::PutRequest e;
  e.set_key(r.key());
  e.set_value(r.value());
  e.set_lease(r.lease());
  e.set_prev_kv(r.prev_kv());
  e.set_ignore_value(r.ignore_value());
  e.set_ignore_lease(r.ignore_lease());
  return e;
}

epb::DeleteRangeRequest ToEtcd(const pb::DeleteRangeRequest& r) {
  epb::DeleteRangeRequest e;
  e.set_key(r.key());
  e.set_range_end(r.range_end());
  e.set_prev_kv(r.prev_kv());
  return e;
}

epb::Compare ToEtcd(const pb::Compare& c) {
  epb::Compare e;
  e.set_result(static_cast<epb::Compare::CompareResult>(c.result()));
  e.set_target(static_cast<epb::Compare::CompareTarget>(c.target()));
  e.set_key(c.key());
  e.set_range_end(c.range_end());
  switch (c.target_union_case()) {
    case pb::Compare::kVersion:
      e.set_version(c.version());
      break;
    case pb::Compare::kCreateRevision:
      e.set_create_revision(c.create_revision());
      break;
    case pb::Compare::kModRevision:
      e.set_mod_revision(c.mod_revision());
      break;
    case pb::Compare::kValue:
      e.set_value(c.value());
      break;
    case pb::Compare::kLease:
      e.set_lease(c.lease());
      break;
    default:
      break;
  }
  return e;
}

epb::RequestOp ToEtcd(const pb::RequestOp& op) {
  epb::RequestOp e;
  if (op.has_request_range()) *e.mutable_request_range() = ToEtcd(op.request_range());
  if (op.has_request_put()) *e.mutable_request_put() = ToEtcd(op.request_put());
  if (op.has_request_delete_range()) {
    *e.mutable_request_delete_range() = ToEtcd(op.request_delete_range());
  }
  return e;
}

epb::TxnRequest ToEtcd(const pb::TxnRequest& t) {
  epb::TxnRequest e;
  for (const auto& c : t.compare()) *e.add_compare() = ToEtcd(c);
  for (const auto& op : t.success()) *e.add_success() = ToEtcd(op);
  for (const auto& op : t.failure()) *e.add_failure() = ToEtcd(op);
  return e;
}

// ---- responses: etcd -> Pharos (of the header, only the revision: the rest is per server) ----

pb::ResponseHeader FromEtcd(const epb::ResponseHeader& h) {
  pb::ResponseHeader p;
  p.set_revision(h.revision());
  return p;
}

pb::KeyValue FromEtcd(const epb::KeyValue& kv) {
  pb::KeyValue p;
  p.set_key(kv.key());
  p.set_create_revision(kv.create_revision());
  p.set_mod_revision(kv.mod_revision());
  p.set_version(kv.version());
  p.set_value(kv.value());
  p.set_lease(kv.lease());
  return p;
}

pb::RangeResponse FromEtcd(const epb::RangeResponse& r) {
  pb::RangeResponse p;
  if (r.has_header()) *p.mutable_header() = FromEtcd(r.header());
  for (const auto& kv : r.kvs()) *p.add_kvs() = FromEtcd(kv);
  p.set_more(r.more());
  p.set_count(r.count());
  return p;
}

pb::PutResponse FromEtcd(const epb::PutResponse& r) {
  pb::PutResponse p;
  if (r.has_header()) *p.mutable_header() = FromEtcd(r.header());
  if (r.has_prev_kv()) *p.mutable_prev_kv() = FromEtcd(r.prev_kv());
  return p;
}

pb::DeleteRangeResponse FromEtcd(const epb::DeleteRangeResponse& r) {
  pb::DeleteRangeResponse p;
  if (r.has_header()) *p.mutable_header() = FromEtcd(r.header());
  p.set_deleted(r.deleted());
  for (const auto& kv : r.prev_kvs()) *p.add_prev_kvs() = FromEtcd(kv);
  return p;
}

pb::TxnResponse FromEtcd(const epb::TxnResponse& r) {
  pb::TxnResponse p;
  if (r.has_header()) *p.mutable_header() = FromEtcd(r.header());
  p.set_succeeded(r.succeeded());
  for (const auto& op : r.responses()) {
    pb::ResponseOp* out = p.add_responses();
    if (op.has_response_range()) *out->mutable_response_range() = FromEtcd(op.response_range());
    if (op.has_response_put()) *out->mutable_response_put() = FromEtcd(op.response_put());
    if (op.has_response_delete_range()) {
      *out->mutable_response_delete_range() = FromEtcd(op.response_delete_range());
    }
  }
  return p;
}

}  // namespace

struct EtcdTarget::Impl {
  explicit Impl(const std::string& endpoint)
      : channel(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials())),
        kv(epb::KV::NewStub(channel)),
        lease(epb::Lease::NewStub(channel)),
        maintenance(epb::Maintenance::NewStub(channel)) {}

  ~Impl() { CloseKeepAlive(); }

  // Every unary call: one deadline, the error translated.
  template <typename Call, typename Response>
  Status Unary(Call call, Response* response, std::chrono::milliseconds deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    const grpc::Status s = call(&ctx, response);
    return s.ok() ? Status::Ok() : FromGrpc(s);
  }

  // etcd renews leases only over its LeaseKeepAlive stream: one stream, opened on first use,
  // carries the test's keepalives one at a time.
  Result<epb::LeaseKeepAliveResponse> KeepAliveOnce(int64_t id) {
    if (!keepalive_stream) {
      keepalive_ctx = std::make_unique<grpc::ClientContext>();
      keepalive_stream = lease->LeaseKeepAlive(keepalive_ctx.get());
    }
    epb::LeaseKeepAliveRequest req;
    req.set_id(id);
    epb::LeaseKeepAliveResponse resp;
    if (!keepalive_stream->Write(req) || !keepalive_stream->Read(&resp)) {
      const grpc::Status s = CloseKeepAlive();
      return s.ok() ? Status::Unavailable("etcd: keepalive stream ended") : FromGrpc(s);
    }
    return resp;
  }

  grpc::Status CloseKeepAlive() {
    if (!keepalive_stream) return grpc::Status::OK;
    keepalive_stream->WritesDone();
    keepalive_ctx->TryCancel();
    const grpc::Status s = keepalive_stream->Finish();
    keepalive_stream.reset();
    keepalive_ctx.reset();
    return s;
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<epb::KV::Stub> kv;
  std::unique_ptr<epb::Lease::Stub> lease;
  std::unique_ptr<epb::Maintenance::Stub> maintenance;
  std::unique_ptr<grpc::ClientContext> keepalive_ctx;
  std::unique_ptr<grpc::ClientReaderWriter<epb::LeaseKeepAliveRequest, epb::LeaseKeepAliveResponse>>
      keepalive_stream;
};

EtcdTarget::EtcdTarget(const std::string& endpoint) : impl_(std::make_unique<Impl>(endpoint)) {}
EtcdTarget::~EtcdTarget() = default;

bool EtcdTarget::Ready() {
  epb::StatusResponse resp;
  return impl_
      ->Unary(
          [&](grpc::ClientContext* ctx, epb::StatusResponse* out) {
            return impl_->maintenance->Status(ctx, epb::StatusRequest(), out);
          },
          &resp, std::chrono::milliseconds(500))
      .ok();
}

Result<pb::Envelope> EtcdTarget::Execute(const pb::Envelope& request) {
  using std::chrono::seconds;
  constexpr auto kDeadline = std::chrono::milliseconds(seconds(10));
  Impl& d = *impl_;
  pb::Envelope reply;
  Status s;
  switch (request.body_case()) {
    case pb::Envelope::kRange: {
      epb::RangeResponse resp;
      s = d.Unary(
          [&](auto* ctx, auto* out) { return d.kv->Range(ctx, ToEtcd(request.range()), out); },
          &resp, kDeadline);
      *reply.mutable_range_response() = FromEtcd(resp);
      break;
    }
    case pb::Envelope::kPut: {
      epb::PutResponse resp;
      s = d.Unary([&](auto* ctx, auto* out) { return d.kv->Put(ctx, ToEtcd(request.put()), out); },
                  &resp, kDeadline);
      *reply.mutable_put_response() = FromEtcd(resp);
      break;
    }
    case pb::Envelope::kDeleteRange: {
      epb::DeleteRangeResponse resp;
      s = d.Unary(
          [&](auto* ctx, auto* out) {
            return d.kv->DeleteRange(ctx, ToEtcd(request.delete_range()), out);
          },
          &resp, kDeadline);
      *reply.mutable_delete_range_response() = FromEtcd(resp);
      break;
    }
    case pb::Envelope::kTxn: {
      epb::TxnResponse resp;
      s = d.Unary([&](auto* ctx, auto* out) { return d.kv->Txn(ctx, ToEtcd(request.txn()), out); },
                  &resp, kDeadline);
      *reply.mutable_txn_response() = FromEtcd(resp);
      break;
    }
    case pb::Envelope::kCompaction: {
      epb::CompactionRequest req;
      req.set_revision(request.compaction().revision());
      epb::CompactionResponse resp;
      s = d.Unary([&](auto* ctx, auto* out) { return d.kv->Compact(ctx, req, out); }, &resp,
                  kDeadline);
      *reply.mutable_compaction_response()->mutable_header() = FromEtcd(resp.header());
      break;
    }
    case pb::Envelope::kLeaseGrant: {
      epb::LeaseGrantRequest req;
      req.set_ttl(request.lease_grant().ttl());
      req.set_id(request.lease_grant().id());
      epb::LeaseGrantResponse resp;
      s = d.Unary([&](auto* ctx, auto* out) { return d.lease->LeaseGrant(ctx, req, out); }, &resp,
                  kDeadline);
      if (s.ok() && !resp.error().empty()) s = Status::Internal("etcd: " + resp.error());
      auto* g = reply.mutable_lease_grant_response();
      *g->mutable_header() = FromEtcd(resp.header());
      g->set_id(resp.id());
      g->set_ttl(resp.ttl());
      break;
    }
    case pb::Envelope::kLeaseRevoke: {
      epb::LeaseRevokeRequest req;
      req.set_id(request.lease_revoke().id());
      epb::LeaseRevokeResponse resp;
      s = d.Unary([&](auto* ctx, auto* out) { return d.lease->LeaseRevoke(ctx, req, out); }, &resp,
                  kDeadline);
      *reply.mutable_lease_revoke_response()->mutable_header() = FromEtcd(resp.header());
      break;
    }
    case pb::Envelope::kLeaseTimeToLive: {
      epb::LeaseTimeToLiveRequest req;
      req.set_id(request.lease_time_to_live().id());
      req.set_keys(request.lease_time_to_live().keys());
      epb::LeaseTimeToLiveResponse resp;
      s = d.Unary([&](auto* ctx, auto* out) { return d.lease->LeaseTimeToLive(ctx, req, out); },
                  &resp, kDeadline);
      auto* t = reply.mutable_lease_time_to_live_response();
      *t->mutable_header() = FromEtcd(resp.header());
      t->set_id(resp.id());
      t->set_ttl(resp.ttl());
      t->set_grantedttl(resp.grantedttl());
      for (const auto& k : resp.keys()) t->add_keys(k);
      break;
    }
    case pb::Envelope::kLeaseLeases: {
      epb::LeaseLeasesResponse resp;
      s = d.Unary(
          [&](auto* ctx, auto* out) {
            return d.lease->LeaseLeases(ctx, epb::LeaseLeasesRequest(), out);
          },
          &resp, kDeadline);
      auto* l = reply.mutable_lease_leases_response();
      *l->mutable_header() = FromEtcd(resp.header());
      for (const auto& st : resp.leases()) l->add_leases()->set_id(st.id());
      break;
    }
    case pb::Envelope::kLeaseKeepAlive: {
      auto resp = d.KeepAliveOnce(request.lease_keep_alive().id());
      if (!resp.ok()) return resp.status();
      // etcd keeps its keepalive stream open for an unknown lease and answers TTL 0; Pharos
      // answers that keepalive LEASE_NOT_FOUND. Same failure, each protocol's way of saying it.
      if (resp->ttl() <= 0) return Status(StatusCode::kLeaseNotFound, "etcd: keepalive TTL 0");
      auto* k = reply.mutable_lease_keep_alive_response();
      *k->mutable_header() = FromEtcd(resp->header());
      k->set_id(resp->id());
      k->set_ttl(resp->ttl());
      break;
    }
    default:
      return Status::InvalidArgument("EtcdTarget: no translation for request body " +
                                     std::to_string(request.body_case()));
  }
  if (!s.ok()) return s;
  return reply;
}

}  // namespace pharos::differential
