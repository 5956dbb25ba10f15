// alarm list|disarm and defrag: what an operator does when a member's backend outgrows its quota
// (the NOSPACE alarm refuses writes): free space (del, compaction), defrag each member, then
// disarm. Output follows etcdctl ("memberID:<id> alarm:NOSPACE", "Finished defragmenting etcd
// member[<endpoint>]").
#include <iostream>

#include "tools/pharosctl/context.h"
#include "tools/pharosctl/flags.h"

namespace pharos::pharosctl {
namespace {

std::string AlarmLines(const pb::AlarmResponse& r) {
  std::string out;
  for (const pb::AlarmMember& a : r.alarms()) {
    out +=
        "memberID:" + MemberHex(a.member_id()) + " alarm:" + pb::AlarmType_Name(a.alarm()) + "\n";
  }
  return out;
}

int RunAlarm(Context& ctx, pb::AlarmRequest::Action action) {
  pb::Envelope e;
  e.mutable_alarm()->set_action(action);
  auto r = ctx.client().Call(std::move(e));
  if (!r.ok()) return Fail(r.status());
  if (ctx.format() == Format::kJson) {
    Emit(ToJson(r->alarm_response()) + "\n");
  } else if (action == pb::AlarmRequest::GET) {
    Emit(AlarmLines(r->alarm_response()));
  } else if (r->alarm_response().alarms().empty()) {
    Emit("All alarms disarmed\n");
  } else {
    // Someone raised one again between our request and its apply.
    Emit("Alarms still active:\n" + AlarmLines(r->alarm_response()));
  }
  return kExitOk;
}

int RunDefrag(Context& ctx, bool cluster) {
  auto targets = CommandTargets(ctx, cluster);
  if (!targets.ok()) return Fail(targets.status());
  bool failed = false;
  std::string json = "[";
  // One member at a time: a member blocks its applies while it defragments, and doing all at
  // once would stall the whole cluster.
  for (const std::string& endpoint : *targets) {
    pb::Envelope e;
    e.mutable_defragment();
    auto r = ctx.client().Call(std::move(e), {.endpoint = endpoint});
    if (!r.ok()) {
      failed = true;
      std::cerr << "Failed to defragment member[" << endpoint << "] (" << Describe(r.status())
                << ")" << std::endl;
      continue;
    }
    const auto& d = r->defragment_response();
    if (ctx.format() == Format::kJson) {
      json += std::string(json.size() > 1 ? "," : "") + "{\"Endpoint\":" + JsonQuote(endpoint) +
              ",\"Defragment\":" + ToJson(d) + "}";
    } else {
      Emit("Finished defragmenting member[" + endpoint + "]: backend " +
           HumanBytes(d.backend_bytes_before()) + " -> " + HumanBytes(d.backend_bytes_after()) +
           "\n");
    }
  }
  if (ctx.format() == Format::kJson) Emit(json + "]\n");
  return failed ? kExitError : kExitOk;
}

}  // namespace

void AddMaintenanceCommands(CLI::App& app, Context& ctx) {
  auto* alarm = app.add_subcommand("alarm", "Alarm commands (NOSPACE: the backend quota)");
  alarm->require_subcommand(1);
  auto* list = alarm->add_subcommand("list", "Lists the active alarms");
  ctx.Register(list, [&ctx] { return RunAlarm(ctx, pb::AlarmRequest::GET); });
  auto* disarm = alarm->add_subcommand(
      "disarm", "Clears every alarm (a member still over its quota raises NOSPACE again)");
  ctx.Register(disarm, [&ctx] { return RunAlarm(ctx, pb::AlarmRequest::DEACTIVATE); });

  auto cluster = std::make_shared<bool>(false);
  auto* defrag = app.add_subcommand(
      "defrag", "Rewrites each member's backend so space freed by deletes and compaction returns");
  defrag->add_flag("--cluster", *cluster, "every member's client address, from member list");
  ctx.Register(defrag, [&ctx, cluster] { return RunDefrag(ctx, *cluster); });
}

}  // namespace pharos::pharosctl
