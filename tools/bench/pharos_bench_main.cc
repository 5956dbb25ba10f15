// pharos-bench: load against a Pharos cluster through the client protocol. This first cut has
// the `put` and `get` workloads with N clients (each its own connection, one request at a time),
// and reports throughput and a latency histogram (p50, p90, p99, p99.9, max); --json for scripts.
//   pharos-bench --endpoints H:P,... --workload put --clients 1 --total 2000 --value-size 256
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "client/sync_client.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p / 100.0 * sorted.size()));
  return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pharos-bench: load and latency against a Pharos cluster"};
  std::string endpoints = "127.0.0.1:2379", workload = "put";
  int clients = 1, total = 1000, value_size = 256, keys = 100000;
  bool json = false, serializable = false;
  app.add_option("--endpoints", endpoints)->capture_default_str();
  app.add_option("--workload", workload)
      ->check(CLI::IsMember({"put", "get"}))
      ->capture_default_str();
  app.add_option("--clients", clients)->capture_default_str();
  app.add_option("--total", total, "operations in all")->capture_default_str();
  app.add_option("--value-size", value_size)->capture_default_str();
  app.add_option("--keys", keys, "key space")->capture_default_str();
  app.add_flag("--serializable", serializable, "get: serializable reads");
  app.add_flag("--json", json);
  CLI11_PARSE(app, argc, argv);

  const auto eps = Split(endpoints);
  const std::string value(static_cast<size_t>(value_size), 'v');
  std::atomic<int> next{0}, errors{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      pharos::client::SyncClient client(eps);
      std::vector<double> mine;
      for (int i = next++; i < total; i = next++) {
        pharos::pb::Envelope req;
        const std::string key = "bench/" + std::to_string((i * 7919 + c) % keys);
        if (workload == "put") {
          req.mutable_put()->set_key(key);
          req.mutable_put()->set_value(value);
        } else {
          req.mutable_range()->set_key(key);
          req.mutable_range()->set_serializable(serializable);
        }
        const auto t0 = Clock::now();
        auto r = client.Call(req);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!r.ok() || !pharos::client::StatusOf(*r).ok()) {
          ++errors;
          continue;
        }
        mine.push_back(ms);
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double ops = latencies_ms.size() / secs;
  if (json) {
    std::printf(
        "{\"workload\":\"%s\",\"clients\":%d,\"ok\":%zu,\"errors\":%d,\"seconds\":%.3f,"
        "\"ops_per_second\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
        "\"p999_ms\":%.3f,\"max_ms\":%.3f}\n",
        workload.c_str(), clients, latencies_ms.size(), errors.load(), secs, ops,
        Percentile(latencies_ms, 50), Percentile(latencies_ms, 90), Percentile(latencies_ms, 99),
        Percentile(latencies_ms, 99.9), latencies_ms.empty() ? 0 : latencies_ms.back());
  } else {
    std::printf("%s: %zu ok, %d errors in %.2f s = %.0f ops/s\n", workload.c_str(),
                latencies_ms.size(), errors.load(), secs, ops);
    std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
                Percentile(latencies_ms, 50), Percentile(latencies_ms, 90),
                Percentile(latencies_ms, 99), Percentile(latencies_ms, 99.9),
                latencies_ms.empty() ? 0 : latencies_ms.back());
  }
  return errors.load() == 0 ? 0 : 1;
}
