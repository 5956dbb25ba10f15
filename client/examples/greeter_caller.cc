// greeter_caller: finds the greeter instances through Pharos and calls them — a Discovery cache
// feeding a balancer, a circuit breaker per instance (an open one is skipped), and a token
// bucket limiting the call rate. Each line of output is one call: who answered, or why not.
//   greeter_caller --endpoints 127.0.0.11:2379 --calls 50 --rate 10 --balancer swrr
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "client/balancer.h"
#include "client/client.h"
#include "client/discovery.h"
#include "client/instance_breakers.h"
#include "client/token_bucket.h"

namespace {

using pharos::Status;
using pharos::StatusCode;
using pharos::client::ServiceInstance;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

// One greeting over a fresh TCP connection, within `timeout_ms`.
pharos::Result<std::string> Greet(const ServiceInstance& instance, const std::string& name,
                                  int timeout_ms) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(instance.port);
  if (inet_pton(AF_INET, instance.address.c_str(), &addr.sin_addr) != 1) {
    close(fd);
    return Status::InvalidArgument("bad address " + instance.address);
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return Status::Unavailable("connection refused by " + instance.Endpoint());
  }
  const std::string line = name + "\n";
  std::string reply;
  bool sent = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  while (sent && reply.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) {
      close(fd);
      return Status(StatusCode::kDeadlineExceeded, "no answer from " + instance.Endpoint());
    }
    char buf[512];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (reply.find('\n') == std::string::npos) {
    return Status::Unavailable(instance.Endpoint() + " hung up");
  }
  return reply.substr(0, reply.find('\n'));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"greeter_caller: discovers the greeters and calls them"};
  std::string endpoints = "127.0.0.1:2379", balancer_name = "swrr";
  int calls = 20, timeout_ms = 500;
  double rate = 10;
  app.add_option("--endpoints", endpoints, "Pharos client endpoints")->capture_default_str();
  app.add_option("--calls", calls, "calls to make (0: until interrupted)")->capture_default_str();
  app.add_option("--rate", rate, "calls per second (token bucket)")->capture_default_str();
  app.add_option("--timeout-ms", timeout_ms, "per-call timeout")->capture_default_str();
  app.add_option("--balancer", balancer_name, "random, rr, weighted, swrr, hash or p2c")
      ->check(CLI::IsMember({"random", "rr", "weighted", "swrr", "hash", "p2c"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using Kind = pharos::client::BalancerKind;
  const std::map<std::string, Kind> kinds = {
      {"random", Kind::kRandom},           {"rr", Kind::kRoundRobin},
      {"weighted", Kind::kWeightedRandom}, {"swrr", Kind::kSmoothWeightedRoundRobin},
      {"hash", Kind::kConsistentHash},     {"p2c", Kind::kPowerOfTwoChoices}};

  pharos::client::ClientOptions options;
  options.endpoints = Split(endpoints);
  pharos::client::Client client(options);
  auto balancer = pharos::client::MakeBalancer(kinds.at(balancer_name));
  // Small thresholds so that a dead instance is cut off within a few calls (Hystrix's defaults
  // are for heavier traffic).
  pharos::client::InstanceBreakers breakers(
      {.timeout = std::chrono::milliseconds(timeout_ms),
       .request_volume_threshold = 3,
       .sleep_window = std::chrono::seconds(2)},
      pharos::SystemClock::Instance(),
      [](const std::string& id, pharos::client::CircuitState from,
         pharos::client::CircuitState to) {
        std::cout << "breaker " << id << ": " << CircuitStateName(from) << " -> "
                  << CircuitStateName(to) << std::endl;
      });
  balancer->SetAvailability(
      [&breakers](const ServiceInstance& i) { return breakers.Available(i.id); });
  // The balancer and the breakers follow the live instances. on_change may read the Discovery
  // from its first call, which can come before the constructor returns.
  pharos::client::Discovery discovery(
      client, "greeter", {.on_change = [&](const pharos::client::InstanceChange& change) {
        static const char* kNames[] = {"added", "updated", "removed"};
        std::cout << "discovery: " << change.instance.id << " "
                  << kNames[static_cast<int>(change.kind)] << std::endl;
        const std::vector<ServiceInstance> live = discovery.Instances();
        balancer->Update(live);
        std::vector<std::string> ids;
        for (const ServiceInstance& instance : live) ids.push_back(instance.id);
        breakers.Retain(ids);
      }});
  if (Status s = discovery.WaitReady(std::chrono::seconds(5)); !s.ok()) {
    std::cerr << "discovery: " << s.ToString() << "\n";
    return 1;
  }
  // Ready comes before the first list's on_change calls are through; do not pick ahead of them.
  balancer->Update(discovery.Instances());
  pharos::client::TokenBucket limiter(rate, /*burst=*/1);

  int failures = 0;
  for (int i = 0; calls == 0 || i < calls; ++i) {
    (void)limiter.Wait();
    auto instance = balancer->Pick({.hash_key = "call-" + std::to_string(i)});
    if (!instance) {
      std::cout << "call " << i << ": no instance available" << std::endl;
      ++failures;
      continue;
    }
    auto permit = breakers.For(instance->id)->TryAcquire();
    if (!permit.ok()) {
      std::cout << "call " << i << ": " << instance->id << " refused by its breaker" << std::endl;
      ++failures;
      continue;
    }
    balancer->OnStart(instance->id);
    auto reply = Greet(*instance, "caller", timeout_ms);
    balancer->OnFinish(instance->id);
    if (reply.ok()) {
      permit->Success();
      std::cout << "call " << i << ": " << *reply << std::endl;
    } else {
      permit->Failure();
      ++failures;
      std::cout << "call " << i << ": " << instance->id << " failed: " << reply.status().message()
                << std::endl;
    }
  }
  std::cout << "done: " << calls - failures << " of " << calls << " calls answered" << std::endl;
  return 0;
}
