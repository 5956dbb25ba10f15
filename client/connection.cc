#include "client/connection.h"

namespace pharos::client {

namespace asio = boost::asio;
using asio::ip::tcp;

Connection::Connection(asio::io_context& io, std::string endpoint, size_t max_frame_bytes)
    : io_(io),
      endpoint_(std::move(endpoint)),
      socket_(io),
      resolver_(io),
      decoder_(max_frame_bytes) {}

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
  pending_[request.id()] = Pending{std::move(handler), stream, false};
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

void Connection::Forget(uint64_t id) { pending_.erase(id); }

void Connection::Close(const Status& why) {
  if (state_ == State::kBroken) return;
  state_ = State::kBroken;
  boost::system::error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
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
              boost::system::error_code ignored;
              socket_.set_option(tcp::no_delay(true), ignored);
              state_ = State::kOpen;
              Read();
              Write();
            });
      });
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
  if (it == pending_.end()) return;  // answer to a call that gave up, or a closed stream
  if (it->second.stream) {
    Handler handler = it->second.handler;  // the handler may Forget itself
    handler(Status::Ok(), &response, true);
    return;
  }
  Handler handler = std::move(it->second.handler);
  pending_.erase(it);
  handler(Status::Ok(), &response, true);
}

}  // namespace pharos::client
