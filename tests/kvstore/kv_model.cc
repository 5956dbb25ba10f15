#include "tests/kvstore/kv_model.h"

#include <set>

namespace pharos::kv::testing {
namespace {

bool InRangeModel(const std::string& k, const std::string& key, const std::string& end) {
  if (end.empty()) return k == key;
  if (end == std::string(1, '\0')) return k >= key;
  return k >= key && k < end;
}

bool CompareModel(const pb::Compare& c, const std::optional<pb::KeyValue>& kv) {
  int64_t have = 0, want = 0;
  switch (c.target()) {
    case pb::Compare::VALUE: {
      if (!kv) return false;
      const int cmp = kv->value().compare(c.value());
      have = cmp;
      want = 0;
      break;
    }
    case pb::Compare::VERSION:
      have = kv ? kv->version() : 0;
      want = c.version();
      break;
    case pb::Compare::CREATE:
      have = kv ? kv->create_revision() : 0;
      want = c.create_revision();
      break;
    case pb::Compare::MOD:
      have = kv ? kv->mod_revision() : 0;
      want = c.mod_revision();
      break;
    case pb::Compare::LEASE:
      have = kv ? kv->lease() : 0;
      want = c.lease();
      break;
    default:
      return false;
  }
  switch (c.result()) {
    case pb::Compare::EQUAL:
      return have == want;
    case pb::Compare::NOT_EQUAL:
      return have != want;
    case pb::Compare::GREATER:
      return have > want;
    case pb::Compare::LESS:
      return have < want;
    default:
      return false;
  }
}

}  // namespace

std::optional<pb::KeyValue> KvModel::At(const std::string& key, int64_t rev) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return std::nullopt;
  std::optional<pb::KeyValue> out;
  for (const Version& v : it->second) {
    if (v.rev > rev) break;
    out = v.kv;
  }
  return out;
}

std::vector<std::string> KvModel::KeysIn(const std::string& key, const std::string& end,
                                         int64_t rev) const {
  std::vector<std::string> out;
  for (const auto& [k, versions] : keys_) {
    if (InRangeModel(k, key, end) && At(k, rev)) out.push_back(k);
  }
  return out;
}

Status KvModel::RangeAt(const pb::RangeRequest& req, int64_t current,
                        pb::RangeResponse* resp) const {
  const int64_t at = req.revision() <= 0 ? current : req.revision();
  if (at > current) return Status(StatusCode::kFutureRevision, "");
  if (at < compact_) return Status(StatusCode::kCompacted, "");
  resp->mutable_header()->set_revision(current);
  const auto keys = KeysIn(req.key(), req.range_end(), at);
  resp->set_count(static_cast<int64_t>(keys.size()));
  if (req.count_only()) return Status::Ok();
  size_t n = keys.size();
  if (req.limit() > 0 && static_cast<size_t>(req.limit()) < n) {
    n = static_cast<size_t>(req.limit());
    resp->set_more(true);
  }
  for (size_t i = 0; i < n; ++i) {
    pb::KeyValue* kv = resp->add_kvs();
    *kv = *At(keys[i], at);
    if (req.keys_only()) kv->clear_value();
  }
  return Status::Ok();
}

Status KvModel::Range(const pb::RangeRequest& req, pb::RangeResponse* resp) const {
  return RangeAt(req, revision_, resp);
}

void KvModel::Put(int64_t rev, const pb::PutRequest& req, pb::PutResponse* resp) {
  const std::optional<pb::KeyValue> prev = At(req.key(), INT64_MAX);
  pb::KeyValue kv;
  kv.set_key(req.key());
  kv.set_value(req.ignore_value() ? prev->value() : req.value());
  kv.set_lease(req.ignore_lease() ? prev->lease() : req.lease());
  kv.set_create_revision(prev ? prev->create_revision() : rev);
  kv.set_version(prev ? prev->version() + 1 : 1);
  kv.set_mod_revision(rev);
  keys_[req.key()].push_back({rev, kv});
  if (resp && req.prev_kv() && prev) *resp->mutable_prev_kv() = *prev;
  if (resp) resp->mutable_header()->set_revision(rev);
  wrote_ = true;
}

int64_t KvModel::Delete(int64_t rev, const std::string& key, const std::string& end, bool prev,
                        pb::DeleteRangeResponse* resp) {
  const auto keys = KeysIn(key, end, wrote_ ? rev : revision_);
  for (const std::string& k : keys) {
    if (resp && prev) *resp->add_prev_kvs() = *At(k, INT64_MAX);
    keys_[k].push_back({rev, std::nullopt});
    wrote_ = true;
  }
  if (resp) {
    resp->set_deleted(static_cast<int64_t>(keys.size()));
    resp->mutable_header()->set_revision(wrote_ ? rev : revision_);
  }
  return static_cast<int64_t>(keys.size());
}

