// pharos-bench: the same load against Pharos (through the SDK) or etcd (through its gRPC API),
// and the physical floor of this machine. Workloads: put, get, mixed, txn, watch, lease,
// registry, failover; probes: fsync-probe (fdatasync of an append, in --dir) and rtt-probe (TCP
// round trip between two loopback addresses). Prints throughput, a latency histogram (p50, p90,
// p99, p99.9, max) and errors, or one JSON object with --json. A run during which the leader or its
// term changed is reported invalid (exit 3). tools/bench/compare.sh drives it side by side.
//   pharos-bench --target pharos --endpoints H:P,... --workload put --clients 64 --duration 10
//   pharos-bench --target etcd --endpoints H:P,... --workload get --clients 64 --total 100000
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/bench/backend.h"
#include "tools/bench/floor.h"
#include "tools/bench/workload.h"

namespace {

using pharos::bench::Histogram;
using pharos::bench::Report;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double Ms(int64_t nanos) { return nanos / 1e6; }

int Print(const Report& r, bool json) {
  const Histogram& h = r.latency;
  if (json) {
    nlohmann::ordered_json j;
    j["workload"] = r.workload;
    j["target"] = r.target;
    j["clients"] = r.clients;
    j["connections"] = r.connections;
    j["ok"] = r.ok;
    j["errors"] = r.errors;
    j["first_error"] = r.first_error;
    j["note"] = r.note;
    j["seconds"] = r.seconds;
    j["ops_per_second"] = r.ops_per_second();
    j["p50_ms"] = Ms(h.Percentile(50));
    j["p90_ms"] = Ms(h.Percentile(90));
    j["p99_ms"] = Ms(h.Percentile(99));
    j["p999_ms"] = Ms(h.Percentile(99.9));
    j["max_ms"] = Ms(h.max_nanos());
    j["mean_ms"] = h.mean_nanos() / 1e6;
    j["valid"] = r.valid;
    j["invalid_reason"] = r.invalid_reason;
    j["term_before"] = r.term_before;
    j["term_after"] = r.term_after;
    for (const auto& [k, v] : r.extra) j[k] = v;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s on %s: %" PRId64 " ok, %" PRId64
                " errors in %.2f s = %.0f ops/s (%d clients, %d connections)\n",
                r.workload.c_str(), r.target.c_str(), r.ok, r.errors, r.seconds, r.ops_per_second(),
                r.clients, r.connections);
    std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
                Ms(h.Percentile(50)), Ms(h.Percentile(90)), Ms(h.Percentile(99)),
                Ms(h.Percentile(99.9)), Ms(h.max_nanos()));
    for (const auto& [k, v] : r.extra) std::printf("%s: %.3f\n", k.c_str(), v);
    if (!r.first_error.empty()) std::printf("first error: %s\n", r.first_error.c_str());
    if (!r.note.empty()) std::printf("note: %s\n", r.note.c_str());
    if (!r.valid) std::printf("INVALID RUN: %s\n", r.invalid_reason.c_str());
  }
  if (!r.valid) return 3;
  return r.errors == 0 ? 0 : 1;
}

