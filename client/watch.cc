#include "client/watch.h"

#include <algorithm>
#include <mutex>

#include "client/txn.h"

namespace pharos::client {

struct Watcher::State : std::enable_shared_from_this<State> {
  Client* client = nullptr;
  pb::WatchCreateRequest request;
  std::string first_endpoint;
  EventsCallback on_events;
  ErrorCallback on_error;

  std::mutex callback_mu;  // held while a callback runs; the destructor takes it to end them
  mutable std::mutex mu;
  bool stopped = false;  // guarded by mu
  // The revision to resume from; 0 until the first stream has been created.
  int64_t next_revision = 0;               // guarded by mu
  int streams = 0;                         // guarded by mu
  std::shared_ptr<Client::Stream> stream;  // guarded by mu
  std::shared_ptr<Client::Timer> retry;    // guarded by mu
  int failures = 0;                        // I/O thread

  void Open() {
    pb::Envelope e;
    *e.mutable_watch_create() = request;
    std::string endpoint;
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      // Resume right after what was delivered; the first stream starts where the caller asked.
      if (next_revision > 0) e.mutable_watch_create()->set_start_revision(next_revision);
      if (streams++ == 0) endpoint = first_endpoint;
    }
    auto self = shared_from_this();
    auto s = client->OpenStream(std::move(e), endpoint,
                                [self](Result<pb::Envelope> r) { self->OnMessage(std::move(r)); });
    std::lock_guard lock(mu);
    stream = s;
    if (stopped) stream->Close();
  }

  void OnMessage(Result<pb::Envelope> r) {
    if (!r.ok()) return Reconnect(r.status());
    const Status s = StatusOf(*r);
    const pb::WatchResponse& w = r->watch_response();
    if (w.canceled() || !s.ok()) {
      if (w.compact_revision() > 0 || s.code() == StatusCode::kCompacted) {
        return Fail(
            {Status::Compacted(s.ok() ? w.cancel_reason() : s.message()), w.compact_revision()});
      }
      if (s.code() == StatusCode::kInvalidArgument) return Fail({s, 0});
      // The member is shutting down or lost its state: go elsewhere.
      return Reconnect(s.ok() ? Status::Unavailable("watch canceled: " + w.cancel_reason()) : s);
    }
    failures = 0;
    const int64_t header_revision = w.header().revision();
    if (w.created()) {
      // Nothing before the creation's revision concerns a watch that started "from now".
      std::lock_guard lock(mu);
      if (next_revision == 0) {
        next_revision =
            request.start_revision() > 0 ? request.start_revision() : header_revision + 1;
      }
      return;
    }
    if (w.events().empty()) {
      // A progress notification. The server sends one only to a watcher that has caught up to
      // its revision, behind every event up to it (WatchHub::RequestProgress), so nothing up to
      // there is still to come: resuming after it keeps an idle watch clear of compaction.
      std::lock_guard lock(mu);
      if (next_revision > 0) next_revision = std::max(next_revision, header_revision + 1);
      return;
    }
    const int64_t revision = w.events(0).kv().mod_revision();
    {
      std::lock_guard lock(mu);
      // A resumed stream never repeats a revision; this guards the promise regardless.
      if (revision < next_revision) return;
    }
    std::vector<pb::Event> events(w.events().begin(), w.events().end());
    std::lock_guard callback_lock(callback_mu);
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      next_revision = revision + 1;
    }
    on_events(events, revision);
  }

  void Reconnect(const Status&) {
    std::lock_guard lock(mu);
    if (stopped) return;
    if (stream) stream->Close();
    stream.reset();
    auto self = shared_from_this();
    retry = client->After(client->Backoff(failures++), [self] { self->Open(); });
  }

  void Fail(const WatchError& error) {
    std::lock_guard callback_lock(callback_mu);
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      stopped = true;
      if (stream) stream->Close();
    }
    if (on_error) on_error(error);
  }
};

Watcher::Watcher(Client& client, std::string key, WatchOptions options, EventsCallback on_events,
                 ErrorCallback on_error)
    : state_(std::make_shared<State>()) {
  state_->client = &client;
  pb::WatchCreateRequest& r = state_->request;
  r.set_key(key);
  if (options.prefix) {
    r.set_range_end(PrefixEnd(key));
  } else if (options.from_key) {
    r.set_range_end(std::string(1, '\0'));
  } else {
    r.set_range_end(options.range_end);
  }
  r.set_start_revision(options.start_revision);
  r.set_prev_kv(options.prev_kv);
  state_->first_endpoint = std::move(options.endpoint);
  state_->on_events = std::move(on_events);
  state_->on_error = std::move(on_error);
  client.Post([s = state_] { s->Open(); });
}

Watcher::~Watcher() {
  std::lock_guard callback_lock(state_->callback_mu);
  std::lock_guard lock(state_->mu);
  state_->stopped = true;
  if (state_->stream) state_->stream->Close();
  if (state_->retry) state_->retry->Cancel();
}

int64_t Watcher::last_revision() const {
  std::lock_guard lock(state_->mu);
  return state_->next_revision > 0 ? state_->next_revision - 1 : 0;
}

bool Watcher::created() const {
  std::lock_guard lock(state_->mu);
  return state_->next_revision > 0;
}

int Watcher::streams_opened() const {
  std::lock_guard lock(state_->mu);
  return state_->streams;
}

}  // namespace pharos::client
