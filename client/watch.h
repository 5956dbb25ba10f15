// Watcher: a watch on a key, a range or a prefix that outlives connections and members. It
// tracks the last revision it delivered; when its stream breaks (a member died, a connection
// dropped) it reopens on another member from that revision + 1, so the caller sees every event
// exactly once, in revision order, across failovers (the server sends each revision's events
// in one message, so a revision is never half delivered). A start revision that has been
// compacted away is reported through `on_error` with the compact revision, and the watch ends.
// A progress notification (the server's word that it has sent everything up to a revision)
// advances the resume point too, so an idle watch need not resume from a compacted revision.
// Destroying the Watcher also cancels its watch on the server (Client::Stream::Close).
//
// Thread rules: callbacks run on the client's I/O thread, one at a time. Destroy the Watcher
// from any thread except its own callbacks; after the destructor returns no callback runs.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/status.h"
#include "proto/pharos.pb.h"

namespace pharos::client {

struct WatchOptions {
  std::string range_end;  // [key, range_end)
  bool prefix = false;
  bool from_key = false;
  int64_t start_revision = 0;  // 0: from the revision after the watch is created
  bool prev_kv = false;
  // Open the first stream on this member (any member serves watches); later ones go wherever
  // the client goes.
  std::string endpoint;
};

struct WatchError {
  Status status;
  int64_t compact_revision = 0;  // with COMPACTED: the oldest revision still available
};

class Watcher {
 public:
  // `on_events`: the events of one revision and that revision.
  using EventsCallback =
      std::function<void(const std::vector<pb::Event>& events, int64_t revision)>;
  using ErrorCallback = std::function<void(const WatchError& error)>;

  Watcher(Client& client, std::string key, WatchOptions options, EventsCallback on_events,
          ErrorCallback on_error);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // The last revision delivered (or known to hold nothing for us); 0 before the watch started.
  int64_t last_revision() const;
  // The server has confirmed the first stream: events from here on will arrive.
  bool created() const;
  // Streams opened so far (1 + reconnects), for tests and metrics.
  int streams_opened() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace pharos::client
