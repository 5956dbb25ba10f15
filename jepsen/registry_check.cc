#include "jepsen/registry_check.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace pharos::jepsen {
namespace {

using json = nlohmann::json;

struct Instance {
  int64_t process = 0;
  std::optional<int64_t> reg_invoke, reg_ok, reg_failed;
  int64_t ttl_ns = 0;
  int64_t lease = 0, revision = 0;
  std::optional<int64_t> dereg_invoke, dereg_ok;
  std::optional<int64_t> expire_invoke, alive_until, expire_ok;
};

struct Change {
  int64_t time;
  bool present;
};

std::string Ms(int64_t ns) { return std::to_string(ns / 1'000'000) + " ms"; }

// The view's state at `t`: the last change at or before it.
bool PresentAt(const std::vector<Change>& changes, int64_t t) {
  bool present = false;
  for (const auto& c : changes) {
    if (c.time > t) break;
    present = c.present;
  }
  return present;
}

int64_t Int(const json& v, const char* field) {
  if (!v.is_object() || !v.contains(field) || !v[field].is_number_integer()) return 0;
  return v[field].get<int64_t>();
}

}  // namespace

Result<Verdict> CheckRegistryHistory(std::istream& in, const RegistryCheckOptions& options) {
  std::map<std::string, Instance> instances;
  std::map<int64_t, std::map<std::string, std::vector<Change>>> views;  // process -> key -> ...
  for (int64_t p : options.views) views[p];
  std::string text;
  int line = 0;
  int64_t last_time = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto bad = [line](const std::string& why) {
      return Status::InvalidArgument("line " + std::to_string(line) + ": " + why);
    };
    json e = json::parse(text, nullptr, false);
    if (!e.is_object() || !e.contains("process") || !e["process"].is_number_integer() ||
        !e.contains("type") || !e["type"].is_string() || !e.contains("f") || !e["f"].is_string() ||
        !e.contains("key") || !e["key"].is_string() || !e.contains("time") ||
        !e["time"].is_number_integer()) {
      return bad("not an event object with process, type, f, key and time");
    }
    const int64_t process = e["process"].get<int64_t>();
    const std::string type = e["type"], f = e["f"], key = e["key"];
    const int64_t time = e["time"].get<int64_t>();
    const json value = e.contains("value") ? e["value"] : json();
    if (time < last_time) return bad("goes back in time");
    last_time = time;
    if (type != "invoke" && type != "ok" && type != "fail" && type != "info") {
      return bad("unknown type '" + type + "'");
    }
    if (f == "discover") {
      if (type != "ok" || !value.is_string() || (value != "added" && value != "removed")) {
        return bad("a discover event is ok with value \"added\" or \"removed\"");
      }
      views[process][key].push_back({time, value == "added"});
      continue;
    }
    Instance& in_ = instances[key];
    if (f == "register") {
      if (type == "invoke") {
        if (in_.reg_invoke) return bad("instance " + key + " registered twice");
        in_.reg_invoke = time;
        in_.process = process;
        in_.ttl_ns = Int(value, "ttl") * 1'000'000'000;
      } else if (!in_.reg_invoke || in_.process != process) {
        return bad("register completed that was not invoked");
      } else if (type == "ok") {
        in_.reg_ok = time;
        in_.lease = Int(value, "lease");
        in_.revision = Int(value, "revision");
        if (Int(value, "ttl") > 0) in_.ttl_ns = Int(value, "ttl") * 1'000'000'000;
      } else {
        in_.reg_failed = time;
      }
    } else if (f == "deregister") {
      if (!in_.reg_ok) return bad("deregister of " + key + " that was never registered");
      if (type == "invoke") {
        in_.dereg_invoke = time;
      } else if (type == "ok") {
        in_.dereg_ok = time;
      }
    } else if (f == "expire") {
      if (!in_.reg_ok) return bad("expire of " + key + " that was never registered");
      if (type == "invoke") {
        // The lease's known deadline bounds the "lost" check; read as 0 it would switch that
        // check off for the instance, so a history without it is refused, not half-checked.
        if (!value.is_object() || !value.contains("alive_until") ||
            !value["alive_until"].is_number_integer()) {
          return bad("expire of " + key + " without an integer alive_until");
        }
        in_.expire_invoke = time;
        in_.alive_until = value["alive_until"].get<int64_t>();
      } else if (type == "ok") {
        in_.expire_ok = time;
      }
    } else {
      return bad("unknown f '" + f + "'");
    }
  }

  const int64_t grace = options.grace_ns, end = options.end_ns;
  Verdict v;
  int registered = 0, deregistered = 0, expired = 0, lost = 0, stale = 0, invented = 0,
      outlived = 0;
  for (const auto& [key, in_] : instances) {
    registered += in_.reg_ok.has_value();
    deregistered += in_.dereg_ok.has_value();
    expired += in_.expire_ok.has_value();
    // The cluster itself: a lease whose keepalives stopped is gone within TTL + grace.
    if (in_.expire_invoke) {
      const int64_t limit = *in_.expire_invoke + in_.ttl_ns + grace;
      if ((in_.expire_ok && *in_.expire_ok > limit) || (!in_.expire_ok && end > limit)) {
        ++outlived;
        v.problems.push_back(
            "lease of " + key + " outlived TTL + grace: keepalives stopped at " +
            Ms(*in_.expire_invoke) + ", record " +
            (in_.expire_ok ? "seen gone at " + Ms(*in_.expire_ok) : "never seen gone"));
      }
    }
  }
  for (const auto& [process, keys] : views) {
    const std::string who = "discovery process " + std::to_string(process);
    for (const auto& [key, changes] : keys) {
      auto it = instances.find(key);
      const bool registered = it != instances.end() && it->second.reg_invoke.has_value();
      // Any "added" dated before the register began is invented, not only the first change: a
      // view may drop a key it never had and then show it, still before anyone registered it.
      const auto early = std::find_if(changes.begin(), changes.end(), [&](const Change& c) {
        return c.present && (!registered || c.time < *it->second.reg_invoke);
      });
      if (!registered || early != changes.end()) {
        ++invented;
        v.problems.push_back(who + " showed " + key + " before any register of it" +
                             (early != changes.end() ? " (at " + Ms(early->time) + ")" : ""));
      }
    }
    for (const auto& [key, in_] : instances) {
      static const std::vector<Change> kNone;
      auto found = keys.find(key);
      const std::vector<Change>& changes = found == keys.end() ? kNone : found->second;
      // Nothing lost: present from ack + grace while the lease is known alive.
      if (in_.reg_ok) {
        const int64_t from = *in_.reg_ok + grace;
        int64_t until = end;
        if (in_.dereg_invoke) until = std::min(until, *in_.dereg_invoke);
        if (in_.expire_invoke) until = std::min(until, *in_.alive_until);
        if (from < until) {
          std::optional<int64_t> missing;
          if (!PresentAt(changes, from)) {
            missing = from;
          } else {
            for (const auto& c : changes) {
              if (!c.present && c.time > from && c.time < until) {
                missing = c.time;
                break;
              }
            }
          }
          if (missing) {
            ++lost;
            v.problems.push_back("lost: " + key + " (lease " + std::to_string(in_.lease) +
                                 ", revision " + std::to_string(in_.revision) +
                                 ") acknowledged at " + Ms(*in_.reg_ok) + ", alive until " +
                                 Ms(until) + ", missing from " + who + " at " + Ms(*missing));
          }
        }
      }
      // Nothing stale: gone from the earliest moment the history says it must be.
      std::optional<int64_t> gone_by;
      std::string because;
      const auto bound = [&](std::optional<int64_t> t, int64_t plus, const std::string& why) {
        if (t && (!gone_by || *t + plus < *gone_by)) {
          gone_by = *t + plus;
          because = why + " at " + Ms(*t);
        }
      };
      bound(in_.dereg_ok, grace, "deregistered");
      bound(in_.expire_invoke, in_.ttl_ns + grace, "keepalives stopped");
      bound(in_.expire_ok, grace, "seen expired");
      bound(in_.reg_failed, in_.ttl_ns + grace, "register failed");
      if (gone_by && *gone_by < end) {
        std::optional<int64_t> shown;
        if (PresentAt(changes, *gone_by)) {
          shown = *gone_by;
        } else {
          for (const auto& c : changes) {
            if (c.present && c.time > *gone_by) {
              shown = c.time;
              break;
            }
          }
        }
        if (shown) {
          ++stale;
          v.problems.push_back("stale: " + key + " " + because + ", still shown by " + who +
                               " at " + Ms(*shown) + " (due out by " + Ms(*gone_by) + ")");
        }
      }
    }
  }
  v.valid = v.problems.empty();
  const std::string counts =
      std::to_string(instances.size()) + " instances (" + std::to_string(registered) +
      " registered, " + std::to_string(deregistered) + " deregistered, " + std::to_string(expired) +
      " expired), " + std::to_string(views.size()) + " views";
  const std::string rule = "(grace " + Ms(grace) + ", TTL + grace for expiry)";
  v.summary = v.valid ? counts + ": nothing lost, nothing stale " + rule
                      : std::to_string(lost) + " lost, " + std::to_string(stale) + " stale, " +
                            std::to_string(invented) + " invented, " + std::to_string(outlived) +
                            " leases outlived TTL — " + counts + " " + rule;
  v.json = json{{"valid", v.valid},
                {"instances", instances.size()},
                {"registered", registered},
                {"deregistered", deregistered},
                {"expired", expired},
                {"views", views.size()},
                {"lost", lost},
                {"stale", stale},
                {"invented", invented},
                {"leases_outlived", outlived},
                {"grace_ms", grace / 1'000'000}}
               .dump();
  return v;
}

}  // namespace pharos::jepsen
