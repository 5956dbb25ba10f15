#include "registry/client_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "common/accept_retry.h"
#include "common/asio.h"
#include "common/frame.h"
#include "common/host_address.h"
#include "common/metrics.h"

namespace pharos::registry {

namespace asio = boost::asio;
using asio::ip::tcp;

pb::Code ToCode(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return pb::OK;
    case StatusCode::kInvalidArgument:
      return pb::INVALID_ARGUMENT;
    case StatusCode::kNotFound:
      return pb::NOT_FOUND;
    case StatusCode::kFailedPrecondition:
      return pb::FAILED_PRECONDITION;
    case StatusCode::kNotLeader:
      return pb::NOT_LEADER;
    case StatusCode::kUnavailable:
      return pb::UNAVAILABLE;
    case StatusCode::kDeadlineExceeded:
      return pb::DEADLINE_EXCEEDED;
    case StatusCode::kCompacted:
      return pb::COMPACTED;
    case StatusCode::kFutureRevision:
      return pb::FUTURE_REVISION;
    case StatusCode::kLeaseNotFound:
      return pb::LEASE_NOT_FOUND;
    case StatusCode::kTooLarge:
      return pb::TOO_LARGE;
    case StatusCode::kResourceExhausted:
      return pb::RESOURCE_EXHAUSTED;
    case StatusCode::kUnauthenticated:
      return pb::UNAUTHENTICATED;
    case StatusCode::kPermissionDenied:
      return pb::PERMISSION_DENIED;
    case StatusCode::kNoSpace:
      return pb::NO_SPACE;
    case StatusCode::kIoError:
    case StatusCode::kCorruption:
    case StatusCode::kInternal:
      return pb::INTERNAL;
    default:
      return pb::UNAVAILABLE;
  }
}

pb::Envelope Reply(const pb::Envelope& request, const Status& status,
                   const std::string& leader_hint) {
  pb::Envelope out;
  out.set_id(request.id());
  out.set_traceparent(request.traceparent());
  if (status.code() == StatusCode::kOutcomeUnknown) {
    out.mutable_status()->set_code(pb::UNAVAILABLE);
    out.mutable_status()->set_outcome_unknown(true);
  } else {
    out.mutable_status()->set_code(ToCode(status.code()));
  }
  out.mutable_status()->set_message(status.message());
  if (!leader_hint.empty()) out.mutable_status()->set_leader_hint(leader_hint);
  return out;
}

namespace {

// Every connection's unsent bytes together, for the gauge: the memory slow readers hold.
std::atomic<size_t> unsent_total{0};
Counter& read_pauses = Metrics::Global().counter(
    "pharos_client_read_pauses_total",
    "Times a client connection stopped being read because its client had not read its answers");
Counter& accept_errors = Metrics::Global().counter(
    "pharos_client_accept_errors_total",
    "Client connections that could not be accepted (each retried after a pause)");

class TcpConnection : public Connection, public std::enable_shared_from_this<TcpConnection> {
 public:
  TcpConnection(tcp::socket socket, uint64_t id, const ClientServiceOptions& options,
                ClientService::Handler* handler, std::function<void(uint64_t)> on_close)
      : socket_(std::move(socket)),
        id_(id),
        options_(options),
        decoder_(options.max_frame_bytes),
        handler_(handler),
        on_close_(std::move(on_close)) {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(tcp::no_delay(true), ec);
  }

  void Start() { Read(); }