Status KvModel::Apply(uint64_t index, const pb::RaftRequest& request, pb::RaftResponse* response) {
  const int64_t rev = revision_ + 1;
  wrote_ = false;
  auto lease_ok = [&](const pb::PutRequest& p) {
    return p.lease() == 0 || leases_.count(p.lease());
  };
  auto put_check = [&](const pb::PutRequest& p) -> Status {
    if (p.key().empty() || p.key().size() > 8192) return Status(StatusCode::kInvalidArgument, "");
    if (p.ignore_value() && !p.value().empty()) return Status(StatusCode::kInvalidArgument, "");
    if (p.ignore_lease() && p.lease() != 0) return Status(StatusCode::kInvalidArgument, "");
    return Status::Ok();
  };
  // etcd's order: alone, the lease before the key; in a txn, the key before the lease.
  auto put_check_now = [&](const pb::PutRequest& p, bool in_txn) -> Status {
    const bool key_missing = (p.ignore_value() || p.ignore_lease()) && !At(p.key(), INT64_MAX);
    if (in_txn && key_missing) return Status(StatusCode::kNotFound, "");
    if (!lease_ok(p)) return Status(StatusCode::kLeaseNotFound, "");
    if (key_missing) return Status(StatusCode::kNotFound, "");
    return Status::Ok();
  };
  switch (request.request_case()) {
    case pb::RaftRequest::kPut: {
      if (Status s = put_check(request.put()); !s.ok()) return s;
      if (Status s = put_check_now(request.put(), false); !s.ok()) return s;
      Put(rev, request.put(), response->mutable_put());
      break;
    }
    case pb::RaftRequest::kDeleteRange: {
      const auto& d = request.delete_range();
      if (d.key().empty()) return Status(StatusCode::kInvalidArgument, "");
      Delete(rev, d.key(), d.range_end(), d.prev_kv(), response->mutable_delete_range());
      break;
    }
    case pb::RaftRequest::kTxn: {
      const auto& t = request.txn();
      // Request validity (both branches): keys, duplicates.
      for (const auto* ops : {&t.success(), &t.failure()}) {
        std::set<std::string> puts;
        for (const auto& op : *ops) {
          if (op.has_request_put()) {
            if (Status s = put_check(op.request_put()); !s.ok()) return s;
            if (!puts.insert(op.request_put().key()).second) {
              return Status(StatusCode::kInvalidArgument, "");
            }
          }
        }
        for (const auto& op : *ops) {
          if (!op.has_request_delete_range()) continue;
          for (const auto& p : puts) {
            if (InRangeModel(p, op.request_delete_range().key(),
                             op.request_delete_range().range_end())) {
              return Status(StatusCode::kInvalidArgument, "");
            }
          }
        }
      }
      bool ok = true;
      for (const auto& c : t.compare()) {
        const auto keys = KeysIn(c.key(), c.range_end(), revision_);
        if (keys.empty()) ok = ok && CompareModel(c, std::nullopt);
        for (const auto& k : keys) ok = ok && CompareModel(c, At(k, revision_));
        if (!ok) break;
      }
      const auto& ops = ok ? t.success() : t.failure();
      for (const auto& op : ops) {
        if (!op.has_request_put()) continue;
        if (Status s = put_check_now(op.request_put(), true); !s.ok()) return s;
      }
      for (const auto& op : ops) {
        if (op.has_request_range()) {
          if (op.request_range().revision() > revision_) {
            return Status(StatusCode::kFutureRevision, "");
          }
          if (op.request_range().revision() > 0 && op.request_range().revision() < compact_) {
            return Status(StatusCode::kCompacted, "");
          }
        }
      }
      auto* tr = response->mutable_txn();
      tr->set_succeeded(ok);
      for (const auto& op : ops) {
        auto* out = tr->add_responses();
        if (op.has_request_put()) {
          Put(rev, op.request_put(), out->mutable_response_put());
        } else if (op.has_request_delete_range()) {
          const auto& d = op.request_delete_range();
          Delete(rev, d.key(), d.range_end(), d.prev_kv(), out->mutable_response_delete_range());
        } else {
          if (Status s = RangeAt(op.request_range(), wrote_ ? rev : revision_,
                                 out->mutable_response_range());
              !s.ok()) {
            return s;
          }
        }
      }
      break;
    }
    case pb::RaftRequest::kCompaction: {
      const int64_t r = request.compaction().revision();
      if (r > revision_) return Status(StatusCode::kFutureRevision, "");
      if (r <= compact_) return Status(StatusCode::kCompacted, "");
      compact_ = r;
      response->mutable_compaction();
      break;
    }
    case pb::RaftRequest::kLeaseGrant: {
      const auto& g = request.lease_grant();
      if (g.ttl() <= 0 || g.id() < 0) return Status(StatusCode::kInvalidArgument, "");
      int64_t id = g.id();
      if (id != 0 && leases_.count(id)) return Status(StatusCode::kFailedPrecondition, "");
      if (id == 0) {
        id = static_cast<int64_t>(index);
        while (leases_.count(id)) ++id;
      }
      leases_[id] = g.ttl();
      response->mutable_lease_grant()->set_id(id);
      response->mutable_lease_grant()->set_ttl(g.ttl());
      break;
    }
    case pb::RaftRequest::kLeaseRevoke: {
      const int64_t id = request.lease_revoke().id();
      if (!leases_.count(id)) return Status(StatusCode::kLeaseNotFound, "");
      for (const auto& [k, versions] : keys_) {
        auto cur = At(k, INT64_MAX);
        if (cur && cur->lease() == id) Delete(rev, k, "", false, nullptr);
      }
      leases_.erase(id);
      response->mutable_lease_revoke();
      break;
    }
    default:
      return Status(StatusCode::kInvalidArgument, "");
  }
  if (wrote_) revision_ = rev;
  return Status::Ok();
}

}  // namespace pharos::kv::testing
