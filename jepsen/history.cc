// Reads the harness's JSON-lines history and pairs each invoke with its completion.
#include "jepsen/history.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

namespace pharos::jepsen {
namespace {

using nlohmann::json;

std::string LineError(int line, std::string_view why) {
  return "line " + std::to_string(line) + ": " + std::string(why);
}

// A JSON value as a register Value; nullopt for anything but null, a string or an integer that
// fits in int64 (floats, booleans, arrays and objects are not values).
std::optional<Value> ToValue(const json& j) {
  if (j.is_null()) return Value{};
  if (j.is_string()) return Value{j.get<std::string>()};
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return Value{static_cast<int64_t>(u)};
  }
  if (j.is_number_integer()) return Value{j.get<int64_t>()};
  return std::nullopt;
}

std::optional<Fn> ParseFn(std::string_view s) {
  if (s == "read") return Fn::kRead;
  if (s == "write") return Fn::kWrite;
  if (s == "cas") return Fn::kCas;
  if (s == "append") return Fn::kAppend;
  return std::nullopt;
}

enum class EventType { kInvoke, kOk, kFail, kInfo };

std::optional<EventType> ParseType(std::string_view s) {
  if (s == "invoke") return EventType::kInvoke;
  if (s == "ok") return EventType::kOk;
  if (s == "fail") return EventType::kFail;
  if (s == "info") return EventType::kInfo;
  return std::nullopt;
}

// One line, checked field by field.
struct Event {
  int64_t process = 0;
  EventType type = EventType::kInvoke;
  Fn f = Fn::kRead;
  std::string key;
  Value value;     // see Op::value; for a read, the value read (on ok)
  Value expected;  // cas only
  int64_t time = 0;
};

Result<Event> ParseEvent(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("not JSON");
  if (!j.is_object()) return Status::InvalidArgument("not a JSON object");
  for (const char* field : {"process", "type", "f", "key", "value", "time"}) {
    if (!j.contains(field))
      return Status::InvalidArgument(std::string("missing \"") + field + "\"");
  }
  Event e;
  const json& process = j["process"];
  if (!process.is_number_integer()) return Status::InvalidArgument("\"process\" is not an integer");
  e.process = process.get<int64_t>();
  const json& time = j["time"];
  if (!time.is_number_integer()) return Status::InvalidArgument("\"time\" is not an integer");
  e.time = time.get<int64_t>();
  const json& key = j["key"];
  if (!key.is_string()) return Status::InvalidArgument("\"key\" is not a string");
  e.key = key.get<std::string>();
  const json& type = j["type"];
  const auto t = type.is_string() ? ParseType(type.get<std::string>()) : std::nullopt;
  if (!t) return Status::InvalidArgument("bad \"type\" " + type.dump());
  e.type = *t;
  const json& f = j["f"];
  const auto fn = f.is_string() ? ParseFn(f.get<std::string>()) : std::nullopt;
  if (!fn) return Status::InvalidArgument("bad \"f\" " + f.dump());
  e.f = *fn;

  const json& value = j["value"];
  const auto bad_value = [&](std::string_view wanted) {
    return Status::InvalidArgument("bad \"value\" " + value.dump() + " for " +
                                   std::string(FnName(e.f)) + ": wanted " + std::string(wanted));
  };
  switch (e.f) {
    case Fn::kRead: {
      // Only an ok read carries a value; what a failed or unknown read says is meaningless.
      if (e.type == EventType::kInvoke && !value.is_null()) return bad_value("null on invoke");
      if (e.type == EventType::kOk) {
        auto v = ToValue(value);
        if (!v) return bad_value("null, a string or an integer");
        e.value = std::move(*v);
      }
      break;
    }
    case Fn::kWrite: {
      auto v = ToValue(value);
      if (!v || std::holds_alternative<std::monostate>(*v)) return bad_value("a string or integer");
      e.value = std::move(*v);
      break;
    }
    case Fn::kCas: {
      if (!value.is_array() || value.size() != 2) return bad_value("[expected, new]");
      auto expected = ToValue(value[0]);
      auto next = ToValue(value[1]);
      if (!expected || !next || std::holds_alternative<std::monostate>(*next)) {
        return bad_value("[expected, new] with new a string or integer");
      }
      e.expected = std::move(*expected);
      e.value = std::move(*next);
      break;
    }
    case Fn::kAppend: {
      if (!value.is_string()) return bad_value("a string");
      e.value = value.get<std::string>();
      break;
    }
  }
  return e;
}

Outcome ToOutcome(EventType t) {
  switch (t) {
    case EventType::kOk:
      return Outcome::kOk;
    case EventType::kFail:
      return Outcome::kFail;
    default:
      return Outcome::kInfo;
  }
}

// Appends `text` to `out` escaped as a JSON string (quotes included).
void AppendQuoted(std::string& out, const std::string& text) { out += json(text).dump(); }

}  // namespace

