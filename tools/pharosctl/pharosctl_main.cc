// pharosctl: the operator's command line, following etcdctl's habits. Exit 0 on success, 1 on an
// operation error, 2 on a usage error.
#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "client/sync_client.h"

namespace {

using pharos::client::StatusOf;
using pharos::client::SyncClient;
namespace pb = pharos::pb;

std::vector<std::string> SplitEndpoints(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.rfind("http://", 0) == 0) item = item.substr(7);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

// The end of the range covering every key with this prefix.
std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(end.back() + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

int Fail(const pharos::Status& s) {
  std::cerr << "Error: " << s.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pharosctl: talk to a Pharos cluster"};
  std::string endpoints = "127.0.0.1:2379", format = "simple";
  int timeout_ms = 5000;
  app.add_option("--endpoints", endpoints, "comma-separated host:port list")->capture_default_str();
  app.add_option("-w,--write-out", format, "simple, json or table")
      ->check(CLI::IsMember({"simple", "json", "table"}))
      ->capture_default_str();
  app.add_option("--command-timeout-ms", timeout_ms, "per-command timeout")->capture_default_str();
  app.require_subcommand(1);

  std::string key, value, consistency = "l", lease_hex;
  bool prefix = false, prev_kv = false, keys_only = false, count_only = false;
  int64_t limit = 0, rev = 0;

  auto* put = app.add_subcommand("put", "put KEY VALUE");
  put->add_option("key", key)->required();
  put->add_option("value", value)->required();
  put->add_option("--lease", lease_hex, "lease id in hex");
  put->add_flag("--prev-kv", prev_kv, "print the previous value");

  auto* get = app.add_subcommand("get", "get KEY");
  get->add_option("key", key)->required();
  get->add_flag("--prefix", prefix, "every key with this prefix");
  get->add_option("--consistency", consistency, "l (linearizable) or s (serializable)")
      ->check(CLI::IsMember({"l", "s"}));
  get->add_option("--limit", limit);
  get->add_option("--rev", rev);
  get->add_flag("--keys-only", keys_only);
  get->add_flag("--count-only", count_only);

  auto* del = app.add_subcommand("del", "del KEY");
  del->add_option("key", key)->required();
  del->add_flag("--prefix", prefix);
  del->add_flag("--prev-kv", prev_kv);

  auto* endpoint = app.add_subcommand("endpoint", "endpoint status|health");
  std::string endpoint_cmd;
  endpoint->add_option("command", endpoint_cmd)
      ->required()
      ->check(CLI::IsMember({"status", "health"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  SyncClient client(SplitEndpoints(endpoints), std::chrono::milliseconds(timeout_ms));

  if (put->parsed()) {
    pb::Envelope req;
    auto* p = req.mutable_put();
    p->set_key(key);
    p->set_value(value);
    p->set_prev_kv(prev_kv);
    if (!lease_hex.empty()) {
      try {
        p->set_lease(static_cast<int64_t>(std::stoull(lease_hex, nullptr, 16)));
      } catch (...) {
        std::cerr << "Error: --lease wants a hex lease id\n";
        return 2;
      }
    }
    auto r = client.Call(req);
    if (!r.ok()) return Fail(r.status());
    if (!StatusOf(*r).ok()) return Fail(StatusOf(*r));
    if (format == "json") {
      std::cout << Json(r->put_response()) << "\n";
    } else {
      std::cout << "OK\n";
      if (prev_kv && r->put_response().has_prev_kv()) {
        std::cout << r->put_response().prev_kv().key() << "\n"
                  << r->put_response().prev_kv().value() << "\n";
      }
    }
    return 0;
  }
  if (get->parsed()) {
    pb::Envelope req;
    auto* g = req.mutable_range();
    g->set_key(key);
    if (prefix) g->set_range_end(PrefixEnd(key));
    g->set_serializable(consistency == "s");
    g->set_limit(limit);
    g->set_revision(rev);
    g->set_keys_only(keys_only);
    g->set_count_only(count_only);
    auto r = client.Call(req);
    if (!r.ok()) return Fail(r.status());
    if (!StatusOf(*r).ok()) return Fail(StatusOf(*r));
    const auto& resp = r->range_response();
    if (format == "json") {
      std::cout << Json(resp) << "\n";
    } else if (count_only) {
      std::cout << resp.count() << "\n";
    } else {
      for (const auto& kv : resp.kvs()) {
        std::cout << kv.key() << "\n";
        if (!keys_only) std::cout << kv.value() << "\n";
      }
    }
    return 0;
  }
  if (del->parsed()) {
    pb::Envelope req;
    auto* d = req.mutable_delete_range();
    d->set_key(key);
    if (prefix) d->set_range_end(PrefixEnd(key));
    d->set_prev_kv(prev_kv);
    auto r = client.Call(req);
    if (!r.ok()) return Fail(r.status());
    if (!StatusOf(*r).ok()) return Fail(StatusOf(*r));
    if (format == "json") {
      std::cout << Json(r->delete_range_response()) << "\n";
    } else {
      std::cout << r->delete_range_response().deleted() << "\n";
      for (const auto& kv : r->delete_range_response().prev_kvs()) {
        std::cout << kv.key() << "\n" << kv.value() << "\n";
      }
    }
    return 0;
  }
  // endpoint status|health: each endpoint on its own.
  int failures = 0;
  if (format == "json") std::cout << "[";
  bool first = true;
  for (const std::string& ep : SplitEndpoints(endpoints)) {
    pb::Envelope req;
    req.mutable_status_request();
    auto r = client.CallEndpoint(ep, req);
    const bool ok = r.ok() && StatusOf(*r).ok();
    if (!ok) ++failures;
    if (endpoint_cmd == "health") {
      const bool healthy = ok && r->status_response().leader() != 0;
      if (!healthy) failures += ok ? 1 : 0;
      std::cout << ep << " is " << (healthy ? "healthy" : "unhealthy")
                << (r.ok() ? "" : ": " + r.status().ToString()) << "\n";
      continue;
    }
    if (format == "json") {
      std::cout << (first ? "" : ",") << "{\"Endpoint\":\"" << ep
                << "\",\"Status\":" << (ok ? Json(r->status_response()) : "null") << "}";
      first = false;
    } else if (ok) {
      const auto& s = r->status_response();
      std::cout << ep << ", " << std::hex << s.header().member_id() << std::dec << ", "
                << s.version() << ", " << s.db_size() << " B, leader " << std::hex << s.leader()
                << std::dec << ", term " << s.raft_term() << ", index " << s.raft_index()
                << ", applied " << s.raft_applied_index() << ", revision " << s.header().revision()
                << (s.is_leader() ? ", is leader" : "") << "\n";
    } else {
      std::cerr << ep << ": " << r.status().ToString() << "\n";
    }
  }
  if (format == "json" && endpoint_cmd == "status") std::cout << "]\n";
  return failures == 0 ? 0 : 1;
}
