#include "client/sync_client.h"

#include <random>
#include <thread>

#include "common/asio.h"
#include "common/frame.h"
#include "common/host_address.h"

namespace pharos::client {

namespace asio = boost::asio;
using asio::ip::tcp;

// One connection, driven synchronously with deadlines.
class SyncClient::Conn {
 public:
  explicit Conn(std::string endpoint) : endpoint_(std::move(endpoint)), socket_(io_) {}
  const std::string& endpoint() const { return endpoint_; }

  // `sent` tells whether the request was written to the socket (when the call fails).
  Result<pb::Envelope> Call(const pb::Envelope& request, std::chrono::milliseconds timeout,
                            bool* sent) {
    *sent = false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!connected_) {
      if (Status s = Connect(deadline); !s.ok()) return s;
    }
    std::string frame;
    AppendFrame(&frame, request.SerializeAsString());
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(frame), ec);
    if (ec) {
      Reset();
      return Status::Unavailable("sending to " + endpoint_ + ": " + ec.message());
    }
    *sent = true;
    for (;;) {
      auto f = decoder_.Next();
      if (!f.ok()) {
        Reset();
        return f.status();
      }
      if (f->has_value()) {
        pb::Envelope resp;
        if (!resp.ParseFromString(**f)) {
          Reset();
          return Status::Internal("unparsable response from " + endpoint_);
        }
        if (resp.id() == request.id()) return resp;
        continue;  // a stale answer to an earlier, timed-out request
      }
      bool done = false;
      size_t n = 0;
      socket_.async_read_some(asio::buffer(buf_),
                              [&](const boost::system::error_code& e, size_t got) {
                                ec = e;
                                n = got;
                                done = true;
                              });
      io_.restart();
      io_.run_until(deadline);
      if (!done) {
        Reset();
        return Status(StatusCode::kDeadlineExceeded, "no answer from " + endpoint_ + " in time");
      }
      if (ec) {
        Reset();
        return Status::Unavailable("reading from " + endpoint_ + ": " + ec.message());
      }
      decoder_.Append(std::string_view(buf_.data(), n));
    }
  }

 private:
  Status Connect(std::chrono::steady_clock::time_point deadline) {
    const size_t colon = endpoint_.rfind(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument("bad endpoint '" + endpoint_ + "' (want host:port)");
    }
    // A name is looked up here, blocking, as everything in this client does, within the call's
    // deadline.
    auto host = NumericHostBefore(endpoint_.substr(0, colon), deadline);
    if (!host.ok()) return host.status();
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(*host, ec);
    if (ec) return Status::InvalidArgument("bad endpoint '" + endpoint_ + "' (want host:port)");
    tcp::endpoint ep(ip, static_cast<uint16_t>(std::stoi(endpoint_.substr(colon + 1))));
    bool done = false;
    socket_ = tcp::socket(io_);
    socket_.async_connect(ep, [&](const boost::system::error_code& e) {
      ec = e;
      done = true;
    });
    io_.restart();
    io_.run_until(deadline);
    if (!done) {
      Reset();
      return Status(StatusCode::kDeadlineExceeded, "connecting to " + endpoint_ + " timed out");
    }
    if (ec) return Status::Unavailable("cannot connect to " + endpoint_ + ": " + ec.message());
    socket_.set_option(tcp::no_delay(true), ec);
    connected_ = true;
    decoder_ = FrameDecoder(kMaxAnswerFrameBytes);
    return Status::Ok();
  }

  void Reset() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    connected_ = false;
    io_.restart();
    io_.poll();  // let cancelled handlers run
  }

  std::string endpoint_;
  asio::io_context io_;
  tcp::socket socket_;
  bool connected_ = false;
  FrameDecoder decoder_{kMaxAnswerFrameBytes};
  std::array<char, 64 * 1024> buf_;
};

SyncClient::SyncClient(std::vector<std::string> endpoints, std::chrono::milliseconds timeout)
    : endpoints_(std::move(endpoints)), timeout_(timeout) {
  if (endpoints_.empty()) endpoints_.push_back("127.0.0.1:2379");
}

SyncClient::~SyncClient() = default;

SyncClient::Conn& SyncClient::ConnTo(const std::string& endpoint) {
  for (auto& c : conns_) {
    if (c->endpoint() == endpoint) return *c;
  }
  conns_.push_back(std::make_unique<Conn>(endpoint));
  return *conns_.back();
}

Result<pb::Envelope> SyncClient::CallEndpoint(const std::string& endpoint, pb::Envelope request) {
  request.set_id(next_id_++);
  if (request.traceparent().empty()) request.set_traceparent(NewTraceparent());
  bool sent = false;
  return ConnTo(endpoint).Call(request, timeout_, &sent);
}

Result<pb::Envelope> SyncClient::Call(pb::Envelope request) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  if (request.traceparent().empty()) request.set_traceparent(NewTraceparent());
  Status last = Status::Unavailable("no endpoint answered");
  int backoff_ms = 20;
  while (std::chrono::steady_clock::now() < deadline) {
    request.set_id(next_id_++);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    bool sent = false;
    auto resp = ConnTo(endpoints_[current_]).Call(request, left, &sent);
    if (!resp.ok()) {
      last = resp.status();
      // A write that reached a member whose answer was lost may have been applied: sent again,
      // it could be applied twice.
      if (sent && !IsIdempotent(request)) {
        return Status::OutcomeUnknown(last.message() + "; the request had been sent");
      }
      // Unreachable, or a read that got no answer: try the next endpoint.
      if (last.code() == StatusCode::kDeadlineExceeded) return last;
      current_ = (current_ + 1) % endpoints_.size();
      continue;
    }
    const Status s = StatusOf(*resp);
    if (s.code() == StatusCode::kNotLeader) {
      // Nothing was proposed: safe to go where the hint points.
      const std::string& hint = resp->status().leader_hint();
      size_t next = (current_ + 1) % endpoints_.size();
      for (size_t i = 0; i < endpoints_.size(); ++i) {
        if (endpoints_[i] == hint) next = i;
      }
      if (!hint.empty() && endpoints_[next] != hint) {
        endpoints_.push_back(hint);
        next = endpoints_.size() - 1;
      }
      current_ = next;
      last = s;
      continue;
    }
    if (s.code() == StatusCode::kUnavailable && s.message() == "no leader") {
      last = s;
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 500);
      current_ = (current_ + 1) % endpoints_.size();
      continue;
    }
    return resp;
  }
  return last;
}

}  // namespace pharos::client
