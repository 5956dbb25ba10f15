// KV: etcd-style key-value calls over a Client — Put, Get, Delete, Txn, Compact. Responses are
// the protocol's own messages (as etcd's clientv3 returns its pb types), so nothing is copied
// into a second model. Blocking calls return Result<T>; the async variants call back on the
// client's I/O thread.
//
// Thread rules: as Client — any thread; a KV holds only a reference to its client.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "client/client.h"
#include "client/txn.h"
#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::client {

class KV {
 public:
  explicit KV(Client& client) : client_(client) {}

  Result<pb::PutResponse> Put(const std::string& key, const std::string& value,
                              const PutOptions& options = {}, CallOptions call = {});
  Result<pb::RangeResponse> Get(const std::string& key, const GetOptions& options = {},
                                CallOptions call = {});
  Result<pb::DeleteRangeResponse> Delete(const std::string& key, const DeleteOptions& options = {},
                                         CallOptions call = {});
  Result<pb::TxnResponse> Commit(const Txn& txn, CallOptions call = {});
  Result<pb::CompactionResponse> Compact(int64_t revision, CallOptions call = {});

  void PutAsync(const std::string& key, const std::string& value, const PutOptions& options,
                std::function<void(Result<pb::PutResponse>)> done, CallOptions call = {});
  void GetAsync(const std::string& key, const GetOptions& options,
                std::function<void(Result<pb::RangeResponse>)> done, CallOptions call = {});
  void DeleteAsync(const std::string& key, const DeleteOptions& options,
                   std::function<void(Result<pb::DeleteRangeResponse>)> done,
                   CallOptions call = {});
  void CommitAsync(const Txn& txn, std::function<void(Result<pb::TxnResponse>)> done,
                   CallOptions call = {});

 private:
  Client& client_;
};

}  // namespace pharos::client
