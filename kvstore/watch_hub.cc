#include "kvstore/watch_hub.h"

#include <algorithm>

namespace pharos::kv {

WatchHub::WatchHub(const MvccStore* store, Options options, ReadyCallback ready)
    : store_(store), options_(options), ready_(std::move(ready)) {}

Result<int64_t> WatchHub::Watch(const pb::WatchCreateRequest& req) {
  if (req.key().empty()) return Status::InvalidArgument("key is not provided");
  const int64_t start = req.start_revision();
  if (start != 0 && start <= store_->compact_revision()) {
    return Status(StatusCode::kCompacted,
                  "required revision has been compacted; compact revision " +
                      std::to_string(store_->compact_revision()));
  }
  Watcher w;
  w.key = req.key();
  w.range_end = req.range_end();
  w.prev_kv = req.prev_kv();
  for (int f : req.filters()) {
    if (f == pb::WatchCreateRequest::NOPUT) w.no_put = true;
    if (f == pb::WatchCreateRequest::NODELETE) w.no_delete = true;
  }
  const int64_t now = store_->revision();
  w.next_revision = start == 0 ? now + 1 : start;
  // Starting in the past: history first, from storage.
  w.synced = w.next_revision > now;
  const int64_t id = next_id_++;
  if (w.prev_kv) ++prev_kv_watchers_;
  auto& stored = watchers_[id] = std::move(w);
  if (!stored.synced && ready_) ready_(id);
  return id;
}

void WatchHub::Cancel(int64_t id) {
  auto it = watchers_.find(id);
  if (it != watchers_.end()) Erase(it);
}

void WatchHub::Erase(std::map<int64_t, Watcher>::iterator it) {
  if (it->second.prev_kv) --prev_kv_watchers_;
  watchers_.erase(it);
}

bool WatchHub::IsSynced(int64_t id) const {
  auto it = watchers_.find(id);
  return it != watchers_.end() && it->second.synced;
}

bool WatchHub::Filter(const Watcher& w, int64_t revision, const std::vector<pb::Event>& events,
                      int64_t id, pb::WatchResponse* out) const {
  bool any = false;
  for (const pb::Event& ev : events) {
    if (!InRange(ev.kv().key(), w.key, w.range_end)) continue;
    if (ev.type() == pb::Event::PUT && w.no_put) continue;
    if (ev.type() == pb::Event::DELETE && w.no_delete) continue;
    pb::Event* e = out->add_events();
    *e = ev;
    if (!w.prev_kv) e->clear_prev_kv();
    any = true;
  }
  if (any) {
    out->set_watch_id(id);
    out->mutable_header()->set_revision(revision);
  }
  return any;
}

void WatchHub::OnApply(int64_t revision, const std::vector<pb::Event>& events) {
  for (auto& [id, w] : watchers_) {
    if (!w.synced || revision < w.next_revision) continue;
    pb::WatchResponse resp;
    if (Filter(w, revision, events, id, &resp)) {
      if (w.queue.size() >= options_.max_queued) {
        // The reader is slow: stop queueing; it catches up from storage from this revision.
        w.synced = false;
        continue;
      }
      const bool was_empty = w.queue.empty();
      w.queue.push_back(std::move(resp));
      if (was_empty && ready_) ready_(id);
    }
    w.next_revision = revision + 1;
  }
}

void WatchHub::CatchUp(int64_t id, Watcher& w) {
  const int64_t to = store_->revision();
  auto history =
      store_->History(w.next_revision, to, w.key, w.range_end, options_.catch_up_revisions);
  if (!history.ok()) {
    pb::WatchResponse resp;
    resp.set_watch_id(id);
    resp.set_canceled(true);
    resp.set_compact_revision(store_->compact_revision());
    resp.set_cancel_reason(history.status().message());
    resp.mutable_header()->set_revision(to);
    w.queue.push_back(std::move(resp));
    return;
  }
  for (const RevisionEvents& rev : *history) {
    pb::WatchResponse resp;
    if (Filter(w, rev.revision, rev.events, id, &resp)) w.queue.push_back(std::move(resp));
    w.next_revision = rev.revision + 1;
  }
  if (history->size() < options_.catch_up_revisions) {
    // Everything up to `to` has been read: from here on, live revisions. A watcher that starts
    // beyond `to` (a future start revision, re-read after a restore) keeps its start: its next
    // revision never moves backwards, or it would get revisions it never asked for.
    w.next_revision = std::max(w.next_revision, to + 1);
    w.synced = true;
  }
}

std::vector<pb::WatchResponse> WatchHub::Poll(int64_t id, size_t max) {
  std::vector<pb::WatchResponse> out;
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return out;
  Watcher& w = it->second;
  while (out.size() < max) {
    if (w.queue.empty()) {
      if (w.synced) break;
      CatchUp(id, w);
      if (w.queue.empty()) continue;  // nothing in that stretch; keep reading (or now synced)
    }
    out.push_back(std::move(w.queue.front()));
    w.queue.pop_front();
    if (out.back().canceled()) {
      Erase(it);
      break;
    }
  }
  return out;
}

void WatchHub::OnRestore() {
  for (auto& [id, w] : watchers_) {
    w.synced = false;
    if (ready_) ready_(id);
  }
}

void WatchHub::RequestProgress(int64_t id) {
  auto it = watchers_.find(id);
  if (it == watchers_.end() || !it->second.synced) return;
  pb::WatchResponse resp;
  resp.set_watch_id(id);
  resp.mutable_header()->set_revision(store_->revision());
  const bool was_empty = it->second.queue.empty();
  it->second.queue.push_back(std::move(resp));
  if (was_empty && ready_) ready_(id);
}

}  // namespace pharos::kv
