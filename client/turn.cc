#include "client/turn.h"

#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "client/kv.h"
#include "client/watch.h"

namespace pharos::client {

std::string ContenderKey(const std::string& prefix, int64_t lease) {
  char hex[32];
  std::snprintf(hex, sizeof(hex), "%llx", static_cast<unsigned long long>(lease));
  return prefix + hex;
}

Status WaitForTurn(Client& client, const std::string& prefix, const std::string& my_key,
                   int64_t my_revision, std::chrono::steady_clock::time_point deadline) {
  KV kv(client);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status(StatusCode::kDeadlineExceeded, "gave up waiting");
    auto all = kv.Get(prefix, {.prefix = true, .keys_only = true}, {.timeout = left});
    if (!all.ok()) return all.status();
    const pb::KeyValue* predecessor = nullptr;
    bool mine_exists = false;
    for (const auto& k : all->kvs()) {
      if (k.key() == my_key) mine_exists = true;
      if (k.create_revision() < my_revision &&
          (!predecessor || k.create_revision() > predecessor->create_revision())) {
        predecessor = &k;
      }
    }
    if (!mine_exists) return Status::NotFound(my_key + " is gone (its lease expired)");
    if (!predecessor) return Status::Ok();

    std::mutex mu;
    std::condition_variable cv;
    bool deleted = false;
    Status failed = Status::Ok();
    Watcher watch(
        client, predecessor->key(), {.start_revision = all->header().revision() + 1},
        [&](const std::vector<pb::Event>& events, int64_t) {
          for (const auto& e : events) {
            if (e.type() != pb::Event::DELETE) continue;
            std::lock_guard lock(mu);
            deleted = true;
            cv.notify_all();
          }
        },
        [&](const WatchError& e) {
          std::lock_guard lock(mu);
          failed = e.status;  // compacted past our start: look again from scratch
          cv.notify_all();
        });
    std::unique_lock lock(mu);
    if (!cv.wait_until(lock, deadline, [&] { return deleted || !failed.ok(); })) {
      return Status(StatusCode::kDeadlineExceeded, "gave up waiting for " + predecessor->key());
    }
    // Deleted (or history compacted): look again — the next-older key may still be there.
  }
}

}  // namespace pharos::client
