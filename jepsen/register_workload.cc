#include "jepsen/register_workload.h"

#include <sys/wait.h>

#include <fstream>
#include <random>
#include <sstream>

#include "client/client.h"
#include "client/kv.h"
#include "jepsen/check_command.h"

namespace pharos::jepsen {
namespace {

// A write or cas that may have been applied: the checker must consider both.
bool Unknown(const Status& s) {
  return s.code() == StatusCode::kOutcomeUnknown || s.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace

RegisterWorkload::RegisterWorkload(RegisterWorkloadOptions options, HistoryRecorder& history)
    : options_(std::move(options)), history_(history), next_process_(options_.processes) {}

RegisterWorkload::~RegisterWorkload() { Stop(); }

void RegisterWorkload::Start() {
  for (int slot = 0; slot < options_.processes; ++slot) {
    threads_.emplace_back([this, slot] { Worker(slot); });
  }
}

void RegisterWorkload::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool RegisterWorkload::Enough(int min_ok_per_key, std::vector<std::string>* why) const {
  std::lock_guard lock(mu_);
  bool enough = true;
  for (int k = 0; k < options_.keys; ++k) {
    const std::string key = "r" + std::to_string(k);
    auto it = ok_per_key_.find(key);
    const int n = it == ok_per_key_.end() ? 0 : it->second;
    if (n < min_ok_per_key) {
      enough = false;
      why->push_back("key " + key + " has only " + std::to_string(n) + " ok operations");
    }
  }
  return enough;
}

Verdict RegisterWorkload::Check() {
  if (Status written = history_.Flush(); !written.ok()) {
    // Lines are missing: the checker would judge a history that never happened (a lost write
    // can make a read look stale, a lost read hides one). No verdict, and no anomaly either.
    Verdict v;
    v.no_verdict = NoVerdict::kUnreadable;
    v.summary = "not checked: the history is incomplete (" + written.ToString() + ")";
    v.json = "{\"valid\":\"unreadable\"}";
    return v;
  }
  const std::string cmd = "'" + options_.checker + "' --model register --json '" + history_.path() +
                          "' > '" + options_.results_path + "' 2> '" + options_.results_path +
                          ".err'";
  const int rc = std::system(cmd.c_str());
  // A checker killed by a signal checked nothing, as one that could not read the history.
  const int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : kExitUnreadable;
  Verdict v;
  v.valid = code == kExitLinearizable;
  if (code == kExitLinearizable) {
    v.summary = "linearizable";
  } else if (code == kExitNotLinearizable) {
    v.summary = "NOT linearizable";
    v.problems.push_back(v.summary);
  } else if (code == kExitUnknown) {
    // No key shown bad before the checker ran out of time: no verdict, and no anomaly either.
    v.no_verdict = NoVerdict::kUnknown;
    v.summary = "unknown: the checker ran out of time";
  } else {
    v.no_verdict = NoVerdict::kUnreadable;
    v.summary = "not checked: the checker exited " + std::to_string(code) + " (see " +
                options_.results_path + ".err)";
  }
  std::ifstream in(options_.results_path);
  std::stringstream s;
  s << in.rdbuf();
  v.json = s.str().empty() ? "null" : s.str();
  while (!v.json.empty() && (v.json.back() == '\n' || v.json.back() == ' ')) v.json.pop_back();
  return v;
}

void RegisterWorkload::Worker(int slot) {
  client::ClientOptions o;
  o.endpoints = options_.endpoints;
  o.timeout = options_.timeout;
  // Each process starts at a different member, as independent clients would.
  std::rotate(o.endpoints.begin(), o.endpoints.begin() + slot % o.endpoints.size(),
              o.endpoints.end());
  client::Client c(o);
  client::KV kv(c);
  std::mt19937_64 rng(options_.seed * 1000003 + static_cast<uint64_t>(slot));
  int process = slot;
  while (!stop_) {
    const std::string key = "r" + std::to_string(rng() % options_.keys);
    const std::string storage_key = "/jepsen/register/" + key;
    const int kind = static_cast<int>(rng() % 4);  // read twice as often as write or cas
    if (kind <= 1) {
      const int64_t t = history_.Invoke(process, "read", key, "null");
      auto r = kv.Get(storage_key);
      if (r.ok()) {
        history_.Complete(process, "ok", "read", key,
                          r->kvs_size() ? r->kvs(0).value() : std::string("null"), t);
        std::lock_guard lock(mu_);
        ++ok_per_key_[key];
      } else {
        history_.Complete(process, "fail", "read", key, "null", t);  // constrains nothing
      }
      continue;
    }
    Status status = Status::Ok();
    std::string f, value;
    bool swapped = true;
    bool recorded_info = false;  // the op's process is then retired
    const int64_t v = static_cast<int64_t>(rng() % 5);
    if (kind == 2) {
      f = "write";
      value = std::to_string(v);
      const int64_t t = history_.Invoke(process, f, key, value);
      auto r = kv.Put(storage_key, value);
      status = r.ok() ? Status::Ok() : r.status();
      if (status.ok()) {
        history_.Complete(process, "ok", f, key, value, t);
      } else {
        recorded_info = Unknown(status);
        history_.Complete(process, recorded_info ? "info" : "fail", f, key, value, t);
      }
    } else {
      f = "cas";
      const int64_t expected = static_cast<int64_t>(rng() % 5);
      value = "[" + std::to_string(expected) + "," + std::to_string(v) + "]";
      const int64_t t = history_.Invoke(process, f, key, value);
      client::Txn txn;
      txn.If(client::Compare::Value(storage_key, client::CompareOp::kEqual,
                                    std::to_string(expected)))
          .Then(client::Op::Put(storage_key, std::to_string(v)));
      auto r = kv.Commit(txn);
      status = r.ok() ? Status::Ok() : r.status();
      swapped = r.ok() && r->succeeded();
      if (status.ok()) {
        // A cas whose compare did not hold is a `fail` that constrains the state.
        history_.Complete(process, swapped ? "ok" : "fail", f, key, value, t);
      } else {
        // Refused with an error, the cas did not happen and observed nothing. It must not be a
        // `fail`, which the model takes as a compare seen not to hold: a NOT_LEADER answer while
        // the value equalled `expected` then made a correct run look not linearizable. Recorded
        // as `info` (it may be left out of the order, which is what happened).
        recorded_info = true;
        history_.Complete(process, "info", f, key, value, t);
      }
    }
    if (status.ok()) {
      std::lock_guard lock(mu_);
      ++ok_per_key_[key];
    } else if (recorded_info) {
      process = next_process_++;  // an info op never completes: its process is retired
    }
  }
}

}  // namespace pharos::jepsen
