#include "tests/differential/response_text.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace pharos::differential {
namespace {

// Keys and values printable, with the bytes that are not (the "\0" of a from-key range) escaped.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out + "\"";
}

std::string Kv(const pb::KeyValue& kv) {
  std::ostringstream o;
  o << "{" << Quoted(kv.key()) << "=" << Quoted(kv.value()) << " create=" << kv.create_revision()
    << " mod=" << kv.mod_revision() << " version=" << kv.version() << " lease=" << kv.lease()
    << "}";
  return o.str();
}

std::string Range(const pb::RangeResponse& r) {
  std::ostringstream o;
  o << "range rev=" << r.header().revision() << " count=" << r.count() << " more=" << r.more()
    << " kvs=[";
  for (int i = 0; i < r.kvs_size(); ++i) o << (i ? " " : "") << Kv(r.kvs(i));
  o << "]";
  return o.str();
}

std::string Put(const pb::PutResponse& r) {
  std::ostringstream o;
  o << "put rev=" << r.header().revision()
    << " prev=" << (r.has_prev_kv() ? Kv(r.prev_kv()) : "none");
  return o.str();
}

std::string Delete(const pb::DeleteRangeResponse& r) {
  std::ostringstream o;
  o << "delete rev=" << r.header().revision() << " deleted=" << r.deleted() << " prev=[";
  for (int i = 0; i < r.prev_kvs_size(); ++i) o << (i ? " " : "") << Kv(r.prev_kvs(i));
  o << "]";
  return o.str();
}

std::string RangeRequestText(const pb::RangeRequest& r) {
  std::ostringstream o;
  o << "range " << Quoted(r.key());
  if (!r.range_end().empty()) o << ".." << Quoted(r.range_end());
  if (r.limit()) o << " limit=" << r.limit();
  if (r.revision()) o << " at=" << r.revision();
  if (r.count_only()) o << " count_only";
  if (r.keys_only()) o << " keys_only";
  if (r.serializable()) o << " serializable";
  return o.str();
}

std::string PutRequestText(const pb::PutRequest& r) {
  std::ostringstream o;
  o << "put " << Quoted(r.key()) << "=" << Quoted(r.value());
  if (r.lease()) o << " lease=" << r.lease();
  if (r.prev_kv()) o << " prev_kv";
  if (r.ignore_value()) o << " ignore_value";
  if (r.ignore_lease()) o << " ignore_lease";
  return o.str();
}

std::string DeleteRequestText(const pb::DeleteRangeRequest& r) {
  std::ostringstream o;
  o << "delete " << Quoted(r.key());
  if (!r.range_end().empty()) o << ".." << Quoted(r.range_end());
  if (r.prev_kv()) o << " prev_kv";
  return o.str();
}

std::string OpText(const pb::RequestOp& op) {
  if (op.has_request_range()) return RangeRequestText(op.request_range());
  if (op.has_request_put()) return PutRequestText(op.request_put());
  if (op.has_request_delete_range()) return DeleteRequestText(op.request_delete_range());
  return "empty-op";
}

std::string CompareText(const pb::Compare& c) {
  static const char* const kTargets[] = {"version", "create", "mod", "value", "lease"};
  static const char* const kResults[] = {"==", ">", "<", "!="};
  std::ostringstream o;
  o << kTargets[c.target()] << "(" << Quoted(c.key());
  if (!c.range_end().empty()) o << ".." << Quoted(c.range_end());
  o << ") " << kResults[c.result()] << " ";
  switch (c.target()) {
    case pb::Compare::VALUE:
      o << Quoted(c.value());
      break;
    case pb::Compare::VERSION:
      o << c.version();
      break;
    case pb::Compare::CREATE:
      o << c.create_revision();
      break;
    case pb::Compare::MOD:
      o << c.mod_revision();
      break;
    default:
      o << c.lease();
      break;
  }
  return o.str();
}

std::string TxnRequestText(const pb::TxnRequest& t) {
  std::ostringstream o;
  o << "txn if [";
  for (int i = 0; i < t.compare_size(); ++i) o << (i ? ", " : "") << CompareText(t.compare(i));
  o << "] then [";
  for (int i = 0; i < t.success_size(); ++i) o << (i ? ", " : "") << OpText(t.success(i));
  o << "] else [";
  for (int i = 0; i < t.failure_size(); ++i) o << (i ? ", " : "") << OpText(t.failure(i));
  o << "]";
  return o.str();
}

std::string SubResponse(const pb::ResponseOp& op) {
  if (op.has_response_range()) return Range(op.response_range());
  if (op.has_response_put()) return Put(op.response_put());
  if (op.has_response_delete_range()) return Delete(op.response_delete_range());
  return "empty-response";
}

}  // namespace

