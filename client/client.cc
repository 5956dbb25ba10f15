#include "client/client.h"

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "client/connection.h"
#include "common/asio.h"
#include "common/trace.h"

namespace pharos::client {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

StatusCode FromCode(pb::Code code) {
  switch (code) {
    case pb::OK:
      return StatusCode::kOk;
    case pb::INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case pb::NOT_FOUND:
      return StatusCode::kNotFound;
    case pb::FAILED_PRECONDITION:
      return StatusCode::kFailedPrecondition;
    case pb::NOT_LEADER:
      return StatusCode::kNotLeader;
    case pb::UNAVAILABLE:
      return StatusCode::kUnavailable;
    case pb::DEADLINE_EXCEEDED:
      return StatusCode::kDeadlineExceeded;
    case pb::COMPACTED:
      return StatusCode::kCompacted;
    case pb::FUTURE_REVISION:
      return StatusCode::kFutureRevision;
    case pb::LEASE_NOT_FOUND:
      return StatusCode::kLeaseNotFound;
    case pb::TOO_LARGE:
      return StatusCode::kTooLarge;
    case pb::RESOURCE_EXHAUSTED:
      return StatusCode::kResourceExhausted;
    case pb::UNAUTHENTICATED:
      return StatusCode::kUnauthenticated;
    case pb::PERMISSION_DENIED:
      return StatusCode::kPermissionDenied;
    case pb::NO_SPACE:
      return StatusCode::kNoSpace;
    case pb::INTERNAL:
      return StatusCode::kInternal;
    default:
      return StatusCode::kInternal;
  }
}

}  // namespace

Status StatusOf(const pb::Envelope& response) {
  if (!response.has_status() || response.status().code() == pb::OK) return Status::Ok();
  if (response.status().outcome_unknown()) {
    return Status::OutcomeUnknown(response.status().message());
  }
  return Status(FromCode(response.status().code()), response.status().message());
}

bool IsIdempotent(const pb::Envelope& e) {
  switch (e.body_case()) {
    case pb::Envelope::kRange:
    case pb::Envelope::kLeaseKeepAlive:
    case pb::Envelope::kLeaseTimeToLive:
    case pb::Envelope::kLeaseLeases:
    case pb::Envelope::kMemberList:
    case pb::Envelope::kStatusRequest:
    case pb::Envelope::kHashKv:
      return true;
    case pb::Envelope::kAlarm:       // raising or clearing an alarm twice is the same as once
    case pb::Envelope::kDefragment:  // so is rewriting the backend
      return true;
    default:
      return false;
  }
}

