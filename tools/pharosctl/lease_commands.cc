// lease grant|revoke|timetolive|list|keep-alive, printed as etcdctl prints them; lease ids are
// shown in hex and accepted back in hex (by these commands and by `put --lease=`).
#include <algorithm>
#include <memory>

#include "client/lease.h"
#include "tools/pharosctl/context.h"
#include "tools/pharosctl/flags.h"

namespace pharos::pharosctl {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

struct LeaseFlags {
  std::string ttl, id;
  bool keys = false, once = false;
};

int LeaseFailure(int64_t id, const Status& s) {
  if (s.code() == StatusCode::kLeaseNotFound) return Fail("lease " + LeaseHex(id) + " not found");
  return Fail(s);
}

int RunGrant(Context& ctx, const LeaseFlags& f) {
  auto ttl = ParseLeaseTtl(f.ttl);
  if (!ttl.ok()) return UsageError(ttl.status().message());
  auto r = client::Lease(ctx.client()).Grant(*ttl);
  if (!r.ok()) return Fail(r.status());
  Emit(ctx.format() == Format::kJson ? ToJson(*r) + "\n"
                                     : "lease " + LeaseHex(r->id()) + " granted with TTL(" +
                                           std::to_string(r->ttl()) + "s)\n");
  return kExitOk;
}

// The lease id argument: a usage error (exit 2) when it is not a lease id.
Result<int64_t> LeaseArg(const std::string& text) {
  auto id = ParseLeaseId(text);
  if (!id.ok()) return id.status();
  if (*id == 0) return Status::InvalidArgument("lease id 0 is no lease");
  return *id;
}

int RunRevoke(Context& ctx, const LeaseFlags& f) {
  auto id = LeaseArg(f.id);
  if (!id.ok()) return UsageError(id.status().message());
  auto r = client::Lease(ctx.client()).Revoke(*id);
  if (!r.ok()) return LeaseFailure(*id, r.status());
  Emit(ctx.format() == Format::kJson ? ToJson(*r) + "\n" : "lease " + LeaseHex(*id) + " revoked\n");
  return kExitOk;
}

int RunTimeToLive(Context& ctx, const LeaseFlags& f) {
  auto id = LeaseArg(f.id);
  if (!id.ok()) return UsageError(id.status().message());
  auto r = client::Lease(ctx.client()).TimeToLive(*id, f.keys);
  if (!r.ok()) return LeaseFailure(*id, r.status());
  if (ctx.format() == Format::kJson) {
    Emit(ToJson(*r) + "\n");
    return kExitOk;
  }
  if (r->ttl() == -1) {
    Emit("lease " + LeaseHex(*id) + " already expired\n");
    return kExitOk;
  }
  std::string out = "lease " + LeaseHex(*id) + " granted with TTL(" +
                    std::to_string(r->grantedttl()) + "s), remaining(" + std::to_string(r->ttl()) +
                    "s)";
  if (f.keys) {
    out += ", attached keys([";
    for (int i = 0; i < r->keys_size(); ++i) out += (i ? " " : "") + r->keys(i);
    out += "])";
  }
  Emit(out + "\n");
  return kExitOk;
}

int RunList(Context& ctx) {
  auto r = client::Lease(ctx.client()).Leases();
  if (!r.ok()) return Fail(r.status());
  if (ctx.format() == Format::kJson) {
    Emit(ToJson(*r) + "\n");
    return kExitOk;
  }
  std::string out = "found " + std::to_string(r->leases_size()) + " leases\n";
  for (const auto& l : r->leases()) out += LeaseHex(l.id()) + "\n";
  Emit(out);
  return kExitOk;
}

void PrintKeepAlive(Context& ctx, const pb::LeaseKeepAliveResponse& r) {
  Emit(ctx.format() == Format::kJson ? ToJson(r) + "\n"
                                     : "lease " + LeaseHex(r.id()) + " keepalived with TTL(" +
                                           std::to_string(r.ttl()) + ")\n");
}

// Renews at a third of the TTL, like the SDK's LeaseKeepAlive, but prints every renewal as
// etcdctl does — which that class does not report — and stops on a signal.
int RunKeepAlive(Context& ctx, const LeaseFlags& f) {
  auto id = LeaseArg(f.id);
  if (!id.ok()) return UsageError(id.status().message());
  client::Lease lease(ctx.client());
  if (f.once) {
    auto r = lease.KeepAliveOnce(*id);
    if (!r.ok()) return LeaseFailure(*id, r.status());
    PrintKeepAlive(ctx, *r);
    return kExitOk;
  }
  Signals& signals = ctx.signals();
  signals.Catch();
  const auto started = SteadyClock::now();
  auto alive_until = started + ctx.timeout();  // until the first answer tells us the TTL
  milliseconds ttl{0};
  for (;;) {
    const auto sent = SteadyClock::now();
    // A third of the TTL, so that a renewal that hangs leaves time for another, but no less
    // than 500 ms — unless the user's command timeout is shorter still: it is the ceiling.
    const milliseconds call_timeout =
        ttl.count() > 0 ? std::min(std::max(ttl / 3, milliseconds(500)), ctx.timeout())
                        : ctx.timeout();
    auto r = lease.KeepAliveOnce(*id, {.timeout = call_timeout});
    auto next = SteadyClock::now() + milliseconds(500);
    if (r.ok()) {
      PrintKeepAlive(ctx, *r);
      ttl = std::chrono::seconds(r->ttl());
      alive_until = sent + ttl;
      next = sent + ttl / 3;
    } else if (r.status().code() == StatusCode::kLeaseNotFound) {
      if (ctx.format() != Format::kJson) Emit("lease " + LeaseHex(*id) + " expired or revoked.\n");
      return kExitError;
    } else if (SteadyClock::now() >= alive_until) {
      return Fail("lease " + LeaseHex(*id) + " was not renewed in time: " + Describe(r.status()));
    }
    const auto wait = std::chrono::duration_cast<milliseconds>(next - SteadyClock::now());
    if (signals.WaitUntil([&] { return signals.received() > 0; },
                          std::max(wait, milliseconds(0)))) {
      return kExitOk;
    }
  }
}

}  // namespace