std::string RequestText(const pb::Envelope& e) {
  std::ostringstream o;
  switch (e.body_case()) {
    case pb::Envelope::kRange:
      return RangeRequestText(e.range());
    case pb::Envelope::kPut:
      return PutRequestText(e.put());
    case pb::Envelope::kDeleteRange:
      return DeleteRequestText(e.delete_range());
    case pb::Envelope::kTxn:
      return TxnRequestText(e.txn());
    case pb::Envelope::kCompaction:
      o << "compact " << e.compaction().revision();
      break;
    case pb::Envelope::kLeaseGrant:
      o << "grant id=" << e.lease_grant().id() << " ttl=" << e.lease_grant().ttl();
      break;
    case pb::Envelope::kLeaseRevoke:
      o << "revoke " << e.lease_revoke().id();
      break;
    case pb::Envelope::kLeaseKeepAlive:
      o << "keepalive " << e.lease_keep_alive().id();
      break;
    case pb::Envelope::kLeaseTimeToLive:
      o << "ttl " << e.lease_time_to_live().id() << (e.lease_time_to_live().keys() ? " keys" : "");
      break;
    case pb::Envelope::kLeaseLeases:
      o << "leases";
      break;
    default:
      o << "unexpected request " << e.body_case();
      break;
  }
  return o.str();
}

int64_t HeaderRevision(const pb::Envelope& e) {
  switch (e.body_case()) {
    case pb::Envelope::kRangeResponse:
      return e.range_response().header().revision();
    case pb::Envelope::kPutResponse:
      return e.put_response().header().revision();
    case pb::Envelope::kDeleteRangeResponse:
      return e.delete_range_response().header().revision();
    case pb::Envelope::kTxnResponse:
      return e.txn_response().header().revision();
    case pb::Envelope::kCompactionResponse:
      return e.compaction_response().header().revision();
    case pb::Envelope::kLeaseGrantResponse:
      return e.lease_grant_response().header().revision();
    case pb::Envelope::kLeaseRevokeResponse:
      return e.lease_revoke_response().header().revision();
    case pb::Envelope::kLeaseKeepAliveResponse:
      return e.lease_keep_alive_response().header().revision();
    case pb::Envelope::kLeaseTimeToLiveResponse:
      return e.lease_time_to_live_response().header().revision();
    case pb::Envelope::kLeaseLeasesResponse:
      return e.lease_leases_response().header().revision();
    default:
      return 0;
  }
}

std::string ResponseText(const Result<pb::Envelope>& response) {
  if (!response.ok()) return "error " + std::string(StatusCodeName(response.status().code()));
  const pb::Envelope& e = *response;
  std::ostringstream o;
  switch (e.body_case()) {
    case pb::Envelope::kRangeResponse:
      return Range(e.range_response());
    case pb::Envelope::kPutResponse:
      return Put(e.put_response());
    case pb::Envelope::kDeleteRangeResponse:
      return Delete(e.delete_range_response());
    case pb::Envelope::kTxnResponse: {
      const pb::TxnResponse& t = e.txn_response();
      o << "txn rev=" << t.header().revision() << " succeeded=" << t.succeeded() << " [";
      for (int i = 0; i < t.responses_size(); ++i) {
        o << (i ? ", " : "") << SubResponse(t.responses(i));
      }
      o << "]";
      break;
    }
    case pb::Envelope::kCompactionResponse:
      o << "compact rev=" << e.compaction_response().header().revision();
      break;
    case pb::Envelope::kLeaseGrantResponse:
      o << "grant rev=" << e.lease_grant_response().header().revision()
        << " id=" << e.lease_grant_response().id() << " ttl=" << e.lease_grant_response().ttl();
      break;
    case pb::Envelope::kLeaseRevokeResponse:
      o << "revoke rev=" << e.lease_revoke_response().header().revision();
      break;
    case pb::Envelope::kLeaseKeepAliveResponse:
      o << "keepalive rev=" << e.lease_keep_alive_response().header().revision()
        << " id=" << e.lease_keep_alive_response().id()
        << " ttl=" << e.lease_keep_alive_response().ttl();
      break;
    case pb::Envelope::kLeaseTimeToLiveResponse: {
      const pb::LeaseTimeToLiveResponse& t = e.lease_time_to_live_response();
      std::vector<std::string> keys(t.keys().begin(), t.keys().end());
      std::sort(keys.begin(), keys.end());
      o << "ttl rev=" << t.header().revision() << " id=" << t.id()
        << " ttl=" << (t.ttl() > 0 ? "alive" : std::to_string(t.ttl()))
        << " granted=" << t.grantedttl() << " keys=[";
      for (size_t i = 0; i < keys.size(); ++i) o << (i ? " " : "") << Quoted(keys[i]);
      o << "]";
      break;
    }
    case pb::Envelope::kLeaseLeasesResponse: {
      std::vector<int64_t> ids;
      for (const auto& l : e.lease_leases_response().leases()) ids.push_back(l.id());
      std::sort(ids.begin(), ids.end());
      o << "leases rev=" << e.lease_leases_response().header().revision() << " ids=[";
      for (size_t i = 0; i < ids.size(); ++i) o << (i ? " " : "") << ids[i];
      o << "]";
      break;
    }
    default:
      o << "unexpected response " << e.body_case();
      break;
  }
  return o.str();
}

}  // namespace pharos::differential
