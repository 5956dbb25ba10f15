// After a run, every member must hold the same key-value state: each is asked for its HashKV at
// one revision they have all reached, and the answers must agree (DESIGN.md §10: a fault-injection
// run proves it ran and that the replicas did not drift apart, not only that clients saw nothing
// wrong). Members still catching up, or compacting, are asked again until a deadline.
//
// Thread rules: a plain function; it makes its own clients.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace pharos::jepsen {

struct HashAgreement {
  bool answered = false;  // every member gave a hash at the revision, with one compact revision
  bool agree = false;     // ... and the same hash
  std::string detail;     // what each member said, for the report
};

HashAgreement CheckHashAgreement(const std::vector<std::string>& member_clients, int64_t revision,
                                 std::chrono::milliseconds deadline = std::chrono::seconds(15));

}  // namespace pharos::jepsen
