#include "client/connection.h"

#include <algorithm>

namespace pharos::client {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

int64_t Millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

Connection::Connection(asio::io_context& io, std::string endpoint, ConnectionOptions options)
    : io_(io),
      endpoint_(std::move(endpoint)),
      options_(options),
      socket_(io),
      resolver_(io),
      decoder_(options.max_frame_bytes),
      dial_timer_(io),
      liveness_timer_(io) {}

Connection::~Connection() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void Connection::Send(const pb::Envelope& request, bool stream, Handler handler) {
  if (state_ == State::kBroken) {
    handler(Status::Unavailable("connection to " + endpoint_ + " is closed"), nullptr, false);
    return;
  }
  std::string frame;
  AppendFrame(&frame, request.SerializeAsString());
  const bool was_owing = !pending_.empty();
  pending_[request.id()] = Pending{std::move(handler), stream, false};
  Owe(was_owing);
  queued_.emplace_back(request.id(), std::move(frame));
  if (state_ == State::kIdle) {
    Connect();
  } else if (state_ == State::kOpen && !write_posted_ && !writing_) {
    // Written at the end of this turn of the event loop: requests posted by several caller
    // threads meanwhile go in the same write.
    write_posted_ = true;
    asio::post(socket_.get_executor(), [this, self = shared_from_this()] {
      write_posted_ = false;
      Write();
    });
  }
}

void Connection::Forget(uint64_t id) {
  if (pending_.erase(id) > 0) Settled();
}

void Connection::Close(const Status& why) {
  if (state_ == State::kBroken) return;
  state_ = State::kBroken;
  boost::system::error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
  dial_timer_.cancel();
  liveness_timer_.cancel();
  // Handlers may send again (on another connection) or drop the last reference to us.
  auto self = shared_from_this();
  auto pending = std::move(pending_);
  pending_.clear();
  queued_.clear();
  for (auto& [id, p] : pending) p.handler(why, nullptr, p.sent);
}

void Connection::Connect() {
  state_ = State::kConnecting;
  const size_t colon = endpoint_.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint_.size()) {
    return Close(Status::InvalidArgument("bad endpoint '" + endpoint_ + "' (want host:port)"));
  }
  // A member whose host drops our SYNs (or whose accept queue is full) would leave us in
  // connect until the kernel's SYN retries run out, over a minute on Linux.
  dial_timer_.expires_after(options_.dial_timeout);
  dial_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->state_ != State::kConnecting) return;
    self->Close(Status::Unavailable("cannot connect to " + self->endpoint_ + " within " +
                                    std::to_string(self->options_.dial_timeout.count()) + " ms"));
  });
  auto self = shared_from_this();
  resolver_.async_resolve(
      endpoint_.substr(0, colon), endpoint_.substr(colon + 1),
      [this, self](const boost::system::error_code& ec, tcp::resolver::results_type results) {
        if (state_ == State::kBroken) return;
        if (ec)
          return Close(Status::Unavailable("cannot resolve " + endpoint_ + ": " + ec.message()));
        asio::async_connect(
            socket_, results,
            [this, self](const boost::system::error_code& ec, const tcp::endpoint&) {
              if (state_ == State::kBroken) return;
              if (ec) {
                return Close(
                    Status::Unavailable("cannot connect to " + endpoint_ + ": " + ec.message()));
              }
              dial_timer_.cancel();
              boost::system::error_code ignored;
              socket_.set_option(tcp::no_delay(true), ignored);
              state_ = State::kOpen;
              // The handshake is the server's first sign of life; silence counts from here.
              quiet_since_ = SteadyClock::now();
              probe_sent_.reset();
              if (!pending_.empty()) ArmLiveness(quiet_since_ + options_.keepalive_time);
              Read();
              Write();
            });
      });
}

void Connection::Owe(bool was_owing) {
  if (was_owing || state_ != State::kOpen) return;
  // Owing resumes: the time spent owing nothing is no silence, skip it (a byte received while
  // idle, or the connect, already ended the silence: then it starts now).
  const auto now = SteadyClock::now();
  const auto idle = now - idle_since_;
  quiet_since_ = std::min(now, quiet_since_ + idle);
  if (probe_sent_) *probe_sent_ = std::min(now, *probe_sent_ + idle);
  ArmLiveness(NextCheck(now));
}

void Connection::Settled() {
  if (pending_.empty()) idle_since_ = SteadyClock::now();
}

