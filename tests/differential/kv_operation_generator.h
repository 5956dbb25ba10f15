// KvOperationGenerator: the seeded random sequence of requests the differential test sends to
// Pharos and to etcd alike — puts with and without prev_kv, leases, ignore_value/ignore_lease;
// deletes of present and absent keys, ranges and prefixes; ranges at current, past, compacted
// and future revisions, with limits, count-only and keys-only; txns over every compare target
// and result (read-only ones too, and ones with conflicting writes); lease grants with chosen and
// server-picked ids, revokes of leases with and without keys, keepalives, time-to-live, list;
// compactions, valid and not; now and then an empty key. Keys come from a small set so requests
// meet each other's keys.
//
// Not generated, because Pharos answers differently and the difference is reported rather than
// compared (the notes at each choice say more): lease TTLs of 0 or less or under etcd's minimum,
// negative lease ids, a compaction at 0, a put under an open-ended delete of the same txn,
// negative revisions inside txns, txns of more than 128 operations in all (Pharos counts the
// compares and both branches together, etcd each list apart); nor what Pharos does not have:
// nested txns, and the range options sort_order, sort_target and min/max mod/create revision.
//
// Lease ids in the requests are logical (LeaseIdMap): chosen ids are kChosenLeaseBase + i,
// server-picked ones -1, -2, ... in grant order.
//
// What it is told (Observe) steers it: the current and compacted revisions and the revisions of
// keys, so that past revisions and exact compares hit. Given the same seed and the same answers,
// the sequence is the same (with the same standard library: its distributions are its own).
//
// Thread rules: one thread.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::differential {

class KvOperationGenerator {
 public:
  // Far from the ids a server picks (Pharos: the Raft index; etcd: member id and counter).
  static constexpr int64_t kChosenLeaseBase = 1'000'000'000;
  static constexpr int kChosenLeases = 6;

  explicit KvOperationGenerator(uint64_t seed);

  pb::Envelope Next();
  // The answer to the request Next() returned last.
  void Observe(const pb::Envelope& request, const Result<pb::Envelope>& response);

 private:
  struct Span {
    std::string key;
    std::string range_end;
  };

  int Uniform(int lo, int hi);  // [lo, hi]
  bool Chance(int percent);
  std::string Key(bool may_be_empty);
  Span PickSpan(bool may_be_empty);
  std::string Value();
  int64_t Lease();  // a lease id of the pool, granted or not
  int64_t PastRevision();
  int64_t KnownRevision(const std::string& key, bool create);

  pb::RangeRequest Range(bool top_level);
  pb::PutRequest Put(const std::string& key);
  pb::DeleteRangeRequest Delete(bool may_be_empty);
  pb::Compare Compare();
  pb::TxnRequest Txn();
  void Branch(bool read_only, google::protobuf::RepeatedPtrField<pb::RequestOp>* ops);

  std::mt19937_64 rng_;
  int64_t revision_ = 1;
  int64_t compacted_ = 0;
  int auto_leases_ = 0;  // server-picked leases granted so far
  // key -> (create revision, mod revision) as last seen
  std::map<std::string, std::pair<int64_t, int64_t>> seen_;
};

}  // namespace pharos::differential