// One call in progress: its request, deadline, retries and the callback still owed.
struct Op {
  pb::Envelope request;
  CallOptions options;
  RetryPolicy retry = RetryPolicy::kNever;
  SteadyClock::time_point deadline;
  Client::Callback done;
  // Not IsIdempotent: whatever the retry policy, giving up on it after an attempt that may have
  // been applied must say OUTCOME_UNKNOWN (a lock's create-if-absent txn, sent with kAlways,
  // must not come back DEADLINE_EXCEEDED while its key exists).
  bool write = false;
  // Some attempt of this write may have been applied: it was sent and its connection failed, the
  // server answered OUTCOME_UNKNOWN, or it was still on a connection at the deadline.
  bool maybe_applied = false;
  bool finished = false;
  int attempts = 0;
  int redirects = 0;
  // An attempt is on a connection: if the deadline comes now, a write's outcome is unknown.
  bool outstanding = false;
  Status last_error = Status::Unavailable("not attempted");
  std::weak_ptr<Connection> conn;
  std::unique_ptr<asio::steady_timer> deadline_timer;
  std::unique_ptr<asio::steady_timer> retry_timer;
};

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), rng(std::random_device{}()) {
    if (options.endpoints.empty()) options.endpoints.push_back("127.0.0.1:2379");
    current = options.endpoints.front();
    // Zero or negative means "the default", as a call's timeout of 0 does.
    const ClientOptions defaults;
    for (auto [value, fallback] : {std::pair{&options.keepalive_time, defaults.keepalive_time},
                                   {&options.keepalive_timeout, defaults.keepalive_timeout},
                                   {&options.dial_timeout, defaults.dial_timeout}}) {
      if (value->count() <= 0) *value = fallback;
    }
  }

  // --- all below run on the I/O thread, except where noted ---
  std::shared_ptr<Connection> ConnTo(const std::string& endpoint) {
    auto& c = conns[endpoint];
    if (!c || c->broken()) {
      c = std::make_shared<Connection>(
          io, endpoint,
          ConnectionOptions{.max_frame_bytes = options.max_frame_bytes,
                            .dial_timeout = options.dial_timeout,
                            .keepalive_time = options.keepalive_time,
                            .keepalive_timeout = options.keepalive_timeout});
    }
    return c;
  }

  // The member at `failed` did not serve us: the configured endpoint after it is tried next,
  // skipping members that could not be reached a moment ago (a dead leader named in stale
  // NOT_LEADER hints would otherwise be tried again and again while the others elect).
  void MoveOn(const std::string& failed) {
    std::lock_guard lock(mu);
    if (current != failed) return;
    const size_t n = options.endpoints.size();
    size_t from = rotation;
    for (size_t i = 0; i < n; ++i) {
      if (options.endpoints[i] == failed) from = i;
    }
    for (size_t k = 1; k <= n; ++k) {
      const size_t i = (from + k) % n;
      if (!RecentlyDown(options.endpoints[i]) || k == n) {
        rotation = i;
        current = options.endpoints[i];
        return;
      }
    }
  }
  // Follows a NOT_LEADER hint unless that member could not be reached a moment ago.
  bool Follow(const std::string& leader) {
    std::lock_guard lock(mu);
    if (RecentlyDown(leader)) return false;
    current = leader;
    return true;
  }
  void MarkDown(const std::string& endpoint) {
    std::lock_guard lock(mu);
    down[endpoint] = SteadyClock::now();
  }
  void MarkUp(const std::string& endpoint) {
    std::lock_guard lock(mu);
    down.erase(endpoint);
  }
  bool RecentlyDown(const std::string& endpoint) const {  // with mu held
    auto it = down.find(endpoint);
    return it != down.end() && SteadyClock::now() - it->second < std::chrono::seconds(1);
  }
  std::string Current() const {  // any thread
    std::lock_guard lock(mu);
    return current;
  }
  std::chrono::milliseconds Backoff(int attempt) {  // any thread
    const auto base = std::min<int64_t>(options.backoff_max.count(), options.backoff_initial.count()
                                                                         << std::min(attempt, 16));
    std::lock_guard lock(mu);
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    return std::chrono::milliseconds(static_cast<int64_t>(base * jitter(rng)));
  }

  void Start(std::shared_ptr<Op> op) {
    if (closing) return Finish(op, Status::Unavailable("client closed"));
    live.insert(op);
    op->deadline_timer = std::make_unique<asio::steady_timer>(io, op->deadline);
    op->deadline_timer->async_wait([this, op](const boost::system::error_code& ec) {
      if (ec || op->finished) return;
      if (!op->outstanding) {
        return GiveUp(op,
                      Status(StatusCode::kDeadlineExceeded,
                             "deadline exceeded (last error: " + op->last_error.ToString() + ")"));
      }
      op->maybe_applied = true;  // on the wire or in the server: it may yet be applied
      GiveUp(op, Status(StatusCode::kDeadlineExceeded,
                        op->attempts == 0 ? std::string("no answer before the deadline")
                                          : "no answer before the deadline (earlier error: " +
                                                op->last_error.ToString() + ")"));
    });
    Attempt(op);
  }

  void Attempt(std::shared_ptr<Op> op) {
    if (op->finished) return;
    const std::string endpoint = op->options.endpoint.empty() ? Current() : op->options.endpoint;
    auto conn = ConnTo(endpoint);
    op->request.set_id(next_id++);
    op->conn = conn;
    op->outstanding = true;
    conn->Send(op->request, /*stream=*/false,
               [this, op, endpoint](const Status& error, pb::Envelope* response, bool sent) {
                 op->outstanding = false;
                 if (op->finished) return;
                 if (!error.ok()) return OnTransportError(op, endpoint, error, sent);
                 OnResponse(op, endpoint, std::move(*response));
               });
  }

  void OnTransportError(const std::shared_ptr<Op>& op, const std::string& endpoint,
                        const Status& error, bool sent) {
    MarkDown(endpoint);
    MoveOn(endpoint);
    if (sent && op->write) {
      op->maybe_applied = true;
      if (op->retry != RetryPolicy::kAlways) {
        return Finish(
            op, Status::OutcomeUnknown(error.message() +
                                       "; the request had been sent, its outcome is unknown"));
      }
    }
    RetryLater(op, error);
  }

  void OnResponse(const std::shared_ptr<Op>& op, const std::string& endpoint,
                  pb::Envelope response) {
    MarkUp(endpoint);
    const Status s = StatusOf(response);
    if (s.ok()) return Finish(op, std::move(response));
    if (!op->options.endpoint.empty()) return Finish(op, s);  // pinned: as the member said
    switch (s.code()) {
      case StatusCode::kNotLeader: {
        // Nothing was proposed; go where the hint points (a bounded number of hops, in case
        // two members point at each other during an election).
        const std::string& hint = response.status().leader_hint();
        if (!hint.empty() && hint != endpoint && op->redirects < 3 && Follow(hint)) {
          ++op->redirects;
          return Attempt(op);
        }
        MoveOn(endpoint);
        return RetryLater(op, s);
      }
      case StatusCode::kUnavailable:  // no leader, or quorum lost: nothing was proposed
        MoveOn(endpoint);
        return RetryLater(op, s);
      case StatusCode::kResourceExhausted:  // refused at once, before proposing
        return RetryLater(op, s);
      case StatusCode::kOutcomeUnknown:
        op->maybe_applied = op->maybe_applied || op->write;
        if (op->retry == RetryPolicy::kAlways) return RetryLater(op, s);
        return Finish(op, s);
      default:
        return Finish(op, s);
    }
  }

  void RetryLater(const std::shared_ptr<Op>& op, const Status& last) {
    op->last_error = last;
    if (op->retry == RetryPolicy::kNever) return GiveUp(op, last);
    const auto delay = Backoff(op->attempts++);
    if (SteadyClock::now() + delay >= op->deadline) return GiveUp(op, last);
    op->retry_timer = std::make_unique<asio::steady_timer>(io, delay);
    op->retry_timer->async_wait([this, op](const boost::system::error_code& ec) {
      if (!ec) Attempt(op);
    });
  }

  // The op stops trying (deadline, no time left for another try, or not allowed to retry) with
  // `why`. A write that may have been applied must not look like one that surely was not: its
  // caller would not clean up (a lock's contender key left behind blocks every other contender).
  void GiveUp(const std::shared_ptr<Op>& op, const Status& why) {
    if (op->write && op->maybe_applied) {
      return Finish(op, Status::OutcomeUnknown(
                            "gave up (" + why.ToString() +
                            ") after an attempt that may have been applied; its outcome is "
                            "unknown"));
    }
    Finish(op, why);
  }

  void Finish(const std::shared_ptr<Op>& op, Result<pb::Envelope> result) {
    if (op->finished) return;
    op->finished = true;
    live.erase(op);
    if (op->deadline_timer) op->deadline_timer->cancel();
    if (op->retry_timer) op->retry_timer->cancel();
    if (auto conn = op->conn.lock(); conn && op->outstanding) conn->Forget(op->request.id());
    auto done = std::move(op->done);
    done(std::move(result));
  }

  void Shutdown() {
    closing = true;
    auto ops = live;
    for (const auto& op : ops) Finish(op, Status::Unavailable("client closed"));
    auto all = std::move(conns);
    for (auto& [endpoint, conn] : all) conn->Close(Status::Unavailable("client closed"));
  }

  // Destroyed last: the connections and timers below refer to it.
  asio::io_context io;
  ClientOptions options;
  std::thread thread;
  std::thread::id thread_id;
  mutable std::mutex mu;
  std::string current;                                  // guarded by mu
  size_t rotation = 0;                                  // guarded by mu
  std::map<std::string, SteadyClock::time_point> down;  // guarded by mu: failed to connect
  std::mt19937_64 rng;                                  // guarded by mu
  std::atomic<uint64_t> next_id{1};
  bool closing = false;
  std::map<std::string, std::shared_ptr<Connection>> conns;
  std::set<std::shared_ptr<Op>> live;
};

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  std::promise<void> started;
  impl_->thread = std::thread([impl = impl_.get(), &started] {
    impl->thread_id = std::this_thread::get_id();
    auto work = asio::make_work_guard(impl->io);
    started.set_value();
    impl->io.run();
  });
  started.get_future().wait();
}

