// KvModel: the plainest possible reference for MvccStore's semantics — every version of every key
// kept in maps, a revision counter, a lease table. The model-based test feeds it and the real
// store the same requests and compares every answer. Test-only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/pharos.pb.h"

namespace pharos::kv::testing {

class KvModel {
 public:
  // Mirrors MvccStore::Apply: fills `response` and returns the request's status.
  Status Apply(uint64_t index, const pb::RaftRequest& request, pb::RaftResponse* response);
  Status Range(const pb::RangeRequest& req, pb::RangeResponse* resp) const;
  int64_t revision() const { return revision_; }
  int64_t compact_revision() const { return compact_; }
  const std::map<int64_t, int64_t>& leases() const { return leases_; }
  size_t live_keys() const {
    return KeysIn(std::string(1, '\0'), std::string(1, '\0'), revision_).size();
  }

 private:
  struct Version {
    int64_t rev;
    std::optional<pb::KeyValue> kv;  // nullopt: deleted at rev
  };
  std::optional<pb::KeyValue> At(const std::string& key, int64_t rev) const;
  std::vector<std::string> KeysIn(const std::string& key, const std::string& end,
                                  int64_t rev) const;
  Status RangeAt(const pb::RangeRequest& req, int64_t current, pb::RangeResponse* resp) const;
  void Put(int64_t rev, const pb::PutRequest& req, pb::PutResponse* resp);
  int64_t Delete(int64_t rev, const std::string& key, const std::string& end, bool prev,
                 pb::DeleteRangeResponse* resp);

  std::map<std::string, std::vector<Version>> keys_;
  std::map<int64_t, int64_t> leases_;  // id -> ttl
  int64_t revision_ = 1;               // a new store's, as etcd's
  int64_t compact_ = 0;
  bool wrote_ = false;
};

}  // namespace pharos::kv::testing
