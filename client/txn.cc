#include "client/txn.h"

namespace pharos::client {

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  // Increment the last byte that is not 0xff, dropping the 0xff bytes after it.
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // no upper bound: every key >= prefix
}

namespace {

std::string RangeEnd(const std::string& key, const std::string& range_end, bool prefix,
                     bool from_key) {
  if (prefix) return PrefixEnd(key);
  if (from_key) return std::string(1, '\0');
  return range_end;
}

}  // namespace

pb::RangeRequest MakeRangeRequest(const std::string& key, const GetOptions& o) {
  pb::RangeRequest r;
  r.set_key(key);
  r.set_range_end(RangeEnd(key, o.range_end, o.prefix, o.from_key));
  r.set_revision(o.revision);
  r.set_limit(o.limit);
  r.set_keys_only(o.keys_only);
  r.set_count_only(o.count_only);
  r.set_serializable(o.serializable);
  return r;
}

pb::PutRequest MakePutRequest(const std::string& key, const std::string& value,
                              const PutOptions& o) {
  pb::PutRequest r;
  r.set_key(key);
  r.set_value(value);
  r.set_lease(o.lease);
  r.set_prev_kv(o.prev_kv);
  return r;
}

pb::DeleteRangeRequest MakeDeleteRequest(const std::string& key, const DeleteOptions& o) {
  pb::DeleteRangeRequest r;
  r.set_key(key);
  r.set_range_end(RangeEnd(key, o.range_end, o.prefix, o.from_key));
  r.set_prev_kv(o.prev_kv);
  return r;
}

Compare::Compare(const std::string& key, CompareOp op, pb::Compare::CompareTarget target) {
  proto_.set_key(key);
  proto_.set_target(target);
  switch (op) {
    case CompareOp::kEqual:
      proto_.set_result(pb::Compare::EQUAL);
      break;
    case CompareOp::kNotEqual:
      proto_.set_result(pb::Compare::NOT_EQUAL);
      break;
    case CompareOp::kLess:
      proto_.set_result(pb::Compare::LESS);
      break;
    case CompareOp::kGreater:
      proto_.set_result(pb::Compare::GREATER);
      break;
  }
}

Compare Compare::Value(const std::string& key, CompareOp op, const std::string& value) {
  Compare c(key, op, pb::Compare::VALUE);
  c.proto_.set_value(value);
  return c;
}

Compare Compare::Version(const std::string& key, CompareOp op, int64_t version) {
  Compare c(key, op, pb::Compare::VERSION);
  c.proto_.set_version(version);
  return c;
}

Compare Compare::CreateRevision(const std::string& key, CompareOp op, int64_t revision) {
  Compare c(key, op, pb::Compare::CREATE);
  c.proto_.set_create_revision(revision);
  return c;
}

Compare Compare::ModRevision(const std::string& key, CompareOp op, int64_t revision) {
  Compare c(key, op, pb::Compare::MOD);
  c.proto_.set_mod_revision(revision);
  return c;
}

Compare Compare::Lease(const std::string& key, CompareOp op, int64_t lease) {
  Compare c(key, op, pb::Compare::LEASE);
  c.proto_.set_lease(lease);
  return c;
}

Op Op::Get(const std::string& key, const GetOptions& options) {
  Op op;
  *op.proto_.mutable_request_range() = MakeRangeRequest(key, options);
  return op;
}

Op Op::Put(const std::string& key, const std::string& value, const PutOptions& options) {
  Op op;
  *op.proto_.mutable_request_put() = MakePutRequest(key, value, options);
  return op;
}

Op Op::Delete(const std::string& key, const DeleteOptions& options) {
  Op op;
  *op.proto_.mutable_request_delete_range() = MakeDeleteRequest(key, options);
  return op;
}

}  // namespace pharos::client