Report ProbeReport(const std::string& name, Histogram h) {
  Report r;
  r.workload = name;
  r.target = "machine";
  r.clients = 1;
  r.connections = 1;
  r.ok = h.count();
  r.seconds = h.mean_nanos() * h.count() / 1e9;
  r.latency = h;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pharos-bench: the same load against Pharos or etcd, and this machine's floor"};
  pharos::bench::WorkloadOptions o;
  pharos::bench::BackendOptions bo;
  std::string endpoints = "127.0.0.1:2379", pids, dir = ".", server_host = "127.0.0.1",
              client_host = "127.0.0.1";
  int connections = 0, timeout_ms = 5000;
  bool json = false;
  app.add_option("--target", o.target, "pharos or etcd")
      ->check(CLI::IsMember({"pharos", "etcd"}))
      ->capture_default_str();
  app.add_option("--endpoints", endpoints, "host:port,... (client addresses)")
      ->capture_default_str();
  app.add_option("--workload", o.workload)
      ->check(CLI::IsMember({"put", "get", "mixed", "txn", "watch", "lease", "registry", "failover",
                             "fsync-probe", "rtt-probe"}))
      ->capture_default_str();
  app.add_option("--clients", o.clients,
                 "clients, each with one operation in flight (a thread each with --rate)")
      ->capture_default_str();
  app.add_option("--connections", connections, "connections they share (default: --clients)");
  app.add_option("--rate", o.rate,
                 "operations (registry: changes) per second in all; 0: as fast as possible")
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds; 0: run --total operations")
      ->capture_default_str();
  app.add_option("--total", o.total,
                 "operations in all (keepalives for lease, puts for watch, changes for registry)")
      ->capture_default_str();
  app.add_option("--value-size", o.value_size)->capture_default_str();
  app.add_option("--keys", o.keys, "key space (txn: keys swapped)")->capture_default_str();
  app.add_option("--prefix", o.prefix)->capture_default_str();
  app.add_flag("--serializable", o.serializable, "get/mixed: serializable reads");
  app.add_option("--read-ratio", o.read_ratio, "mixed: share of reads")->capture_default_str();
  app.add_option("--watchers", o.watchers, "watch: watchers on the prefix")->capture_default_str();
  app.add_option("--leases", o.leases, "lease: leases kept alive")->capture_default_str();
  app.add_option("--instances", o.instances, "registry: instances registering and deregistering")
      ->capture_default_str();
  app.add_option("--discoverers", o.discoverers, "registry: discovery clients watching them")
      ->capture_default_str();
  app.add_option("--instance-ttl", o.instance_ttl, "registry: each instance's lease TTL, seconds")
      ->capture_default_str();
  app.add_option("--service", o.service, "registry: service name (default: a new one per run)");
  app.add_option("--lease-ttl", o.lease_ttl, "lease: TTL in seconds")->capture_default_str();
  app.add_option("--pids", pids, "failover: the members' pids, in --endpoints order");
  app.add_option("--timeout-ms", timeout_ms, "per-request deadline (failover: per attempt)")
      ->capture_default_str();
  app.add_option("--dir", dir, "fsync-probe: a directory on the data file system")
      ->capture_default_str();
  app.add_option("--server-host", server_host, "rtt-probe: listening address")
      ->capture_default_str();
  app.add_option("--client-host", client_host, "rtt-probe: connecting address")
      ->capture_default_str();
  app.add_flag("--json", json, "one JSON object on stdout");
  CLI11_PARSE(app, argc, argv);

  if (o.workload == "fsync-probe" || o.workload == "rtt-probe") {
    const int count = static_cast<int>(o.total);
    auto h = o.workload == "fsync-probe"
                 ? pharos::bench::ProbeFdatasync(dir, count, o.value_size)
                 : pharos::bench::ProbeLoopback(server_host, client_host, count);
    if (!h.ok()) {
      std::fprintf(stderr, "pharos-bench: %s\n", h.status().ToString().c_str());
      return 1;
    }
    return Print(ProbeReport(o.workload, *h), json);
  }

  for (const auto& p : Split(pids)) o.pids.push_back(std::stoi(p));
  o.progress = !json && isatty(STDERR_FILENO);
  bo.endpoints = Split(endpoints);
  bo.connections = connections > 0 ? connections : o.clients;
  bo.timeout = std::chrono::milliseconds(timeout_ms);
  o.attempt_timeout = bo.timeout;
  auto backend = pharos::bench::MakeBackend(o.target, bo);
  if (!backend.ok()) {
    std::fprintf(stderr, "pharos-bench: %s\n", backend.status().ToString().c_str());
    return 1;
  }
  auto report = pharos::bench::RunWorkload(**backend, o);
  if (!report.ok()) {
    std::fprintf(stderr, "pharos-bench: %s\n", report.status().ToString().c_str());
    return 1;
  }
  return Print(*report, json);
}
