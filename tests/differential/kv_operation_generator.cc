#include "tests/differential/kv_operation_generator.h"

#include <algorithm>
#include <set>

#include "client/txn.h"
#include "tests/differential/response_text.h"

namespace pharos::differential {
namespace {

// Written often: they exist most of the time.
const std::vector<std::string> kKeys = {"a", "a/1", "a/2", "a/3", "b", "b/1", "b/2", "c"};
// Written rarely: mostly absent, so reads and deletes meet absent keys too.
const std::vector<std::string> kRareKeys = {"a/9", "d/x", "e"};
const std::vector<std::string> kPrefixes = {"a/", "b/", "d/"};
const std::vector<std::string> kValues = {"", "v1", "v2", "v3"};

bool Covers(const std::string& key, const std::string& range_end, const std::string& k) {
  if (range_end.empty()) return k == key;
  return k >= key && (range_end == std::string(1, '\0') || k < range_end);
}

}  // namespace

KvOperationGenerator::KvOperationGenerator(uint64_t seed) : rng_(seed) {}

int KvOperationGenerator::Uniform(int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng_);
}

bool KvOperationGenerator::Chance(int percent) { return Uniform(1, 100) <= percent; }

std::string KvOperationGenerator::Key(bool may_be_empty) {
  // An empty key is refused by both (etcd: "key is not provided").
  if (may_be_empty && Chance(2)) return "";
  if (Chance(12)) return kRareKeys[Uniform(0, static_cast<int>(kRareKeys.size()) - 1)];
  return kKeys[Uniform(0, static_cast<int>(kKeys.size()) - 1)];
}

KvOperationGenerator::Span KvOperationGenerator::PickSpan(bool may_be_empty) {
  const int r = Uniform(1, 100);
  if (r <= 55) return {Key(may_be_empty), ""};
  if (r <= 70) {
    const std::string& p = kPrefixes[Uniform(0, static_cast<int>(kPrefixes.size()) - 1)];
    return {p, client::PrefixEnd(p)};
  }
  if (r <= 85) return {Key(false), Key(false)};            // either order: a reversed one is empty
  if (r <= 93) return {Key(false), std::string(1, '\0')};  // from the key on
  return {std::string(1, '\0'), std::string(1, '\0')};     // every key
}

std::string KvOperationGenerator::Value() {
  if (Chance(80)) return kValues[Uniform(0, static_cast<int>(kValues.size()) - 1)];
  std::string v(Uniform(1, 12), 'x');
  for (char& c : v) c = static_cast<char>('a' + Uniform(0, 25));
  return v;
}

int64_t KvOperationGenerator::Lease() {
  // Mostly the chosen ids and the latest server-picked leases, so that leases gather keys before
  // they are revoked; now and then an older one, most likely revoked by now.
  const int r = Uniform(1, 100);
  if (auto_leases_ == 0 || r <= 50) return kChosenLeaseBase + Uniform(0, kChosenLeases - 1);
  if (r <= 85) return -Uniform(std::max(1, auto_leases_ - 3), auto_leases_);
  return -Uniform(1, auto_leases_);
}

int64_t KvOperationGenerator::PastRevision() {
  // From a little below the compacted revision (refused: compacted) to a little past the
  // current one (refused: future revision).
  return std::uniform_int_distribution<int64_t>(std::max<int64_t>(1, compacted_ - 2),
                                                revision_ + 2)(rng_);
}

int64_t KvOperationGenerator::KnownRevision(const std::string& key, bool create) {
  auto it = seen_.find(key);
  if (it != seen_.end() && Chance(60)) {
    const int64_t r = create ? it->second.first : it->second.second;
    if (Chance(50)) return r;           // exactly
    return Chance(50) ? r + 1 : r - 1;  // or one off either way
  }
  return std::uniform_int_distribution<int64_t>(0, revision_ + 1)(rng_);
}

pb::RangeRequest KvOperationGenerator::Range(bool top_level) {
  pb::RangeRequest r;
  const Span s = PickSpan(top_level);
  r.set_key(s.key);
  r.set_range_end(s.range_end);
  if (Chance(30)) r.set_limit(Uniform(1, 3));
  if (Chance(40)) r.set_revision(PastRevision());
  // Zero or less reads the newest state, as etcd documents it. Only outside txns: inside one,
  // etcd 3.4 refuses a negative revision as compacted once anything was compacted.
  if (top_level && Chance(3)) r.set_revision(-Uniform(1, 3));
  if (Chance(10)) r.set_count_only(true);
  if (Chance(10)) r.set_keys_only(true);
  if (top_level && Chance(10)) r.set_serializable(true);
  return r;
}