void AddLeaseCommands(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<LeaseFlags>();
  auto* lease = app.add_subcommand("lease", "Lease commands");
  lease->require_subcommand(1);

  auto* grant = lease->add_subcommand("grant", "Creates a lease with a TTL in seconds");
  grant->add_option("ttl", f->ttl, "TTL")->required();
  ctx.Register(grant, [&ctx, f] { return RunGrant(ctx, *f); });

  auto* revoke = lease->add_subcommand("revoke", "Revokes a lease, deleting its keys");
  revoke->add_option("id", f->id, "lease id (hex)")->required();
  ctx.Register(revoke, [&ctx, f] { return RunRevoke(ctx, *f); });

  auto* ttl = lease->add_subcommand("timetolive", "Shows a lease's TTL and remaining time");
  ttl->add_option("id", f->id, "lease id (hex)")->required();
  ttl->add_flag("--keys", f->keys, "list the keys attached to the lease");
  ctx.Register(ttl, [&ctx, f] { return RunTimeToLive(ctx, *f); });

  auto* list = lease->add_subcommand("list", "Lists every live lease");
  ctx.Register(list, [&ctx] { return RunList(ctx); });

  auto* keep = lease->add_subcommand("keep-alive", "Keeps a lease alive until SIGINT/SIGTERM");
  keep->add_option("id", f->id, "lease id (hex)")->required();
  keep->add_flag("--once", f->once, "renew once and exit");
  ctx.Register(keep, [&ctx, f] { return RunKeepAlive(ctx, *f); });
}

}  // namespace pharos::pharosctl
