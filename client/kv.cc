#include "client/kv.h"

#include "client/typed_call.h"

namespace pharos::client {
namespace {

pb::Envelope PutEnvelope(const std::string& key, const std::string& value, const PutOptions& o) {
  pb::Envelope e;
  *e.mutable_put() = MakePutRequest(key, value, o);
  return e;
}
pb::Envelope GetEnvelope(const std::string& key, const GetOptions& o) {
  pb::Envelope e;
  *e.mutable_range() = MakeRangeRequest(key, o);
  return e;
}
pb::Envelope DeleteEnvelope(const std::string& key, const DeleteOptions& o) {
  pb::Envelope e;
  *e.mutable_delete_range() = MakeDeleteRequest(key, o);
  return e;
}
pb::Envelope TxnEnvelope(const Txn& txn) {
  pb::Envelope e;
  *e.mutable_txn() = txn.request();
  return e;
}

auto PutField = [](pb::Envelope& e) { return e.mutable_put_response(); };
auto GetField = [](pb::Envelope& e) { return e.mutable_range_response(); };
auto DeleteField = [](pb::Envelope& e) { return e.mutable_delete_range_response(); };
auto TxnField = [](pb::Envelope& e) { return e.mutable_txn_response(); };

}  // namespace

Result<pb::PutResponse> KV::Put(const std::string& key, const std::string& value,
                                const PutOptions& options, CallOptions call) {
  return TypedCall<pb::PutResponse>(client_, PutEnvelope(key, value, options), std::move(call),
                                    PutField);
}

Result<pb::RangeResponse> KV::Get(const std::string& key, const GetOptions& options,
                                  CallOptions call) {
  return TypedCall<pb::RangeResponse>(client_, GetEnvelope(key, options), std::move(call),
                                      GetField);
}

Result<pb::DeleteRangeResponse> KV::Delete(const std::string& key, const DeleteOptions& options,
                                           CallOptions call) {
  return TypedCall<pb::DeleteRangeResponse>(client_, DeleteEnvelope(key, options), std::move(call),
                                            DeleteField);
}

Result<pb::TxnResponse> KV::Commit(const Txn& txn, CallOptions call) {
  return TypedCall<pb::TxnResponse>(client_, TxnEnvelope(txn), std::move(call), TxnField);
}

Result<pb::CompactionResponse> KV::Compact(int64_t revision, CallOptions call) {
  pb::Envelope e;
  e.mutable_compaction()->set_revision(revision);
  return TypedCall<pb::CompactionResponse>(
      client_, std::move(e), std::move(call),
      [](pb::Envelope& r) { return r.mutable_compaction_response(); });
}

void KV::PutAsync(const std::string& key, const std::string& value, const PutOptions& options,
                  std::function<void(Result<pb::PutResponse>)> done, CallOptions call) {
  TypedCallAsync<pb::PutResponse>(client_, PutEnvelope(key, value, options), std::move(call),
                                  PutField, std::move(done));
}

void KV::GetAsync(const std::string& key, const GetOptions& options,
                  std::function<void(Result<pb::RangeResponse>)> done, CallOptions call) {
  TypedCallAsync<pb::RangeResponse>(client_, GetEnvelope(key, options), std::move(call), GetField,
                                    std::move(done));
}

void KV::DeleteAsync(const std::string& key, const DeleteOptions& options,
                     std::function<void(Result<pb::DeleteRangeResponse>)> done, CallOptions call) {
  TypedCallAsync<pb::DeleteRangeResponse>(client_, DeleteEnvelope(key, options), std::move(call),
                                          DeleteField, std::move(done));
}

void KV::CommitAsync(const Txn& txn, std::function<void(Result<pb::TxnResponse>)> done,
                     CallOptions call) {
  TypedCallAsync<pb::TxnResponse>(client_, TxnEnvelope(txn), std::move(call), TxnField,
                                  std::move(done));
}

}  // namespace pharos::client