Client::~Client() {
  std::promise<void> shut;
  asio::post(impl_->io, [impl = impl_.get(), &shut] {
    impl->Shutdown();
    impl->io.stop();
    shut.set_value();
  });
  shut.get_future().wait();
  impl_->thread.join();
}

void Client::CallAsync(pb::Envelope request, CallOptions options, Callback done) {
  auto op = std::make_shared<Op>();
  if (request.traceparent().empty()) request.set_traceparent(NewTraceparent());
  op->write = !IsIdempotent(request);
  op->retry = options.retry;
  if (op->retry == RetryPolicy::kByRequest) {
    op->retry = op->write ? RetryPolicy::kBeforeProposal : RetryPolicy::kAlways;
  }
  op->deadline =
      SteadyClock::now() + (options.timeout.count() > 0 ? options.timeout : impl_->options.timeout);
  op->request = std::move(request);
  op->options = std::move(options);
  op->done = std::move(done);
  asio::post(impl_->io, [impl = impl_.get(), op] { impl->Start(op); });
}

Result<pb::Envelope> Client::Call(pb::Envelope request, CallOptions options) {
  if (OnIoThread()) {
    return Status::FailedPrecondition(
        "a blocking call from the client's own callback would deadlock; use CallAsync");
  }
  std::promise<Result<pb::Envelope>> result;
  CallAsync(std::move(request), std::move(options),
            [&result](Result<pb::Envelope> r) { result.set_value(std::move(r)); });
  return result.get_future().get();
}

