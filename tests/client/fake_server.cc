#include "tests/client/fake_server.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "common/frame.h"

namespace pharos::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

struct FakeServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::thread thread;
  Script script;
  FakeServer* owner = nullptr;

  struct Conn : std::enable_shared_from_this<Conn> {
    explicit Conn(tcp::socket s, Impl* impl) : socket(std::move(s)), impl(impl) {}
    tcp::socket socket;
    Impl* impl;
    FrameDecoder decoder;
    std::array<char, 65536> buf;

    void Read() {
      auto self = shared_from_this();
      socket.async_read_some(asio::buffer(buf), [self](boost::system::error_code ec, size_t n) {
        if (ec) return;
        self->decoder.Append(std::string_view(self->buf.data(), n));
        for (;;) {
          auto f = self->decoder.Next();
          if (!f.ok() || !f->has_value()) break;
          pb::Envelope req;
          req.ParseFromString(**f);
          ++self->impl->owner->requests_;
          self->impl->Record(req);
          Action a = self->impl->script(req);
          if (a.kind == Action::Kind::kClose) {
            self->socket.close();
            return;
          }
          if (a.kind == Action::Kind::kIgnore) continue;
          a.reply.set_id(req.id());
          a.reply.set_traceparent(req.traceparent());
          self->Send(a.reply);
        }
        self->Read();
      });
    }

    // One write at a time: frames written concurrently could interleave on the socket.
    void Send(const pb::Envelope& message) {
      AppendFrame(&queued, message.SerializeAsString());
      if (!writing) Write();
    }
    void Write() {
      if (queued.empty()) return;
      writing = true;
      auto out = std::make_shared<std::string>(std::move(queued));
      queued.clear();
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(*out),
                        [self, out](boost::system::error_code ec, size_t) {
                          self->writing = false;
                          if (!ec) self->Write();
                        });
    }
    std::string queued;
    bool writing = false;
  };
  std::vector<std::weak_ptr<Conn>> conns;  // I/O thread

  void Record(const pb::Envelope& request) {
    std::lock_guard lock(mu);
    received.push_back(request);
    arrived.notify_all();
  }
  mutable std::mutex mu;
  mutable std::condition_variable arrived;
  std::vector<pb::Envelope> received;  // guarded by mu

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++owner->connections_;
      auto conn = std::make_shared<Conn>(std::move(s), this);
      conns.push_back(conn);
      conn->Read();
      Accept();
    });
  }
};

FakeServer::FakeServer(Script script) : impl_(std::make_unique<Impl>()) {
  impl_->script = std::move(script);
  impl_->owner = this;
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

FakeServer::~FakeServer() {
  impl_->io.stop();
  impl_->thread.join();
}

std::string FakeServer::endpoint() const {
  return "127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}

std::optional<pb::Envelope> FakeServer::WaitForRequest(
    const std::function<bool(const pb::Envelope&)>& pred,
    std::chrono::milliseconds deadline) const {
  std::unique_lock lock(impl_->mu);
  std::optional<pb::Envelope> found;
  impl_->arrived.wait_for(lock, deadline, [&] {
    for (const pb::Envelope& e : impl_->received) {
      if (pred(e)) {
        found = e;
        return true;
      }
    }
    return false;
  });
  return found;
}

void FakeServer::Push(const pb::Envelope& message) {
  asio::post(impl_->io, [impl = impl_.get(), message] {
    for (const auto& weak : impl->conns) {
      if (auto conn = weak.lock(); conn && conn->socket.is_open()) conn->Send(message);
    }
  });
}

FakeServer::Action FakeServer::Ok(pb::Envelope reply) {
  reply.mutable_status()->set_code(pb::OK);
  return {Action::Kind::kReply, std::move(reply)};
}

pb::Envelope FakeServer::WatchCreated(int64_t watch_id, int64_t revision) {
  pb::Envelope e;
  e.mutable_status()->set_code(pb::OK);
  e.mutable_watch_response()->set_created(true);
  e.mutable_watch_response()->set_watch_id(watch_id);
  e.mutable_watch_response()->mutable_header()->set_revision(revision);
  return e;
}

FakeServer::Action FakeServer::Error(pb::Code code, const std::string& message,
                                     const std::string& hint) {
  pb::Envelope reply;
  reply.mutable_status()->set_code(code);
  reply.mutable_status()->set_message(message);
  reply.mutable_status()->set_leader_hint(hint);
  return {Action::Kind::kReply, std::move(reply)};
}

}  // namespace pharos::testing
