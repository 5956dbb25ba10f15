#include "tests/differential/differential_run.h"

#include <algorithm>
#include <sstream>

#include "tests/differential/kv_operation_generator.h"
#include "tests/differential/lease_id_map.h"
#include "tests/differential/response_text.h"

namespace pharos::differential {
namespace {

constexpr size_t kContext = 8;

std::string Kind(const pb::Envelope& request) {
  switch (request.body_case()) {
    case pb::Envelope::kRange:
      return "range";
    case pb::Envelope::kPut:
      return "put";
    case pb::Envelope::kDeleteRange:
      return "delete";
    case pb::Envelope::kTxn:
      return "txn";
    case pb::Envelope::kCompaction:
      return "compact";
    case pb::Envelope::kLeaseGrant:
      return "grant";
    case pb::Envelope::kLeaseRevoke:
      return "revoke";
    case pb::Envelope::kLeaseKeepAlive:
      return "keepalive";
    case pb::Envelope::kLeaseTimeToLive:
      return "ttl";
    case pb::Envelope::kLeaseLeases:
      return "leases";
    default:
      return "other";
  }
}

bool ReadOnly(const pb::TxnRequest& t) {
  for (const auto* ops : {&t.success(), &t.failure()}) {
    for (const pb::RequestOp& op : *ops) {
      if (!op.has_request_range()) return false;
    }
  }
  return true;
}

// What one agreed answer exercised. `revision_before` is the revision before the request.
void Count(const pb::Envelope& request, const Result<pb::Envelope>& answer, int64_t revision_before,
           std::map<std::string, int64_t>* outcomes) {
  const std::string kind = Kind(request);
  auto add = [&](const std::string& label) { ++(*outcomes)[kind + ":" + label]; };
  if (!answer.ok()) return add(std::string(StatusCodeName(answer.status().code())));
  add("ok");
  const pb::Envelope& e = *answer;
  if (request.has_range()) {
    if (request.range().revision() > 0) add("past revision");
    if (e.range_response().more()) add("more");
    if (e.range_response().kvs_size() > 0) add("found");
  } else if (request.has_put()) {
    if (e.put_response().has_prev_kv()) add("prev_kv");
    if (request.put().lease() != 0) add("with lease");
    if (request.put().ignore_value() || request.put().ignore_lease()) add("ignore_*");
  } else if (request.has_delete_range()) {
    add(e.delete_range_response().deleted() > 0 ? "deleted" : "nothing to delete");
    if (e.delete_range_response().prev_kvs_size() > 0) add("prev_kvs");
  } else if (request.has_txn()) {
    add(e.txn_response().succeeded() ? "succeeded" : "failed");
    add(ReadOnly(request.txn()) ? "read-only" : "writes");
    if (e.txn_response().header().revision() > revision_before) add("revision moved");
  } else if (request.has_lease_grant()) {
    add(request.lease_grant().id() == 0 ? "server-picked id" : "chosen id");
  } else if (request.has_lease_revoke()) {
    add(e.lease_revoke_response().header().revision() > revision_before ? "deleted keys"
                                                                        : "no keys");
  } else if (request.has_lease_time_to_live()) {
    const auto& t = e.lease_time_to_live_response();
    add(t.ttl() == -1 ? "absent" : t.keys_size() > 0 ? "alive with keys" : "alive");
  }
}

}  // namespace

RunReport RunDifferential(uint64_t seed, int64_t operations, KvTarget& reference,
                          KvTarget& subject) {
  RunReport report;
  KvOperationGenerator generator(seed);
  LeaseIdMap reference_ids, subject_ids;
  std::deque<std::string> context;
  int64_t revision = 1;
  for (int64_t i = 1; i <= operations; ++i) {
    const pb::Envelope request = generator.Next();
    auto ask = [&](KvTarget& target, LeaseIdMap& ids) -> Result<pb::Envelope> {
      auto answer = target.Execute(ids.ToReal(request));
      if (!answer.ok()) return answer;
      return ids.ToLogical(request, std::move(*answer));
    };
    const Result<pb::Envelope> expected = ask(reference, reference_ids);
    const Result<pb::Envelope> actual = ask(subject, subject_ids);
    const std::string request_text = RequestText(request);
    const std::string expected_text = ResponseText(expected);
    const std::string actual_text = ResponseText(actual);
    if (expected_text != actual_text) {
      Difference d;
      d.operation = i;
      d.request = request_text;
      d.reference = expected_text;
      d.subject = actual_text;
      if (!expected.ok()) d.reference_error = expected.status().ToString();
      if (!actual.ok()) d.subject_error = actual.status().ToString();
      d.before = context;
      report.difference = std::move(d);
      return report;
    }
    report.operations = i;
    Count(request, expected, revision, &report.outcomes);
    if (expected.ok()) revision = std::max(revision, HeaderRevision(*expected));
    generator.Observe(request, expected);
    context.push_back("#" + std::to_string(i) + " " + request_text + " -> " + expected_text);
    if (context.size() > kContext) context.pop_front();
  }
  return report;
}

std::string Describe(const RunReport& report) {
  std::ostringstream o;
  o << report.operations << " operations answered alike\n";
  for (const auto& [label, n] : report.outcomes) o << "  " << label << ": " << n << "\n";
  if (report.difference) {
    const Difference& d = *report.difference;
    o << "difference at operation " << d.operation << ":\n";
    for (const std::string& line : d.before) o << "  (agreed) " << line << "\n";
    o << "  request:   " << d.request << "\n";
    o << "  reference: " << d.reference << "\n";
    if (!d.reference_error.empty()) o << "             (" << d.reference_error << ")\n";
    o << "  subject:   " << d.subject << "\n";
    if (!d.subject_error.empty()) o << "             (" << d.subject_error << ")\n";
  }
  return o.str();
}

}  // namespace pharos::differential