std::string FormatValue(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    std::string out;
    AppendQuoted(out, *s);
    return out;
  }
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return "null";
}

std::string_view FnName(Fn f) {
  switch (f) {
    case Fn::kRead:
      return "read";
    case Fn::kWrite:
      return "write";
    case Fn::kCas:
      return "cas";
    case Fn::kAppend:
      return "append";
  }
  return "?";
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    case Outcome::kInfo:
      return "info";
  }
  return "?";
}

std::string FormatOp(const Op& op) {
  std::string out = "process " + std::to_string(op.process) + " " + std::string(FnName(op.f));
  switch (op.f) {
    case Fn::kRead:
      if (op.outcome == Outcome::kOk) out += " -> " + FormatValue(op.value);
      break;
    case Fn::kCas:
      out += " " + FormatValue(op.expected) + " -> " + FormatValue(op.value);
      break;
    default:
      out += " " + FormatValue(op.value);
  }
  out += " ";
  out += op.complete_line == 0 ? "pending" : OutcomeName(op.outcome);
  out += " [invoked " + std::to_string(op.invoke_time);
  if (op.complete_time) out += ", completed " + std::to_string(*op.complete_time);
  out += "]";
  return out;
}

Result<History> ReadHistory(std::istream& in) {
  History h;
  // process -> index in h.ops of its pending op.
  std::unordered_map<int64_t, size_t> pending;
  // Processes whose last op ended with info: the harness never reuses them, so an invoke on one
  // means the history is not what we think it is.
  std::set<int64_t> retired;
  std::optional<int64_t> last_time;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto parsed = ParseEvent(text);
    if (!parsed.ok()) return Status::InvalidArgument(LineError(line, parsed.status().message()));
    Event& e = *parsed;
    if (last_time && e.time < *last_time) {
      return Status::InvalidArgument(
          LineError(line, "time " + std::to_string(e.time) + " is before the previous event's " +
                              std::to_string(*last_time) + " (events must be in real-time order)"));
    }
    last_time = e.time;
    const std::string process = "process " + std::to_string(e.process);
    auto it = pending.find(e.process);
    if (e.type == EventType::kInvoke) {
      if (it != pending.end()) {
        return Status::InvalidArgument(
            LineError(line, process + " invoked while its op from line " +
                                std::to_string(h.ops[it->second].invoke_line) + " is pending"));
      }
      if (retired.contains(e.process)) {
        return Status::InvalidArgument(LineError(
            line, process + " invoked again after an info (process ids are never reused)"));
      }
      Op op;
      op.process = e.process;
      op.f = e.f;
      op.key = std::move(e.key);
      op.value = std::move(e.value);
      op.expected = std::move(e.expected);
      op.invoke_time = e.time;
      op.invoke_line = line;
      pending.emplace(e.process, h.ops.size());
      h.ops.push_back(std::move(op));
      continue;
    }
    if (it == pending.end()) {
      return Status::InvalidArgument(LineError(line, "completion without a matching invoke"));
    }
    Op& op = h.ops[it->second];
    if (e.f != op.f || e.key != op.key) {
      return Status::InvalidArgument(LineError(
          line,
          "completion's f/key differ from the invoke on line " + std::to_string(op.invoke_line)));
    }
    if (op.f != Fn::kRead && (e.value != op.value || e.expected != op.expected)) {
      return Status::InvalidArgument(LineError(
          line,
          "completion's value differs from the invoke on line " + std::to_string(op.invoke_line)));
    }
    if (op.f == Fn::kRead && e.type == EventType::kOk) op.value = std::move(e.value);
    op.outcome = ToOutcome(e.type);
    op.complete_time = e.time;
    op.complete_line = line;
    if (e.type == EventType::kInfo) retired.insert(e.process);
    pending.erase(it);
  }
  if (in.bad()) return Status::IoError("reading the history failed");
  // Ops still pending stay Outcome::kInfo with no completion: they may or may not have happened.
  return h;
}

}  // namespace pharos::jepsen
