// A contender in its own process, for the recipe tests: `lock` takes and releases a lock in a
// loop, appending "token start_ns end_ns" per hold to a file (steady clock: CLOCK_MONOTONIC, the
// same in every process); `campaign` wins an election, prints "leader" and then waits to be
// killed.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "client/election.h"
#include "client/lock.h"

namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr
        << "usage: recipe_child lock ENDPOINTS NAME ROUNDS FILE | campaign ENDPOINTS NAME VALUE\n";
    return 2;
  }
  const std::string mode = argv[1];
  pharos::client::ClientOptions options;
  options.endpoints = Split(argv[2]);
  pharos::client::Client client(options);
  if (mode == "lock" && argc == 6) {
    const int rounds = std::stoi(argv[4]);
    FILE* out = std::fopen(argv[5], "a");
    if (!out) return 1;
    pharos::client::Lock lock(client, argv[3], {.ttl_seconds = 5});
    for (int i = 0; i < rounds; ++i) {
      pharos::Status s = lock.Acquire(std::chrono::seconds(30));
      if (!s.ok()) {
        std::cerr << "acquire: " << s.ToString() << "\n";
        return 1;
      }
      const int64_t start = NowNs();
      // Hold it for a while, as a real critical section would: overlaps would show.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const int64_t end = NowNs();
      if (!lock.held()) {
        std::cerr << "lost the lock while holding it\n";
        return 1;
      }
      std::fprintf(out, "%lld %lld %lld\n", static_cast<long long>(lock.fencing_token()),
                   static_cast<long long>(start), static_cast<long long>(end));
      std::fflush(out);
      s = lock.Release();
      if (!s.ok()) {
        std::cerr << "release: " << s.ToString() << "\n";
        return 1;
      }
    }
    std::fclose(out);
    return 0;
  }
  if (mode == "campaign" && argc == 5) {
    pharos::client::Election election(client, argv[3], {.ttl_seconds = 2});
    pharos::Status s = election.Campaign(argv[4], std::chrono::seconds(30));
    if (!s.ok()) {
      std::cerr << "campaign: " << s.ToString() << "\n";
      return 1;
    }
    std::cout << "leader" << std::endl;
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // until killed
  }
  std::cerr << "bad arguments\n";
  return 2;
}