  void Send(const pb::Envelope& envelope) override {
    if (!open_) return;
    // Serialized straight onto the bytes waiting for the socket: no string, no copy per reply.
    const size_t bytes = envelope.ByteSizeLong();
    if (bytes > options_.max_answer_bytes) {
      // Clients refuse a frame this large and drop the whole connection with it: this request
      // alone fails, with a reason.
      return Send(
          Reply(envelope, Status(StatusCode::kTooLarge,
                                 "the answer is " + std::to_string(bytes) + " bytes, over the " +
                                     std::to_string(options_.max_answer_bytes) +
                                     " a client accepts; narrow the request or set a limit")));
    }
    const size_t before = pending_.size();
    AppendFrameHeader(&pending_, bytes);
    const size_t at = pending_.size();
    pending_.resize(at + bytes);
    envelope.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(pending_.data() + at));
    unsent_total += pending_.size() - before;
    // Written at the end of this turn of the event loop, with every other reply made in it: the
    // apply thread hands over a batch's answers at once, and one write then carries them all.
    if (flush_posted_ || writing_) return;
    flush_posted_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->Flush();
    });
  }
  void Done() override {
    if (in_flight_ > 0) --in_flight_;
  }
  bool open() const override { return open_; }
  uint64_t id() const override { return id_; }
  std::string peer() const override { return peer_; }
  size_t unsent_bytes() const override { return pending_.size() + (writing_ ? batch_.size() : 0); }
  void WhenUnsentAtMost(size_t bytes, std::function<void()> fn) override {
    if (!open_) return;
    if (unsent_bytes() <= bytes) {
      asio::post(socket_.get_executor(), std::move(fn));
      return;
    }
    unsent_waiters_.emplace_back(bytes, std::move(fn));
  }

  void Close(const std::string& why) {
    if (!open_) return;
    open_ = false;
    unsent_total -= unsent_bytes();
    pending_.clear();
    unsent_waiters_.clear();
    if (!why.empty()) spdlog::warn("closing client connection {}: {}", peer_, why);
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (on_close_) on_close_(id_);
  }

 private:
  void Read() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          if (ec) {
            self->Close("");
            return;
          }
          self->decoder_.Append(std::string_view(self->buffer_.data(), n));
          for (;;) {
            auto frame = self->decoder_.Next();
            if (!frame.ok()) {
              self->Close(frame.status().message());
              return;
            }
            if (!frame->has_value()) break;
            pb::Envelope env;
            if (!env.ParseFromString(**frame)) {
              self->Close("unparsable frame");
              return;
            }
            if (self->in_flight_ >= self->options_.max_in_flight_per_connection) {
              self->Send(Reply(env, Status(StatusCode::kResourceExhausted,
                                           "too many requests in flight on this connection")));
              continue;
            }
            ++self->in_flight_;
            (*self->handler_)(self, std::move(env));
            if (!self->open_) return;
          }
          self->ReadWhenCaughtUp();
        });
  }

  // Reads on, unless the client has left too much unread: then once it has read half of it.
  void ReadWhenCaughtUp() {
    const size_t limit = options_.pause_reading_at_unsent_bytes;
    if (unsent_bytes() <= limit) return Read();
    read_pauses.Inc();
    WhenUnsentAtMost(limit / 2, [self = shared_from_this()] {
      if (self->open_) self->Read();
    });
  }

  void Flush() {
    if (writing_ || pending_.empty() || !open_) return;
    writing_ = true;
    // The two buffers trade places: replies keep landing in one while the other is written, and
    // neither is copied or reallocated once both have grown to the connection's usual batch.
    batch_.clear();
    batch_.swap(pending_);
    asio::async_write(socket_, asio::buffer(batch_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (!self->open_) return;  // Close counted the batch out already
                        unsent_total -= self->batch_.size();
                        self->writing_ = false;
                        if (ec) {
                          self->Close("");
                          return;
                        }
                        self->Flush();
                        self->RunUnsentWaiters();
                      });
  }

  void RunUnsentWaiters() {
    if (unsent_waiters_.empty()) return;
    const size_t unsent = unsent_bytes();
    std::vector<std::function<void()>> due;
    for (auto it = unsent_waiters_.begin(); it != unsent_waiters_.end();) {
      if (unsent <= it->first) {
        due.push_back(std::move(it->second));
        it = unsent_waiters_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& fn : due) fn();
  }

  tcp::socket socket_;
  uint64_t id_;
  std::string peer_;
  ClientServiceOptions options_;
  FrameDecoder decoder_;
  ClientService::Handler* handler_;
  std::function<void(uint64_t)> on_close_;
  std::array<char, 64 * 1024> buffer_;
  std::string pending_;  // framed replies not yet handed to the socket
  std::string batch_;    // the bytes of the write in flight
  bool writing_ = false;
  bool flush_posted_ = false;
  bool open_ = true;
  size_t in_flight_ = 0;
  std::vector<std::pair<size_t, std::function<void()>>> unsent_waiters_;  // WhenUnsentAtMost
};

}  // namespace

class ClientService::Impl {
 public:
  Impl(asio::io_context& io, ClientServiceOptions options, Handler handler, Closed closed)
      : io_(io),
        options_(std::move(options)),
        handler_(std::move(handler)),
        closed_(std::move(closed)),
        acceptor_(io),
        accept_retry_(io) {}

  Status Start() {
    const size_t colon = options_.listen.rfind(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument("bad client address " + options_.listen);
    }
    auto host = NumericHost(options_.listen.substr(0, colon));  // a name: once, at start
    if (!host.ok()) return host.status();
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(*host, ec);
    if (ec) return Status::InvalidArgument("bad client address " + options_.listen);
    tcp::endpoint ep(ip, static_cast<uint16_t>(std::stoi(options_.listen.substr(colon + 1))));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("cannot listen on " + options_.listen + ": " + ec.message());
    Accept();
    return Status::Ok();
  }

  uint16_t port() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

  void StopAccepting() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  }

  void CloseAll() {
    StopAccepting();
    auto conns = connections_;
    for (auto& [id, weak] : conns) {
      if (auto c = weak.lock()) c->Close("");
    }
    connections_.clear();
  }

  size_t count() const { return connections_.size(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) {
        if (AcceptAgainAfterPause(ec, acceptor_, accept_retry_, [this] { Accept(); })) {
          accept_errors.Inc();
          // Logged once per failing spell, not once per retry.
          if (!accept_failing_) {
            spdlog::warn("cannot accept client connections: {}; retrying", ec.message());
          }
          accept_failing_ = true;
        }
        return;
      }
      accept_failing_ = false;
      const uint64_t id = next_id_++;
      auto conn = std::make_shared<TcpConnection>(std::move(socket), id, options_, &handler_,
                                                  [this](uint64_t cid) {
                                                    connections_.erase(cid);
                                                    if (closed_) closed_(cid);
                                                  });
      connections_[id] = conn;
      conn->Start();
      Accept();
    });
  }

  asio::io_context& io_;
  ClientServiceOptions options_;
  Handler handler_;
  Closed closed_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  bool accept_failing_ = false;
  std::map<uint64_t, std::weak_ptr<TcpConnection>> connections_;
  uint64_t next_id_ = 1;
};

ClientService::ClientService(asio::io_context& io, ClientServiceOptions options, Handler handler,
                             Closed closed)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(handler), std::move(closed))) {
}
ClientService::~ClientService() { impl_->CloseAll(); }
Status ClientService::Start() { return impl_->Start(); }
uint16_t ClientService::port() const { return impl_->port(); }
void ClientService::StopAccepting() { impl_->StopAccepting(); }
void ClientService::CloseAll() { impl_->CloseAll(); }
size_t ClientService::connections() const { return impl_->count(); }

size_t ClientService::UnsentBytes() { return unsent_total.load(); }

}  // namespace pharos::registry
