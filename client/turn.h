// The waiting half of etcd's concurrency recipes (DESIGN.md §6): contenders each hold a key
// under one prefix, ordered by create revision; a contender's turn comes when every key created
// before its own is gone. Each contender waits only for the deletion of its predecessor (the
// key with the next-lower create revision), so a release wakes one waiter, not the herd.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "client/client.h"
#include "common/status.h"

namespace pharos::client {

// A contender's key: the prefix and its session lease id in hex, as etcd's recipes name them.
std::string ContenderKey(const std::string& prefix, int64_t lease);

// Blocks until the key `my_key`, created at `my_revision`, is the oldest under `prefix`. Fails
// with DEADLINE_EXCEEDED at `deadline`, or NOT_FOUND if `my_key` itself disappears (its lease
// died). Call from a thread that is not the client's.
Status WaitForTurn(Client& client, const std::string& prefix, const std::string& my_key,
                   int64_t my_revision, std::chrono::steady_clock::time_point deadline);

}  // namespace pharos::client