pb::PutRequest KvOperationGenerator::Put(const std::string& key) {
  pb::PutRequest p;
  p.set_key(key);
  p.set_value(Value());
  if (Chance(50)) p.set_prev_kv(true);
  if (Chance(25)) p.set_lease(Lease());
  if (Chance(5)) {
    // Keep the value: refused on an absent key, and when a value is given too.
    p.set_ignore_value(true);
    if (Chance(80)) p.clear_value();
  }
  if (Chance(5)) {
    p.set_ignore_lease(true);
    if (Chance(80)) p.set_lease(0);
  }
  return p;
}

pb::DeleteRangeRequest KvOperationGenerator::Delete(bool may_be_empty) {
  pb::DeleteRangeRequest d;
  const Span s = PickSpan(may_be_empty);
  d.set_key(s.key);
  d.set_range_end(s.range_end);
  if (Chance(50)) d.set_prev_kv(true);
  return d;
}

pb::Compare KvOperationGenerator::Compare() {
  pb::Compare c;
  c.set_result(static_cast<pb::Compare::CompareResult>(Uniform(0, 3)));
  c.set_target(static_cast<pb::Compare::CompareTarget>(Uniform(0, 4)));
  // Mostly one key; else every key of a prefix, from a key on, or all (etcd compares each).
  const int span = Uniform(1, 100);
  c.set_key(Key(true));
  if (span > 80 && span <= 90) {
    const std::string& p = kPrefixes[Uniform(0, static_cast<int>(kPrefixes.size()) - 1)];
    c.set_key(p);
    c.set_range_end(client::PrefixEnd(p));
  } else if (span > 90) {
    c.set_key(span <= 95 ? Key(false) : std::string(1, '\0'));
    c.set_range_end(std::string(1, '\0'));
  }
  switch (c.target()) {
    case pb::Compare::VERSION:
      c.set_version(Uniform(0, 3));
      break;
    case pb::Compare::CREATE:
      c.set_create_revision(KnownRevision(c.key(), true));
      break;
    case pb::Compare::MOD:
      c.set_mod_revision(KnownRevision(c.key(), false));
      break;
    case pb::Compare::VALUE:
      c.set_value(Value());
      break;
    default:
      // Each server picks lease ids of its own, in an order of size of its own, and keys may
      // carry those: only equality asks both servers the same question.
      c.set_result(Chance(50) ? pb::Compare::EQUAL : pb::Compare::NOT_EQUAL);
      c.set_lease(Chance(40) ? 0 : Lease());
      break;
  }
  return c;
}

void KvOperationGenerator::Branch(bool read_only,
                                  google::protobuf::RepeatedPtrField<pb::RequestOp>* ops) {
  // Most branches write no key twice: both servers refuse a put of a key that another put or a
  // delete of the same branch touches ("duplicate key"). A few do, to see both refuse them —
  // except under a delete whose range is open-ended (range_end "\0"): etcd 3.4 does not see
  // those conflicts (its interval check takes "\0" literally, as an empty range) and applies the
  // txn, where Pharos refuses it. That difference is reported, not compared.
  const bool clean = Chance(90);
  const std::string open_end(1, '\0');
  std::set<std::string> put_keys;
  std::vector<std::pair<std::string, std::string>> deleted;
  auto conflicts = [&](const std::string& key, bool any) {
    for (const auto& [from, end] : deleted) {
      if (Covers(from, end, key) && (any || end == open_end)) return true;
    }
    return any && put_keys.count(key) > 0;
  };
  const int n = Uniform(0, 3);
  for (int i = 0; i < n; ++i) {
    pb::RequestOp* op = ops->Add();
    const int kind = read_only ? 0 : Uniform(0, 99);
    if (kind < 40) {
      *op->mutable_request_range() = Range(false);
    } else if (kind < 75) {
      std::string key = Key(false);
      for (int tries = 0; tries < 20 && conflicts(key, clean); ++tries) key = Key(false);
      if (conflicts(key, clean)) {
        *op->mutable_request_range() = Range(false);  // a read instead of the write
        continue;
      }
      put_keys.insert(key);
      *op->mutable_request_put() = Put(key);
    } else {
      pb::DeleteRangeRequest d = Delete(false);
      const bool strict = clean || d.range_end() == open_end;
      if (strict && std::any_of(put_keys.begin(), put_keys.end(), [&](const std::string& k) {
            return Covers(d.key(), d.range_end(), k);
          })) {
        *op->mutable_request_range() = Range(false);
        continue;
      }
      deleted.emplace_back(d.key(), d.range_end());
      *op->mutable_request_delete_range() = std::move(d);
    }
  }
}

