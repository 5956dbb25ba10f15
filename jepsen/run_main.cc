// pharos-jepsen: one fault-injection run. It starts a real cluster on 127.0.0.11.., drives a
// workload through the SDK while a nemesis strikes and heals on a schedule, heals everything,
// waits a quiet period, checks that every member still routes a write, checks the history with
// pharos-check, and writes a folder: history.jsonl, results.json, summary.txt, report.html.
// SIGINT/SIGTERM end the run early; members are stopped and firewall rules removed either way.
//   pharos-jepsen --workload register --nemesis mix --time 60 --nodes 3 --seed 7
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "client/client.h"
#include "client/kv.h"
#include "jepsen/hash_agreement.h"
#include "jepsen/lock_workload.h"
#include "jepsen/nemesis.h"
#include "jepsen/node_set.h"
#include "jepsen/register_workload.h"
#include "jepsen/registry_workload.h"
#include "jepsen/report.h"
#include "jepsen/watch_workload.h"

namespace {

using namespace pharos;
using namespace pharos::jepsen;

std::atomic<bool> g_interrupted{false};

std::string SelfDir() {
  return std::filesystem::canonical("/proc/self/exe").parent_path().string();
}

bool SleepUnlessInterrupted(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (g_interrupted) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

struct WriteAttempts {
  std::optional<int64_t> revision;  // of the write that was answered OK
  int attempts = 0;
  std::string last_failure;
};

// A member has recovered when it routes a write. One attempt is not enough to say it has not:
// a healthy cluster may still change leaders (a leader starved of CPU on a loaded machine), and a
// write in flight then is answered OUTCOME_UNKNOWN. Retrying the same put is harmless here.
WriteAttempts WriteThrough(const std::string& endpoint, const std::string& key,
                           std::chrono::seconds within) {
  client::ClientOptions o;
  o.endpoints = {endpoint};
  o.timeout = std::chrono::seconds(5);
  client::Client c(o);
  WriteAttempts out;
  const auto deadline = std::chrono::steady_clock::now() + within;
  do {
    ++out.attempts;
    auto r = client::KV(c).Put(key, "ok");
    if (r.ok()) {
      out.revision = r->header().revision();
      return out;
    }
    out.last_failure = r.status().ToString();
  } while (std::chrono::steady_clock::now() < deadline &&
           SleepUnlessInterrupted(std::chrono::milliseconds(200)));
  return out;
}

// A run that does not count says why in its notes; the members' own warnings say what they saw.
// They are printed because CI keeps the output and not the run's folder.
void PrintMemberWarnings(const std::string& nodes_dir, int members, size_t per_member) {
  for (int i = 0; i < members; ++i) {
    std::ifstream log(nodes_dir + "/n" + std::to_string(i + 1) + "/pharosd.log");
    std::deque<std::string> last;
    for (std::string line; std::getline(log, line);) {
      const bool wanted = line.find(" warning ") != std::string::npos ||
                          line.find(" error ") != std::string::npos ||
                          line.find(" leader") != std::string::npos ||
                          line.find(" campaigns: ") != std::string::npos;
      // Slow requests come in crowds after any stall; the stall itself has a line of its own.
      if (!wanted || line.find("slow request: ") != std::string::npos) continue;
      last.push_back(line.substr(0, 300));
      if (last.size() > per_member) last.pop_front();
    }
    std::cout << "n" << i + 1 << ": its last " << last.size()
              << " warnings and leadership changes:\n";
    for (const auto& l : last) std::cout << "  " << l << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pharos-jepsen: a fault-injection run against a local pharosd cluster"};
  std::string workload = "register", nemesis_kind = "mix", out, pharosd, checker;
  int seconds = 60, nodes = 3, processes = 10, keys = 4, interval_s = 6, fault_s = 3, quiet_s = 5;
  int min_ok_per_key = 200, port = 2379, lease_ttl_s = 3, grace_s = 0;
  uint64_t seed = 1;
  app.add_option("--workload", workload,
                 "register (read / write / cas per key, checked for linearizability), lock "
                 "(holds never overlap, tokens rise), registry (discovery views against the "
                 "instances' committed history: nothing lost, nothing stale beyond TTL + grace) "
                 "or watch (every watcher sees every write, in order)")
      ->check(CLI::IsMember({"register", "lock", "registry", "watch"}))
      ->capture_default_str();
  app.add_option("--nemesis", nemesis_kind,
                 "none, kill, kill-leader, pause, partition, membership, disk, mix")
      ->check(CLI::IsMember(
          {"none", "kill", "kill-leader", "pause", "partition", "membership", "disk", "mix"}))
      ->capture_default_str();
  app.add_option("--time", seconds, "seconds of workload")->capture_default_str();
  app.add_option("--nodes", nodes, "3 or 5")->check(CLI::IsMember({3, 5}))->capture_default_str();
  app.add_option("--seed", seed, "drives the workload and the nemesis")->capture_default_str();
  app.add_option("--processes", processes, "concurrent clients")->capture_default_str();
  app.add_option("--keys", keys, "registers")->capture_default_str();
  app.add_option("--interval", interval_s, "seconds between faults")->capture_default_str();
  app.add_option("--fault-duration", fault_s, "seconds a fault lasts")->capture_default_str();
  app.add_option("--quiet", quiet_s, "seconds of quiet after the last heal")->capture_default_str();
  app.add_option("--lease-ttl", lease_ttl_s, "registry: the instances' lease TTL, seconds")
      ->capture_default_str();
  app.add_option("--grace", grace_s,
                 "registry: seconds a discovery view may lag the committed history "
                 "(default: fault duration + lease TTL + 2)");
  app.add_option("--min-ok-per-key", min_ok_per_key,
                 "ok operations each checked key needs (a register; the watched prefix; the "
                 "lock; the service's registrations, deregistrations and expiries) or the run "
                 "does not count")
      ->capture_default_str();
  app.add_option("--port", port,
                 "client port on every member's address (peer +1, metrics +2); 0: free ports")
      ->capture_default_str();
  app.add_option("--out", out, "run folder (default: jepsen-runs/<workload>-<nemesis>-<seed>)");
  app.add_option("--pharosd", pharosd, "pharosd binary (default: next to this one)");
  app.add_option("--pharos-check", checker, "pharos-check binary (default: next to this one)");
  CLI11_PARSE(app, argc, argv);
  if (fault_s <= 0 || interval_s <= fault_s) {
    std::cerr << "--interval must be longer than --fault-duration, which must be positive\n";
    return 2;
  }
  // The grace covers a fault that hides the change (a partitioned or paused watch member), then
  // a new leader re-extending every lease by its TTL, then two seconds to elect and deliver.
  if (grace_s <= 0) grace_s = fault_s + lease_ttl_s + 2;
  if (pharosd.empty()) pharosd = SelfDir() + "/../registry/pharosd";
  if (checker.empty()) checker = SelfDir() + "/pharos-check";
  if (out.empty()) {
    out = "jepsen-runs/" + workload + "-" + nemesis_kind + "-" + std::to_string(seed);
  }
  std::filesystem::remove_all(out);
  std::filesystem::create_directories(out);

  // Signals are taken on a thread of their own so that an interrupted run still cleans up.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread([stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    g_interrupted = true;
  }).detach();

  RunSummary run{workload, nemesis_kind, nodes, seed, 0, "", false, {}};
  HistoryRecorder history(out + "/history.jsonl");
  std::vector<Fault> faults;
  bool writes_after_quiet = true;
  HashAgreement hashes;
  bool enough = false;
  Verdict verdict;
  {
    NodeSet cluster({pharosd, out + "/nodes", nodes, static_cast<uint16_t>(port)});
    cluster.StartAll();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!cluster.Leader() && std::chrono::steady_clock::now() < deadline &&
           SleepUnlessInterrupted(std::chrono::milliseconds(100))) {
    }
    if (!cluster.Leader()) {
      std::cerr << "no leader came up; see " << out << "/nodes/*/pharosd.log\n";
      return 1;
    }
    Nemesis nemesis(nemesis_kind, cluster, history, seed);
    if (!nemesis.status().ok()) run.notes.push_back(nemesis.status().message());
    std::unique_ptr<Workload> work;
    if (workload == "register") {
      work = std::make_unique<RegisterWorkload>(
          RegisterWorkloadOptions{cluster.clients(), processes, keys, seed,
                                  std::chrono::milliseconds(2000), checker, out + "/check.json"},
          history);
    } else if (workload == "registry") {
      work = std::make_unique<RegistryWorkload>(
          RegistryWorkloadOptions{.endpoints = cluster.clients(),
                                  .instances = processes,
                                  .seed = seed,
                                  .ttl_seconds = lease_ttl_s,
                                  .grace = std::chrono::seconds(grace_s)},
          history);
    } else if (workload == "lock") {
      work = std::make_unique<LockWorkload>(cluster.clients(), processes, seed, history);
    } else {
      work = std::make_unique<WatchWorkload>(cluster.clients(), processes, 3, history);
    }
    work->Start();
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end && !g_interrupted) {
      if (!SleepUnlessInterrupted(std::chrono::seconds(interval_s - fault_s))) break;
      if (std::chrono::steady_clock::now() + std::chrono::seconds(fault_s) > end) break;
      nemesis.Strike();
      SleepUnlessInterrupted(std::chrono::seconds(fault_s));
      nemesis.Heal();
    }
    nemesis.Heal();
    // The quiet period: every fault healed, the workload still running; the cluster must recover.
    SleepUnlessInterrupted(std::chrono::seconds(quiet_s));
    work->Stop();
    run.seconds = history.Now() / 1e9;
    enough = work->Enough(min_ok_per_key, &run.notes);
    faults = nemesis.faults();
    // Every member must route a write after the quiet period.
    int64_t last_revision = 0;
    for (int i = 0; i < cluster.size(); ++i) {
      const std::string member = "member n" + std::to_string(i + 1);
      const auto routed = WriteThrough(
          cluster.client(i), "/jepsen/after-quiet/" + std::to_string(i), std::chrono::seconds(15));
      if (!routed.revision) {
        writes_after_quiet = false;
        run.notes.push_back(member + " did not take a write in 15 s after the quiet period (" +
                            std::to_string(routed.attempts) +
                            " attempts; last: " + routed.last_failure + ")");
        continue;
      }
      last_revision = std::max(last_revision, *routed.revision);
      if (routed.attempts > 1) {
        run.notes.push_back(member + " took a write after the quiet period at attempt " +
                            std::to_string(routed.attempts) +
                            " (before it: " + routed.last_failure + ")");
      }
    }
    // And every member must hold the same state at the last of those revisions.
    std::vector<std::string> members;
    for (int i = 0; i < cluster.size(); ++i) members.push_back(cluster.client(i));
    hashes = CheckHashAgreement(members, last_revision);
    verdict = work->Check();  // the cluster is still up: some checks read its final state
  }                           // members stopped, rules removed

  if (hashes.answered && !hashes.agree) {
    verdict.valid = false;
    verdict.no_verdict = NoVerdict::kNone;  // members that diverge are an anomaly, checked or not
    verdict.summary = "members diverge: " + verdict.summary;
    verdict.problems.push_back("HashKV differs between members: " + hashes.detail);
  }
  run.verdict = verdict.summary;
  run.notes.insert(run.notes.end(), verdict.problems.begin(), verdict.problems.end());
  run.counts = enough && writes_after_quiet && hashes.answered && !g_interrupted;
  if (!hashes.answered) {
    run.notes.push_back("members could not be compared by HashKV: " + hashes.detail);
  } else if (hashes.agree) {
    run.notes.push_back("every member holds the same state (HashKV): " + hashes.detail);
  }
  for (const auto& f : faults) {
    if (f.end_ns == 0) {
      run.counts = false;
      run.notes.push_back("fault not healed: " + f.name);
    }
    if (!f.applied) {
      run.counts = false;
      run.notes.push_back("fault not applied: " + f.name);
    }
  }
  if (nemesis_kind != "none" && faults.empty()) {
    run.counts = false;
    run.notes.push_back("no fault was applied");
  }
  const auto ops = history.completed();
  std::ofstream(out + "/summary.txt") << SummaryText(run, ops, faults);
  std::ofstream(out + "/report.html") << ReportHtml(run, ops, faults);
  std::cout << SummaryText(run, ops, faults) << "report: " << out << "/report.html\n";
  if (!run.counts) PrintMemberWarnings(out + "/nodes", nodes, 15);
  std::ofstream(out + "/results.json")
      << "{\"workload\":\"" << workload << "\",\"nemesis\":\"" << nemesis_kind
      << "\",\"valid\":" << ValidJson(verdict) << ",\"counts\":" << (run.counts ? "true" : "false")
      << ",\"check\":" << (verdict.json.empty() ? "null" : verdict.json) << "}\n";
  return RunExitCode(verdict, run.counts);
}
