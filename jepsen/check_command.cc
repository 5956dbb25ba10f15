// pharos-check's flags, report and exit codes.
#include "jepsen/check_command.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "jepsen/history.h"
#include "jepsen/linearizability.h"
#include "jepsen/register_model.h"

namespace pharos::jepsen {
namespace {

using nlohmann::json;

// Past this many, the text report summarizes the concurrent ops (info ops pile up in long runs);
// the JSON report lists them all.
constexpr size_t kMaxConcurrentShown = 20;

json ValueJson(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  return nullptr;
}

// An op in the history's own vocabulary, plus where it came from.
json OpJson(const Op& op) {
  json j = {{"process", op.process},
            {"f", FnName(op.f)},
            {"type", OutcomeName(op.outcome)},
            {"invoke_time", op.invoke_time},
            {"invoke_line", op.invoke_line}};
  j["value"] = op.f == Fn::kCas ? json::array({ValueJson(op.expected), ValueJson(op.value)})
                                : ValueJson(op.value);
  j["complete_time"] = op.complete_time ? json(*op.complete_time) : json(nullptr);
  j["complete_line"] = op.complete_line != 0 ? json(op.complete_line) : json(nullptr);
  return j;
}

// The ops of the prefix the text report shows: its end, where it matters.
constexpr size_t kPrefixShown = 10;

json OpsJson(const std::vector<Op>& ops, size_t from = 0) {
  json out = json::array();
  for (size_t i = from; i < ops.size(); ++i) out.push_back(OpJson(ops[i]));
  return out;
}

json ReportJson(const CheckResult& r) {
  json j = {{"valid", r.unknown ? json("unknown") : json(r.linearizable)},
            {"keys", r.keys},
            {"ops", r.ops},
            {"configurations", r.configurations},
            {"bad_keys", r.bad_keys},
            {"timed_out_keys", r.timed_out_keys}};
  if (!r.anomaly) {
    j["anomaly"] = nullptr;
    return j;
  }
  const Anomaly& a = *r.anomaly;
  json concurrent = json::array();
  for (const Op& op : a.concurrent) concurrent.push_back(OpJson(op));
  j["anomaly"] = {{"key", a.key},
                  {"op", OpJson(a.op)},
                  {"concurrent", concurrent},
                  {"previous", a.previous ? OpJson(*a.previous) : json(nullptr)},
                  {"states", a.states},
                  {"prefix_length", a.prefix.size()},
                  {"prefix", OpsJson(a.prefix)},
                  {"cannot_follow", OpsJson(a.cannot_follow)}};
  return j;
}

std::string Lines(const Op& op) {
  std::string s = "line " + std::to_string(op.invoke_line);
  if (op.complete_line != 0) s += "-" + std::to_string(op.complete_line);
  return s;
}

void PrintReport(const CheckResult& r, std::ostream& out) {
  out << (r.unknown ? "unknown" : r.linearizable ? "linearizable" : "not linearizable") << "\n";
  out << r.keys << " keys, " << r.ops << " operations";
  if (!r.linearizable) {
    out << "; not linearizable:";
    for (const std::string& k : r.bad_keys) out << " " << FormatValue(k);
  }
  if (!r.timed_out_keys.empty()) {
    out << "; out of time on " << r.timed_out_keys.size() << " key(s):";
    for (const std::string& k : r.timed_out_keys) out << " " << FormatValue(k);
  }
  out << "\n";
  if (!r.anomaly) return;
  const Anomaly& a = *r.anomaly;
  out << "key " << FormatValue(a.key) << ": the search could not linearize\n";
  out << "  " << FormatOp(a.op) << " (" << Lines(a.op) << ")\n";
  out << "state there:";
  for (size_t i = 0; i < a.states.size(); ++i) out << (i == 0 ? " " : ", ") << a.states[i];
  out << "\n";
  out << "concurrent with it:";
  if (a.concurrent.empty()) out << " nothing";
  out << "\n";
  for (size_t i = 0; i < a.concurrent.size() && i < kMaxConcurrentShown; ++i) {
    out << "  " << FormatOp(a.concurrent[i]) << " (" << Lines(a.concurrent[i]) << ")\n";
  }
  if (a.concurrent.size() > kMaxConcurrentShown) {
    out << "  ... and " << a.concurrent.size() - kMaxConcurrentShown << " more (see --json)\n";
  }
  if (a.previous) {
    out << "last completed before it:\n";
    out << "  " << FormatOp(*a.previous) << " (" << Lines(*a.previous) << ")\n";
  }
  out << "longest linearizable prefix: " << a.prefix.size() << " operations";
  if (a.prefix.size() > kPrefixShown) out << ", ending";
  out << (a.prefix.empty() ? "\n" : ":\n");
  for (size_t i = a.prefix.size() > kPrefixShown ? a.prefix.size() - kPrefixShown : 0;
       i < a.prefix.size(); ++i) {
    out << "  " << FormatOp(a.prefix[i]) << " (" << Lines(a.prefix[i]) << ")\n";
  }
  out << "cannot follow it:\n";
  for (const Op& op : a.cannot_follow) out << "  " << FormatOp(op) << " (" << Lines(op) << ")\n";
}

}  // namespace

int RunCheckCommand(int argc, const char* const* argv, std::istream& in, std::ostream& out,
                    std::ostream& err) {
  CLI::App app("Checks a Jepsen-style history (JSON lines) for linearizability, key by key.",
               "pharos-check");
  std::string model = "register";
  std::string path;
  bool as_json = false;
  double timeout_s = 0;
  app.add_option("--model", model, "the sequential specification of each key")
      ->check(CLI::IsMember({"register"}));
  app.add_flag("--json", as_json, "print the result as one JSON document");
  app.add_option("--timeout", timeout_s,
                 "give up after this many seconds: exit 3, unknown (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("history", path, "the history file, or - for stdin")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? 0 : kExitUnreadable;
  }

  std::ifstream file;
  std::istream* source = &in;
  if (path != "-") {
    file.open(path);
    if (!file) {
      err << "pharos-check: cannot open " << path << "\n";
      return kExitUnreadable;
    }
    source = &file;
  }
  const std::string name = path == "-" ? "<stdin>" : path;
  Result<History> history = ReadHistory(*source);
  if (!history.ok()) {
    err << "pharos-check: " << name << ": " << history.status().message() << "\n";
    if (as_json) out << json({{"error", history.status().message()}}).dump() << "\n";
    return kExitUnreadable;
  }
  RegisterModel register_model;
  CheckOptions options;
  if (timeout_s > 0) {
    options.deadline = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(timeout_s));
  }
  const CheckResult result = CheckHistory(*history, register_model, options);
  if (as_json) {
    out << ReportJson(result).dump() << "\n";
  } else {
    PrintReport(result, out);
  }
  if (result.unknown) return kExitUnknown;
  return result.linearizable ? kExitLinearizable : kExitNotLinearizable;
}

}  // namespace pharos::jepsen