pb::TxnRequest KvOperationGenerator::Txn() {
  pb::TxnRequest t;
  const int compares = Uniform(0, 3);
  for (int i = 0; i < compares; ++i) *t.add_compare() = Compare();
  const bool read_only = Chance(25);
  Branch(read_only, t.mutable_success());
  Branch(read_only, t.mutable_failure());
  return t;
}

pb::Envelope KvOperationGenerator::Next() {
  pb::Envelope e;
  const int r = Uniform(1, 100);
  if (r <= 24) {
    *e.mutable_put() = Put(Key(true));
  } else if (r <= 35) {
    *e.mutable_delete_range() = Delete(true);
  } else if (r <= 55) {
    *e.mutable_range() = Range(true);
  } else if (r <= 77) {
    *e.mutable_txn() = Txn();
  } else if (r <= 80) {
    // Mostly a revision that can be compacted; now and then one already compacted or not yet
    // reached. Never 0: on a store never compacted, etcd 3.4 takes a compaction at 0 (and does
    // nothing) where Pharos refuses it as compacted; that difference is reported, not compared.
    const int r2 = Uniform(1, 100);
    int64_t rev;
    if (r2 <= 70 && compacted_ < revision_) {
      rev = std::uniform_int_distribution<int64_t>(compacted_ + 1, revision_)(rng_);
    } else if (r2 <= 85 && compacted_ > 0) {
      rev = std::uniform_int_distribution<int64_t>(std::max<int64_t>(1, compacted_ - 2),
                                                   compacted_)(rng_);
    } else {
      rev = revision_ + Uniform(1, 2);
    }
    e.mutable_compaction()->set_revision(rev);
  } else if (r <= 86) {
    // Chosen ids come back (refused while granted); server-picked ones are new every time.
    // TTLs outlast the run: no lease may expire while the two servers are compared. They are
    // also above etcd's minimum TTL (2 s at its default timing), below which etcd raises the
    // TTL it grants, and refuses no TTL, where Pharos keeps a short TTL as asked and refuses one
    // of zero or less; that difference is reported, not compared.
    e.mutable_lease_grant()->set_ttl(Uniform(600, 3600));
    if (Chance(60))
      e.mutable_lease_grant()->set_id(kChosenLeaseBase + Uniform(0, kChosenLeases - 1));
  } else if (r <= 91) {
    e.mutable_lease_revoke()->set_id(Lease());
  } else if (r <= 94) {
    e.mutable_lease_keep_alive()->set_id(Lease());
  } else if (r <= 98) {
    e.mutable_lease_time_to_live()->set_id(Lease());
    e.mutable_lease_time_to_live()->set_keys(Chance(70));
  } else {
    e.mutable_lease_leases();
  }
  return e;
}

void KvOperationGenerator::Observe(const pb::Envelope& request,
                                   const Result<pb::Envelope>& response) {
  if (!response.ok()) return;
  revision_ = std::max(revision_, HeaderRevision(*response));
  if (request.has_compaction()) compacted_ = std::max(compacted_, request.compaction().revision());
  if (request.has_lease_grant() && request.lease_grant().id() == 0) ++auto_leases_;
  auto remember = [&](const pb::KeyValue& kv) {
    seen_[kv.key()] = {kv.create_revision(), kv.mod_revision()};
  };
  if (response->has_range_response()) {
    for (const auto& kv : response->range_response().kvs()) remember(kv);
  }
  if (response->has_txn_response()) {
    for (const auto& op : response->txn_response().responses()) {
      for (const auto& kv : op.response_range().kvs()) remember(kv);
    }
  }
  if (request.has_put()) {
    // The put's revision is the key's mod revision; its create revision is the previous one's
    // if it existed, else this one.
    const int64_t rev = response->put_response().header().revision();
    const auto prev = response->put_response().prev_kv();
    auto it = seen_.find(request.put().key());
    const int64_t create = response->put_response().has_prev_kv() ? prev.create_revision()
                           : it != seen_.end()                    ? it->second.first
                                                                  : rev;
    seen_[request.put().key()] = {create, rev};
  }
}

}  // namespace pharos::differential
