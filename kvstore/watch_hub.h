// WatchHub: the watchers of one node (DESIGN.md §4). Each watcher covers a key, a range or a
// prefix from a start revision; it receives the events of every revision from there on, in
// revision order, with no gap and no duplicate, all events of one revision in one response.
// Live revisions are queued as they are applied; a watcher that starts in the past, or whose
// queue fills up because its reader is slow, is fed from storage (MvccStore::History) until it
// has caught up — so a slow watcher costs bounded memory and is never dropped. A watcher whose
// next revision gets compacted away is cancelled with the compact revision, so its client can
// re-list.
//
// Thread rules: not thread-safe; the apply thread owns it together with the MvccStore.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "kvstore/mvcc_store.h"
#include "proto/pharos.pb.h"

namespace pharos::kv {

class WatchHub {
 public:
  struct Options {
    // Responses queued per watcher before it falls back to catching up from storage.
    size_t max_queued = 256;
    // Revisions read from storage per catch-up step.
    size_t catch_up_revisions = 128;
  };
  // Told when a watcher has responses waiting (so its connection can Poll).
  using ReadyCallback = std::function<void(int64_t watch_id)>;

  WatchHub(const MvccStore* store, Options options, ReadyCallback ready);

  // Starts a watcher; returns its id. COMPACTED when start_revision is at or below the
  // compacted revision (the error message carries that revision; see compact_revision()).
  Result<int64_t> Watch(const pb::WatchCreateRequest& req);
  void Cancel(int64_t id);
  // After each applied revision, with all its events.
  void OnApply(int64_t revision, const std::vector<pb::Event>& events);
  // Up to `max` responses for the watcher, catching up from storage when it lags. A response
  // with canceled=true ends the watcher (compacted under it).
  std::vector<pb::WatchResponse> Poll(int64_t id, size_t max);
  // The store was replaced by a snapshot: every watcher re-reads from storage from its next
  // revision (and is cancelled with the compact revision if that is gone).
  void OnRestore();
  // Queues a progress notification (an empty response at the current revision) for the watcher
  // if it has caught up; etcd's progress notify.
  void RequestProgress(int64_t id);

  size_t watcher_count() const { return watchers_.size(); }
  // Whether some watcher asked for previous values (else the store need not read them).
  bool AnyWantsPrevKv() const { return prev_kv_watchers_ > 0; }
  // Whether the watcher is receiving live revisions (false while it catches up).
  bool IsSynced(int64_t id) const;

 private:
  struct Watcher {
    std::string key, range_end;
    bool no_put = false, no_delete = false, prev_kv = false;
    int64_t next_revision = 0;  // first revision not yet queued
    bool synced = false;
    std::deque<pb::WatchResponse> queue;
  };
  // The watcher's response for one revision's events, or false if none of them concerns it.
  bool Filter(const Watcher& w, int64_t revision, const std::vector<pb::Event>& events, int64_t id,
              pb::WatchResponse* out) const;
  void CatchUp(int64_t id, Watcher& w);
  void Erase(std::map<int64_t, Watcher>::iterator it);

  const MvccStore* store_;
  Options options_;
  ReadyCallback ready_;
  std::map<int64_t, Watcher> watchers_;
  size_t prev_kv_watchers_ = 0;
  int64_t next_id_ = 1;
};

}  // namespace pharos::kv
