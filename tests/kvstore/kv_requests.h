// Builders for the requests tests apply to MvccStore. Test-only.
#pragma once

#include <string>

#include "proto/pharos.pb.h"

namespace pharos::kv::testing {

inline pb::RaftRequest PutReq(const std::string& key, const std::string& value, int64_t lease = 0,
                              bool prev_kv = false) {
  pb::RaftRequest r;
  r.mutable_put()->set_key(key);
  r.mutable_put()->set_value(value);
  r.mutable_put()->set_lease(lease);
  r.mutable_put()->set_prev_kv(prev_kv);
  return r;
}

inline pb::RaftRequest DeleteReq(const std::string& key, const std::string& end = "") {
  pb::RaftRequest r;
  r.mutable_delete_range()->set_key(key);
  r.mutable_delete_range()->set_range_end(end);
  r.mutable_delete_range()->set_prev_kv(true);
  return r;
}

inline pb::RaftRequest GrantReq(int64_t ttl, int64_t id = 0) {
  pb::RaftRequest r;
  r.mutable_lease_grant()->set_ttl(ttl);
  r.mutable_lease_grant()->set_id(id);
  return r;
}

inline pb::RaftRequest RevokeReq(int64_t id) {
  pb::RaftRequest r;
  r.mutable_lease_revoke()->set_id(id);
  return r;
}

inline pb::RaftRequest CompactReq(int64_t rev) {
  pb::RaftRequest r;
  r.mutable_compaction()->set_revision(rev);
  return r;
}

inline pb::RangeRequest RangeReq(const std::string& key, const std::string& end = "",
                                 int64_t rev = 0) {
  pb::RangeRequest r;
  r.set_key(key);
  r.set_range_end(end);
  r.set_revision(rev);
  return r;
}

}  // namespace pharos::kv::testing
