#include "tests/differential/lease_id_map.h"

#include <functional>

namespace pharos::differential {
namespace {

using IdFn = std::function<int64_t(int64_t)>;

void MapPut(pb::PutRequest* put, const IdFn& f) {
  if (put->lease() != 0) put->set_lease(f(put->lease()));
}

void MapTxnRequest(pb::TxnRequest* txn, const IdFn& f) {
  for (pb::Compare& c : *txn->mutable_compare()) {
    // A compare of the lease target against 0 asks "attached to no lease": no id to map.
    if (c.target() == pb::Compare::LEASE && c.lease() != 0) c.set_lease(f(c.lease()));
  }
  for (auto* ops : {txn->mutable_success(), txn->mutable_failure()}) {
    for (pb::RequestOp& op : *ops) {
      if (op.has_request_put()) MapPut(op.mutable_request_put(), f);
    }
  }
}

void MapKv(pb::KeyValue* kv, const IdFn& f) {
  if (kv->lease() != 0) kv->set_lease(f(kv->lease()));
}

void MapRange(pb::RangeResponse* r, const IdFn& f) {
  for (pb::KeyValue& kv : *r->mutable_kvs()) MapKv(&kv, f);
}

void MapPutResponse(pb::PutResponse* r, const IdFn& f) {
  if (r->has_prev_kv()) MapKv(r->mutable_prev_kv(), f);
}

void MapDeleteResponse(pb::DeleteRangeResponse* r, const IdFn& f) {
  for (pb::KeyValue& kv : *r->mutable_prev_kvs()) MapKv(&kv, f);
}

}  // namespace

int64_t LeaseIdMap::Real(int64_t logical) const {
  if (logical >= 0) return logical;
  auto it = real_of_.find(logical);
  return it == real_of_.end() ? kNeverGranted : it->second;
}

int64_t LeaseIdMap::Logical(int64_t real) const {
  auto it = logical_of_.find(real);
  return it == logical_of_.end() ? real : it->second;
}

pb::Envelope LeaseIdMap::ToReal(pb::Envelope request) const {
  const IdFn f = [this](int64_t id) { return Real(id); };
  if (request.has_put()) MapPut(request.mutable_put(), f);
  if (request.has_txn()) MapTxnRequest(request.mutable_txn(), f);
  if (request.has_lease_grant() && request.lease_grant().id() != 0) {
    request.mutable_lease_grant()->set_id(f(request.lease_grant().id()));
  }
  if (request.has_lease_revoke()) {
    request.mutable_lease_revoke()->set_id(f(request.lease_revoke().id()));
  }
  if (request.has_lease_keep_alive()) {
    request.mutable_lease_keep_alive()->set_id(f(request.lease_keep_alive().id()));
  }
  if (request.has_lease_time_to_live()) {
    request.mutable_lease_time_to_live()->set_id(f(request.lease_time_to_live().id()));
  }
  return request;
}

pb::Envelope LeaseIdMap::ToLogical(const pb::Envelope& request, pb::Envelope response) {
  if (request.has_lease_grant() && request.lease_grant().id() == 0 &&
      response.has_lease_grant_response()) {
    const int64_t logical = -static_cast<int64_t>(real_of_.size()) - 1;
    const int64_t real = response.lease_grant_response().id();
    real_of_[logical] = real;
    logical_of_[real] = logical;
  }
  const IdFn f = [this](int64_t id) { return Logical(id); };
  if (response.has_range_response()) MapRange(response.mutable_range_response(), f);
  if (response.has_put_response()) MapPutResponse(response.mutable_put_response(), f);
  if (response.has_delete_range_response()) {
    MapDeleteResponse(response.mutable_delete_range_response(), f);
  }
  if (response.has_txn_response()) {
    for (pb::ResponseOp& op : *response.mutable_txn_response()->mutable_responses()) {
      if (op.has_response_range()) MapRange(op.mutable_response_range(), f);
      if (op.has_response_put()) MapPutResponse(op.mutable_response_put(), f);
      if (op.has_response_delete_range()) {
        MapDeleteResponse(op.mutable_response_delete_range(), f);
      }
    }
  }
  if (response.has_lease_grant_response()) {
    auto* g = response.mutable_lease_grant_response();
    g->set_id(f(g->id()));
  }
  if (response.has_lease_keep_alive_response()) {
    auto* k = response.mutable_lease_keep_alive_response();
    k->set_id(f(k->id()));
  }
  if (response.has_lease_time_to_live_response()) {
    auto* t = response.mutable_lease_time_to_live_response();
    t->set_id(f(t->id()));
  }
  if (response.has_lease_leases_response()) {
    for (pb::LeaseStatus& l : *response.mutable_lease_leases_response()->mutable_leases()) {
      l.set_id(f(l.id()));
    }
  }
  return response;
}

}  // namespace pharos::differential