namespace {

// Handles given to callers may outlive the client: they hold the io_context only weakly, and
// never own an Asio object themselves.
//
// A watch also lives on the server, which keeps its watcher (and sends its events) until it is
// cancelled or the connection ends; forgetting the envelope id here stops only the delivery. So
// closing a watch whose connection lives also sends a WatchCancel for its watch id, and a watch
// closed before the `created` reply that names that id stays registered until the reply comes.
class StreamImpl : public Client::Stream, public std::enable_shared_from_this<StreamImpl> {
 public:
  StreamImpl(std::weak_ptr<asio::io_context> io, std::string endpoint)
      : io_(std::move(io)), endpoint_(std::move(endpoint)) {}
  void Close() override {
    if (closed_.exchange(true)) return;
    auto io = io_.lock();
    if (!io) return;
    asio::post(*io, [self = shared_from_this()] { self->Settle(); });
  }
  const std::string& endpoint() const override { return endpoint_; }

  // What a message (or the connection's failure) says about the server's watcher.
  void Track(const Status& error, const pb::Envelope* message) {
    if (!watch_) return;
    if (!error.ok()) {
      server_gone_ = true;  // the server drops a connection's watches with it
      return;
    }
    const pb::WatchResponse& w = message->watch_response();
    if (!StatusOf(*message).ok() || w.canceled()) {
      server_gone_ = true;
    } else if (w.created()) {
      created_ = true;
      watch_id_ = w.watch_id();
    }
  }

  // After Close(): stops routing the id and, for a watch the server still runs, cancels it there.
  void Settle() {
    if (settled_) return;
    auto conn = conn_.lock();
    // Until `created` arrives the watch id is unknown: keep listening (the handler settles).
    if (conn && !conn->broken() && watch_ && !created_ && !server_gone_) return;
    settled_ = true;
    if (!conn) return;  // never sent, or the connection is gone
    conn->Forget(id_);
    if (!watch_ || server_gone_ || conn->broken()) return;
    pb::Envelope cancel;
    cancel.set_id(cancel_id_);
    cancel.set_traceparent(traceparent_);
    cancel.mutable_watch_cancel()->set_watch_id(watch_id_);
    // Nothing to retry or report: if this connection fails, the watch ends with it.
    conn->Send(cancel, /*stream=*/false, [](const Status&, pb::Envelope*, bool) {});
  }