// An armed timer never fires later than the check is due: every change since it was armed
// (a byte received, an idle spell skipped) only moves the due time later, and CheckLiveness
// re-arms for the new one.
void Connection::ArmLiveness(SteadyClock::time_point at) {
  if (liveness_armed_) return;
  liveness_armed_ = true;
  liveness_timer_.expires_at(at);
  liveness_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self) return;
    self->liveness_armed_ = false;
    if (!ec) self->CheckLiveness();
  });
}

void Connection::CheckLiveness() {
  // Owing nothing, the connection may stay quiet forever; the next Send arms the timer again.
  if (state_ != State::kOpen || pending_.empty()) return;
  const auto now = SteadyClock::now();
  if (probe_sent_) {
    if (now - *probe_sent_ >= options_.keepalive_timeout) {
      return Close(Status::Unavailable("no answer from " + endpoint_ + " for " +
                                       std::to_string(Millis(now - quiet_since_)) + " ms"));
    }
  } else if (now - quiet_since_ >= options_.keepalive_time) {
    pb::Envelope probe;
    probe.set_id(kProbeIdBit | ++probes_);
    probe.mutable_status_request();
    std::string frame;
    AppendFrame(&frame, probe.SerializeAsString());
    // No handler is registered: any byte that comes back, its answer included, is the proof.
    queued_.emplace_back(probe.id(), std::move(frame));
    Write();
    probe_sent_ = now;
  }
  ArmLiveness(NextCheck(now));
}

Connection::SteadyClock::time_point Connection::NextCheck(SteadyClock::time_point now) const {
  if (!probe_sent_) return quiet_since_ + options_.keepalive_time;
  // An answered probe clears probe_sent_ without touching the timer; looking again after
  // keepalive_time (when that is the shorter) keeps the next probe keepalive_time after the
  // answer, not keepalive_timeout after the probe.
  const auto early = *probe_sent_ + std::min(options_.keepalive_time, options_.keepalive_timeout);
  return now < early ? early : *probe_sent_ + options_.keepalive_timeout;
}

void Connection::Write() {
  if (writing_ || queued_.empty() || state_ != State::kOpen) return;
  writing_ = true;
  out_.clear();
  // Everything queued goes in one write: one syscall for a burst of requests.
  for (auto& [id, frame] : queued_) {
    auto it = pending_.find(id);
    if (it != pending_.end()) it->second.sent = true;
    out_ += frame;
  }
  queued_.clear();
  auto self = shared_from_this();
  asio::async_write(
      socket_, asio::buffer(out_), [this, self](const boost::system::error_code& ec, size_t) {
        writing_ = false;
        if (state_ == State::kBroken) return;
        if (ec) {
          return Close(Status::Unavailable("sending to " + endpoint_ + ": " + ec.message()));
        }
        Write();
      });
}

void Connection::Read() {
  auto self = shared_from_this();
  socket_.async_read_some(
      asio::buffer(in_), [this, self](const boost::system::error_code& ec, size_t n) {
        if (state_ == State::kBroken) return;
        if (ec) {
          return Close(Status::Unavailable(
              "connection to " + endpoint_ + " lost: " +
              (ec == asio::error::eof ? std::string("closed by the server") : ec.message())));
        }
        // Any byte proves the server alive, even one of a frame still incomplete (a large
        // answer arriving slowly).
        quiet_since_ = SteadyClock::now();
        probe_sent_.reset();
        decoder_.Append(std::string_view(in_.data(), n));
        for (;;) {
          auto frame = decoder_.Next();
          if (!frame.ok()) return Close(frame.status());
          if (!frame->has_value()) break;
          pb::Envelope response;
          if (!response.ParseFromString(**frame)) {
            return Close(Status::Internal("unparsable response from " + endpoint_));
          }
          Deliver(std::move(response));
          if (state_ == State::kBroken) return;
        }
        Read();
      });
}

void Connection::Deliver(pb::Envelope response) {
  auto it = pending_.find(response.id());
  if (it == pending_.end()) return;  // a probe's answer, a call that gave up, a closed stream
  if (it->second.stream) {
    Handler handler = it->second.handler;  // the handler may Forget itself
    handler(Status::Ok(), &response, true);
    return;
  }
  Handler handler = std::move(it->second.handler);
  pending_.erase(it);
  Settled();
  handler(Status::Ok(), &response, true);
}

}  // namespace pharos::client
