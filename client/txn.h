// Request builders shared by KV and Txn: the options of Get / Put / Delete as etcdctl knows them
// (prefix, from-key, revision, limit, ...), and Txn — compares, then the success or the failure
// list — built fluently:
//   Txn().If(Compare::Version("/lock", CompareOp::kEqual, 0))
//        .Then(Op::Put("/lock", "me", {.lease = id}))
//        .Else(Op::Get("/lock"));
// Plain value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/pharos.pb.h"

namespace pharos::client {

// The range_end that covers every key starting with `prefix` ("\0", every key, for "").
std::string PrefixEnd(std::string_view prefix);

struct GetOptions {
  std::string range_end;  // [key, range_end); empty: the one key
  bool prefix = false;    // every key starting with key
  bool from_key = false;  // every key >= key
  int64_t revision = 0;   // 0: now
  int64_t limit = 0;
  bool keys_only = false;
  bool count_only = false;
  bool serializable = false;  // served by any member from its own state, possibly stale
};

struct PutOptions {
  int64_t lease = 0;
  bool prev_kv = false;
};

struct DeleteOptions {
  std::string range_end;
  bool prefix = false;
  bool from_key = false;
  bool prev_kv = false;
};

pb::RangeRequest MakeRangeRequest(const std::string& key, const GetOptions& options);
pb::PutRequest MakePutRequest(const std::string& key, const std::string& value,
                              const PutOptions& options);
pb::DeleteRangeRequest MakeDeleteRequest(const std::string& key, const DeleteOptions& options);

enum class CompareOp { kEqual, kNotEqual, kLess, kGreater };

class Compare {
 public:
  static Compare Value(const std::string& key, CompareOp op, const std::string& value);
  static Compare Version(const std::string& key, CompareOp op, int64_t version);
  static Compare CreateRevision(const std::string& key, CompareOp op, int64_t revision);
  static Compare ModRevision(const std::string& key, CompareOp op, int64_t revision);
  static Compare Lease(const std::string& key, CompareOp op, int64_t lease);
  const pb::Compare& proto() const { return proto_; }

 private:
  Compare(const std::string& key, CompareOp op, pb::Compare::CompareTarget target);
  pb::Compare proto_;
};

class Op {
 public:
  static Op Get(const std::string& key, const GetOptions& options = {});
  static Op Put(const std::string& key, const std::string& value, const PutOptions& options = {});
  static Op Delete(const std::string& key, const DeleteOptions& options = {});
  const pb::RequestOp& proto() const { return proto_; }

 private:
  pb::RequestOp proto_;
};

class Txn {
 public:
  Txn& If(const Compare& compare) {
    *request_.add_compare() = compare.proto();
    return *this;
  }
  Txn& Then(const Op& op) {
    *request_.add_success() = op.proto();
    return *this;
  }
  Txn& Else(const Op& op) {
    *request_.add_failure() = op.proto();
    return *this;
  }
  const pb::TxnRequest& request() const { return request_; }

 private:
  pb::TxnRequest request_;
};

}  // namespace pharos::client