  std::weak_ptr<asio::io_context> io_;
  std::string endpoint_;
  std::atomic<bool> closed_{false};
  // Set by OpenStream before the request is posted; constant afterwards.
  uint64_t id_ = 0;
  bool watch_ = false;
  uint64_t cancel_id_ = 0;
  std::string traceparent_;
  // I/O thread only. conn_ is set before any message can arrive.
  std::weak_ptr<Connection> conn_;
  bool created_ = false;
  int64_t watch_id_ = 0;
  bool server_gone_ = false;  // the server has no watcher left to cancel
  bool settled_ = false;
};

class TimerImpl : public Client::Timer {
 public:
  explicit TimerImpl(std::weak_ptr<asio::io_context> io) : io_(std::move(io)) {}
  void Cancel() override {
    *cancelled_ = true;
    auto io = io_.lock();
    if (!io) return;
    asio::post(*io, [timer = timer_] {
      if (auto t = timer.lock()) t->cancel();
    });
  }
  std::weak_ptr<asio::io_context> io_;
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
  std::weak_ptr<asio::steady_timer> timer_;  // owned by its own pending wait
};

}  // namespace

std::shared_ptr<Client::Stream> Client::OpenStream(
    pb::Envelope request, const std::string& endpoint,
    std::function<void(Result<pb::Envelope>)> on_message) {
  const std::string target = endpoint.empty() ? impl_->Current() : endpoint;
  auto stream =
      std::make_shared<StreamImpl>(std::shared_ptr<asio::io_context>(impl_, &impl_->io), target);
  if (request.traceparent().empty()) request.set_traceparent(NewTraceparent());
  // The stream's id is assigned here so that a Close() racing with the set-up below still finds
  // it (Close's task runs after this one: both are posted to the same thread, in order).
  stream->id_ = impl_->next_id++;
  request.set_id(stream->id_);
  if (request.has_watch_create()) {
    stream->watch_ = true;
    stream->cancel_id_ = impl_->next_id++;
    stream->traceparent_ = request.traceparent();  // the cancel is part of the same trace
  }
  asio::post(impl_->io, [impl = impl_.get(), stream, request = std::move(request),
                         on_message = std::move(on_message)]() mutable {
    if (stream->closed_) return;
    if (impl->closing) return on_message(Status::Unavailable("client closed"));
    auto conn = impl->ConnTo(stream->endpoint());
    stream->conn_ = conn;
    conn->Send(request, /*stream=*/true,
               [impl, stream, on_message = std::move(on_message)](const Status& error,
                                                                  pb::Envelope* response, bool) {
                 stream->Track(error, response);
                 // Closed by the caller: only the reply naming the watch was still awaited.
                 if (stream->closed_) return stream->Settle();
                 if (!error.ok()) {
                   stream->closed_ = true;
                   // As for a call: a stale NOT_LEADER hint must not send calls straight back.
                   impl->MarkDown(stream->endpoint());
                   impl->MoveOn(stream->endpoint());
                   return on_message(error);
                 }
                 on_message(std::move(*response));
               });
  });
  return stream;
}

std::shared_ptr<Client::Timer> Client::After(std::chrono::milliseconds delay,
                                             std::function<void()> fn) {
  auto handle = std::make_shared<TimerImpl>(std::shared_ptr<asio::io_context>(impl_, &impl_->io));
  auto timer = std::make_shared<asio::steady_timer>(impl_->io);
  handle->timer_ = timer;
  asio::post(impl_->io, [timer, delay, cancelled = handle->cancelled_,
                         fn = std::move(fn)]() mutable {
    if (*cancelled) return;
    timer->expires_after(delay);
    timer->async_wait([timer, cancelled, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec && !*cancelled) fn();
    });
  });
  return handle;
}

void Client::Post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

bool Client::OnIoThread() const { return std::this_thread::get_id() == impl_->thread_id; }

std::string Client::current_endpoint() const { return impl_->Current(); }

const std::vector<std::string>& Client::endpoints() const { return impl_->options.endpoints; }

std::chrono::milliseconds Client::Backoff(int attempt) { return impl_->Backoff(attempt); }

}  // namespace pharos::client
