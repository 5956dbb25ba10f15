// lock and elect: etcdctl's concurrency commands over the SDK's recipes (DESIGN.md §6). Both hold
// until SIGINT/SIGTERM (or, for `lock NAME COMMAND...`, until the command exits) and then
// release or resign and revoke their lease, so nobody waits on a holder that left.
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <thread>

#include "client/election.h"
#include "client/lock.h"
#include "tools/pharosctl/contender.h"
#include "tools/pharosctl/context.h"

extern char** environ;

namespace pharos::pharosctl {
namespace {

struct LockFlags {
  std::string name;
  int64_t ttl = 10;
};

struct ElectFlags {
  std::string name, proposal;
  bool listen = false;
  int64_t ttl = 10;
};

// The program a command names, searched in PATH as a shell would ("" when there is none).
std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    const size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon == std::string::npos ? colon : colon - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) return "";
    start = colon + 1;
  }
}

// Runs `args` while the lock is held: the lock's key and fencing token in its environment,
// signals passed on to it, and stopped if the lock is lost under it. Returns pharosctl's exit
// code: the command's own, or 1 when pharosctl could not run it or stopped it.
int RunWhileHolding(Context& ctx, Contender& held, const std::vector<std::string>& args) {
  const std::string program = FindProgram(args[0]);
  if (program.empty()) {
    Status left = held.Leave();
    return Fail("cannot run '" + args[0] + "': command not found" +
                (left.ok() ? "" : "; " + Describe(left)));
  }
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("PHAROS_LOCK_KEY=" + held.key());
  env_strings.push_back("PHAROS_LOCK_REV=" + std::to_string(held.create_revision()));
  std::vector<char*> argv, envp;
  std::vector<std::string> arg_strings = args;
  for (auto& a : arg_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string exec_failed = "Error: cannot run '" + args[0] + "'\n";
  Signals& signals = ctx.signals();
  std::fflush(stdout);
  std::cout.flush();

  const pid_t pid = fork();
  if (pid < 0) {
    (void)held.Leave();
    return Fail(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &signals.original_mask(), nullptr);
    execve(program.c_str(), argv.data(), envp.data());
    (void)!write(2, exec_failed.data(), exec_failed.size());
    _exit(127);
  }

  std::atomic<bool> exited{false};
  int status = 0;
  std::thread reaper([&] {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    exited = true;
    signals.Notify();
  });
  int forwarded = 0;
  bool stopped_for_loss = false;
  for (;;) {
    signals.WaitUntil([&] {
      return exited.load() || signals.received() > forwarded || (held.lost() && !stopped_for_loss);
    });
    if (exited) break;
    for (; forwarded < signals.received(); ++forwarded) kill(pid, signals.last());
    if (held.lost() && !stopped_for_loss) {
      // Whatever the command guards is no longer ours: stop it rather than let it run unguarded.
      stopped_for_loss = true;
      kill(pid, SIGTERM);
    }
  }
  reaper.join();
  const Status left = held.Leave();
  if (stopped_for_loss) {
    return Fail(
        "lock lost while the command ran (its session lease expired); the command was "
        "stopped");
  }
  if (!left.ok()) std::cerr << "Error: releasing the lock: " << Describe(left) << std::endl;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitError;
}

int RunLock(Context& ctx, const LockFlags& f, std::vector<std::string> command) {
  if (f.ttl <= 0) return UsageError("--ttl must be a positive number of seconds");
  Signals& signals = ctx.signals();
  signals.Catch();
  Contender contender(ctx.client(), signals, client::LockOptions{}.prefix + f.name + "/", f.ttl);
  if (Status s = contender.Join(""); !s.ok()) return Fail(s);
  auto turn = contender.WaitForTurn();
  if (!turn.ok()) return Fail("waiting for the lock: " + Describe(turn.status()));
  if (!*turn) {
    (void)contender.Leave();
    return Fail("interrupted before the lock was acquired");
  }
  if (!command.empty()) return RunWhileHolding(ctx, contender, command);

  Emit(ctx.format() == Format::kJson
           ? "{\"key\":" + JsonQuote(contender.key()) +
                 ",\"fencing_token\":" + std::to_string(contender.create_revision()) + "}\n"
           : contender.key() + "\n");
  signals.WaitUntil([&] { return signals.received() > 0 || contender.lost(); });
  const bool lost = signals.received() == 0;
  const Status left = contender.Leave();
  if (lost) return Fail("lock lost: its session lease expired");
  return left.ok() ? kExitOk : Fail("releasing the lock: " + Describe(left));
}

std::string SimpleLeader(const pb::KeyValue& kv, Format format) {
  return format == Format::kJson ? ToJson(kv) + "\n" : kv.key() + "\n" + kv.value() + "\n";
}

int RunObserve(Context& ctx, const ElectFlags& f) {
  Signals& signals = ctx.signals();
  signals.Catch();
  client::Election election(ctx.client(), f.name);
  const Format format = ctx.format();
  auto observer = election.Observe([format](const std::optional<pb::KeyValue>& leader) {
    if (leader) Emit(SimpleLeader(*leader, format));
  });
  signals.WaitUntil([&] { return signals.received() > 0; });
  return kExitOk;
}

int RunElect(Context& ctx, const ElectFlags& f, bool proposal_given) {
  if (f.ttl <= 0) return UsageError("--ttl must be a positive number of seconds");
  if (f.listen) {
    if (proposal_given) return UsageError("elect -l takes NAME only");
    return RunObserve(ctx, f);
  }
  if (!proposal_given) return UsageError("elect needs NAME PROPOSAL (or -l NAME to observe)");
  Signals& signals = ctx.signals();
  signals.Catch();
  Contender contender(ctx.client(), signals, client::ElectionOptions{}.prefix + f.name + "/",
                      f.ttl);
  if (Status s = contender.Join(f.proposal); !s.ok()) return Fail(s);
  auto turn = contender.WaitForTurn();
  if (!turn.ok()) return Fail("campaigning: " + Describe(turn.status()));
  if (!*turn) {
    (void)contender.Leave();
    return Fail("interrupted before this candidate was elected");
  }
  pb::KeyValue leader;
  leader.set_key(contender.key());
  leader.set_value(f.proposal);
  leader.set_create_revision(contender.create_revision());
  leader.set_lease(contender.lease());
  Emit(SimpleLeader(leader, ctx.format()));
  signals.WaitUntil([&] { return signals.received() > 0 || contender.lost(); });
  const bool lost = signals.received() == 0;
  const Status resigned = contender.Leave();
  if (lost) return Fail("leadership lost: the session lease expired");
  return resigned.ok() ? kExitOk : Fail("resigning: " + Describe(resigned));
}

}  // namespace

