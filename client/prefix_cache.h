// PrefixCache: a local copy of every key under a prefix, kept exact from a list and then a watch
// from the list's revision + 1 (DESIGN.md §6). The watch resumes across reconnects and member
// failures without losing or repeating a change; if its revision was compacted away meanwhile,
// the cache lists again and reconciles, reporting only what really changed. Discovery and
// ConfigWatcher are built on it.
//
// Its owner's lifetime brackets the callbacks: nothing is listed until Start, and no `on_change`
// runs once Stop has returned. An owner whose callback reads the owner (Discovery's on_change
// may call Instances()) therefore calls Start last in its constructor, once everything the
// callback reaches is in place, and Stop first in its destructor, while everything still is.
//
// Thread rules: Get/Snapshot/revision from any thread; `on_change` runs on the client's I/O
// thread, one call at a time, after the cache already holds the change. Stop and destroy from
// any thread except that callback.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "client/client.h"
#include "common/status.h"

namespace pharos::client {

class PrefixCache {
 public:
  // `value` is nullopt when the key was deleted.
  using ChangeCallback =
      std::function<void(const std::string& key, const std::optional<std::string>& value)>;

  // Lists nothing yet: Start does.
  PrefixCache(Client& client, std::string prefix, ChangeCallback on_change);
  // Stops, if Stop has not been called.
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // Lists the prefix, then watches it. `on_change` may run before Start returns. A second call,
  // or one after Stop, does nothing.
  void Start();
  // Ends the watch; waits for an `on_change` in progress, after which none runs. The cache stays
  // readable, frozen as it was. Idempotent.
  void Stop();

  // Waits until the first list has been loaded (or `timeout` passes).
  Status WaitReady(std::chrono::milliseconds timeout);
  std::optional<std::string> Get(const std::string& key) const;
  std::map<std::string, std::string> Snapshot() const;
  // The revision the cache reflects.
  int64_t revision() const;
  // Lists done so far (1 + re-lists after compaction), for tests.
  int lists() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace pharos::client
