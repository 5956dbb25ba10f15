// watch: prints every change of a key, range or prefix as it happens, as etcdctl does (event
// type, key, value), until SIGINT/SIGTERM; the SDK's Watcher resumes across member failures, so
// no event is lost or repeated while it runs.
#include <atomic>
#include <memory>
#include <optional>

#include "client/watch.h"
#include "tools/pharosctl/context.h"
#include "tools/pharosctl/flags.h"

namespace pharos::pharosctl {
namespace {

struct WatchFlags {
  std::string key, range_end;
  bool prefix = false, from_key = false, prev_kv = false;
  int64_t rev = 0;
};

std::string SimpleEvents(const std::vector<pb::Event>& events) {
  std::string out;
  for (const auto& e : events) {
    out += e.type() == pb::Event::DELETE ? "DELETE\n" : "PUT\n";
    if (e.has_prev_kv()) out += SimpleKv(e.prev_kv());
    out += SimpleKv(e.kv());
  }
  return out;
}

int RunWatch(Context& ctx, const WatchFlags& f) {
  if (Status s = CheckRangeEnd(f.range_end, f.prefix, f.from_key); !s.ok()) {
    return UsageError(s.message());
  }
  if (f.rev < 0) return UsageError("--rev must not be negative");
  Signals& signals = ctx.signals();
  signals.Catch();
  const Format format = ctx.format();
  std::mutex mu;
  std::optional<client::WatchError> failed;  // guarded by mu
  {
    client::Watcher watcher(
        ctx.client(), f.key,
        {.range_end = f.range_end,
         .prefix = f.prefix,
         .from_key = f.from_key,
         .start_revision = f.rev,
         .prev_kv = f.prev_kv},
        [format](const std::vector<pb::Event>& events, int64_t revision) {
          if (format == Format::kJson) {
            pb::WatchResponse r;
            r.mutable_header()->set_revision(revision);
            for (const auto& e : events) *r.add_events() = e;
            Emit(ToJson(r) + "\n");
          } else {
            Emit(SimpleEvents(events));
          }
        },
        [&](const client::WatchError& e) {
          {
            std::lock_guard lock(mu);
            failed = e;
          }
          signals.Notify();
        });
    signals.WaitUntil([&] {
      std::lock_guard lock(mu);
      return signals.received() > 0 || failed.has_value();
    });
  }
  // The watcher is gone: no callback runs any more.
  if (failed) {
    if (failed->compact_revision > 0) {
      return Fail(Describe(failed->status) + " (the oldest revision still available is " +
                  std::to_string(failed->compact_revision) + ")");
    }
    return Fail(failed->status);
  }
  return kExitOk;
}

}  // namespace

void AddWatchCommand(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<WatchFlags>();
  auto* w = app.add_subcommand("watch",
                               "Prints the changes of a key, range or prefix until "
                               "SIGINT/SIGTERM");
  w->add_option("key", flags->key, "KEY")->required();
  w->add_option("range_end", flags->range_end, "RANGE_END: the range is [KEY, RANGE_END)");
  w->add_flag("--prefix", flags->prefix, "every key with the prefix KEY");
  w->add_flag("--from-key", flags->from_key, "every key >= KEY");
  w->add_option("--rev", flags->rev, "start at this revision (0: from now)");
  w->add_flag("--prev-kv", flags->prev_kv, "print the previous key-value of each event");
  ctx.Register(w, [&ctx, flags] { return RunWatch(ctx, *flags); });
}

}  // namespace pharos::pharosctl