void AddRecipeCommands(CLI::App& app, Context& ctx) {
  auto lf = std::make_shared<LockFlags>();
  auto* lock =
      app.add_subcommand("lock",
                         "Acquires a named lock; runs COMMAND while holding it, or holds it until "
                         "SIGINT/SIGTERM");
  lock->add_option("name", lf->name, "NAME")->required();
  lock->add_option("--ttl", lf->ttl, "session lease TTL in seconds")->capture_default_str();
  // Parsing stops at the first word after NAME: the command and its own flags stay untouched.
  // Global flags go before `lock` (falling through to them would take the command's words).
  lock->prefix_command();
  lock->fallthrough(false);
  ctx.Register(lock, [&ctx, lf, lock] { return RunLock(ctx, *lf, lock->remaining()); });

  auto ef = std::make_shared<ElectFlags>();
  auto* elect = app.add_subcommand(
      "elect", "Campaigns as PROPOSAL and holds leadership until SIGINT/SIGTERM; -l observes");
  elect->add_option("name", ef->name, "NAME")->required();
  auto* proposal = elect->add_option("proposal", ef->proposal, "PROPOSAL");
  elect->add_flag("-l,--listen", ef->listen, "print each leader as it changes");
  elect->add_option("--ttl", ef->ttl, "session lease TTL in seconds")->capture_default_str();
  ctx.Register(elect, [&ctx, ef, proposal] { return RunElect(ctx, *ef, proposal->count() > 0); });
}

}  // namespace pharos::pharosctl
