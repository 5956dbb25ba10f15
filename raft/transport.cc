#include "raft/transport.h"

#include <array>
#include <deque>
#include <random>
#include <set>

#include "common/asio.h"
#include "common/frame.h"
#include "raft/snapshot_stream.h"

namespace pharos::raft {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr char kMessageTag = 'M';
constexpr char kChunkTag = 'S';

bool SplitHostPort(const std::string& address, std::string* host, uint16_t* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  try {
    const int p = std::stoi(address.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    *port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

std::string Frame(char tag, const google::protobuf::MessageLite& payload) {
  std::string body(1, tag);
  payload.AppendToString(&body);
  std::string frame;
  AppendFrame(&frame, body);
  return frame;
}

// What every connection object shares with the transport; outlives the Transport while
// handlers drain, and tells them to stop.
struct Shared {
  asio::io_context& io;
  TransportOptions options;
  Transport::Receive receive;
  Transport::Unreachable unreachable;
  Transport::SnapshotDone snapshot_done;
  // A message from this peer arrived: it is up (set by the transport, called by inbound
  // connections).
  std::function<void(uint64_t peer)> heard_from;
  Transport::Stats stats;
  bool stopped = false;
  std::mt19937_64 rng{std::random_device{}()};
};

// The outbound connection to one peer, connected lazily and re-established with backoff.
class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  PeerLink(std::shared_ptr<Shared> shared, uint64_t id, std::string host, uint16_t port)
      : s_(std::move(shared)),
        id_(id),
        host_(std::move(host)),
        port_(port),
        socket_(s_->io),
        timer_(s_->io) {}

  void Enqueue(std::string frame) {
    if (queue_.size() >= s_->options.max_queued_messages) {
      ++s_->stats.dropped;
      if (s_->unreachable) s_->unreachable(id_);
      return;
    }
    queue_.push_back(std::move(frame));
    if (connected_) {
      // At the end of this event-loop turn, with every other message made in it (one Ready
      // sends several to each peer): one write for all of them.
      if (flush_posted_ || writing_) return;
      flush_posted_ = true;
      asio::post(socket_.get_executor(), [self = shared_from_this()] {
        self->flush_posted_ = false;
        if (!self->s_->stopped && self->connected_) self->Flush();
      });
    } else if (!connecting_ && !waiting_) {
      Connect();
    }
  }

  void Close() {
    ++generation_;
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
    queue_.clear();
    connected_ = connecting_ = writing_ = false;
  }

  // The peer just sent us a message, so it is up: a reconnection waiting out the backoff (which
  // grew towards backoff_max_ms while the peer was down) need not wait any longer. Without this a
  // restarted member heard nothing from the leader for up to a second, campaigned in vain, and
  // its reads found no leader to answer them.
  void PeerIsUp() {
    if (!waiting_) return;
    ++generation_;  // the pending wait's handler does nothing now
    waiting_ = false;
    backoff_ms_ = 0;
    timer_.cancel();
    ++s_->stats.backoffs_cut_short;
    if (!queue_.empty()) Connect();
  }

 private:
  void Connect() {
    connecting_ = true;
    ++generation_;
    boost::system::error_code ec;
    socket_ = tcp::socket(s_->io);
    const auto bind_ip = asio::ip::make_address(s_->options.bind_host, ec);
    socket_.open(tcp::v4(), ec);
    if (!ec && !bind_ip.is_unspecified()) socket_.bind(tcp::endpoint(bind_ip, 0), ec);
    const auto ip = asio::ip::make_address(host_, ec);
    if (ec) {
      Failed();
      return;
    }
    socket_.async_connect(tcp::endpoint(ip, port_),
                          [self = shared_from_this()](const boost::system::error_code& err) {
                            self->OnConnect(err);
                          });
  }

  void OnConnect(const boost::system::error_code& ec) {
    connecting_ = false;
    if (s_->stopped) return;
    if (ec) {
      Failed();
      return;
    }
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    connected_ = true;
    backoff_ms_ = 0;
    ++s_->stats.connects;
    WatchForClose();
    Flush();
  }

  // The peer never writes on this connection, so a read completes only when the connection
  // ends. Without it a dead peer's connection looked healthy until a write to it failed: the
  // first message after the peer restarted went into the dead socket and was lost. That message
  // was a survivor's first pre-vote after a leader crashed, and the failover waited a whole
  // election timeout more for the next one.
  void WatchForClose() {
    socket_.async_read_some(asio::buffer(probe_),
                            [self = shared_from_this(), generation = generation_](
                                const boost::system::error_code&, size_t) {
                              if (self->s_->stopped || generation != self->generation_) return;
                              self->OnClosedByPeer();
                            });
  }

  void OnClosedByPeer() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    // A write in flight fails now, and its handler reconnects (Failed).
    if (writing_) return;
    ++generation_;
    connected_ = false;
    ++s_->stats.closed_by_peer;
    // Nothing was lost: the next message reconnects at once, and so does one already queued.
    if (!queue_.empty()) Connect();
  }

  void Flush() {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    // Everything queued goes in one write: fewer syscalls under load.
    batch_.clear();
    size_t n = 0;
    while (!queue_.empty() && batch_.size() < (1 << 20)) {
      batch_ += std::move(queue_.front());
      queue_.pop_front();
      ++n;
    }
    asio::async_write(socket_, asio::buffer(batch_),
                      [self = shared_from_this(), n](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        if (self->s_->stopped) return;
                        if (ec) {
                          self->Failed();
                          return;
                        }
                        self->s_->stats.sent += n;
                        self->Flush();
                      });
  }

  // Drops what is queued (Raft retransmits what matters), reports the peer unreachable and
  // tries again after a jittered, growing delay.
  void Failed() {
    ++generation_;
    boost::system::error_code ignored;
    socket_.close(ignored);
    connected_ = connecting_ = false;
    s_->stats.dropped += queue_.size();
    queue_.clear();
    if (s_->unreachable) s_->unreachable(id_);
    backoff_ms_ = backoff_ms_ == 0 ? s_->options.backoff_min_ms
                                   : std::min(backoff_ms_ * 2, s_->options.backoff_max_ms);
    const int jittered = backoff_ms_ / 2 + static_cast<int>(s_->rng() % (backoff_ms_ / 2 + 1));
    waiting_ = true;
    timer_.expires_after(std::chrono::milliseconds(jittered));
    timer_.async_wait(
        [self = shared_from_this(), generation = generation_](const boost::system::error_code& ec) {
          if (ec || self->s_->stopped || generation != self->generation_) return;
          self->waiting_ = false;
          if (!self->queue_.empty()) self->Connect();
        });
  }

  std::shared_ptr<Shared> s_;
  uint64_t id_;
  std::string host_;
  uint16_t port_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::deque<std::string> queue_;
  std::string batch_;
  bool connected_ = false, connecting_ = false, writing_ = false, waiting_ = false;
  bool flush_posted_ = false;
  int backoff_ms_ = 0;
  // Changes whenever the socket is closed or replaced and whenever a backoff wait is cut short:
  // a close watch or a wait's timer from before does nothing.
  uint64_t generation_ = 0;
  std::array<char, 1> probe_;
};

// One snapshot transfer on its own connection.
class SnapshotSender : public std::enable_shared_from_this<SnapshotSender> {
 public:
  SnapshotSender(std::shared_ptr<Shared> shared, uint64_t peer, std::string host, uint16_t port,
                 raftpb::Message&& snap)
      : s_(std::move(shared)), peer_(peer), host_(std::move(host)), port_(port), socket_(s_->io) {
    for (const auto& chunk : SplitSnapshot(std::move(snap), s_->options.snapshot_chunk_bytes)) {
      frames_.push_back(Frame(kChunkTag, chunk));
    }
  }

  void Start() {
    boost::system::error_code ec;
    socket_.open(tcp::v4(), ec);
    const auto bind_ip = asio::ip::make_address(s_->options.bind_host, ec);
    if (!ec && !bind_ip.is_unspecified()) socket_.bind(tcp::endpoint(bind_ip, 0), ec);
    const auto ip = asio::ip::make_address(host_, ec);
    if (ec) {
      Done(false);
      return;
    }
    socket_.async_connect(tcp::endpoint(ip, port_),
                          [self = shared_from_this()](const boost::system::error_code& err) {
                            if (err) {
                              self->Done(false);
                            } else {
                              self->WriteNext();
                            }
                          });
  }

 private:
  void WriteNext() {
    if (s_->stopped) return;
    if (next_ == frames_.size()) {
      Done(true);
      return;
    }
    asio::async_write(socket_, asio::buffer(frames_[next_]),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (ec) {
                          self->Done(false);
                          return;
                        }
                        self->frames_[self->next_].clear();
                        ++self->next_;
                        self->WriteNext();
                      });
  }

  void Done(bool ok) {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
    if (!s_->stopped && s_->snapshot_done) s_->snapshot_done(peer_, ok);
  }

  std::shared_ptr<Shared> s_;
  uint64_t peer_;
  std::string host_;
  uint16_t port_;
  tcp::socket socket_;
  std::vector<std::string> frames_;
  size_t next_ = 0;
};

// A connection a peer opened to us: messages, or the chunks of one snapshot.
class Inbound : public std::enable_shared_from_this<Inbound> {
 public:
  Inbound(std::shared_ptr<Shared> shared, tcp::socket socket)
      : s_(std::move(shared)), socket_(std::move(socket)), decoder_(s_->options.max_frame_bytes) {}

  void Start() { Read(); }
  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void Read() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          if (ec || self->s_->stopped) return;  // closed: a broken snapshot stream is dropped
          self->decoder_.Append(std::string_view(self->buffer_.data(), n));
          if (!self->Drain()) {
            self->Close();
            return;
          }
          self->Read();
        });
  }

  // Returns false on a bad frame: the connection is closed (the peer reconnects).
  bool Drain() {
    for (;;) {
      auto frame = decoder_.Next();
      if (!frame.ok()) return false;
      if (!frame->has_value()) return true;
      const std::string& body = **frame;
      if (body.empty()) return false;
      if (body[0] == kMessageTag) {
        raftpb::Message m;
        if (!m.ParseFromArray(body.data() + 1, static_cast<int>(body.size() - 1))) return false;
        ++s_->stats.received;
        if (s_->heard_from) s_->heard_from(m.from());
        if (s_->receive) s_->receive(std::move(m));
      } else if (body[0] == kChunkTag) {
        raftpb::SnapshotChunk chunk;
        if (!chunk.ParseFromArray(body.data() + 1, static_cast<int>(body.size() - 1))) {
          return false;
        }
        auto done = assembler_.Add(chunk);
        if (!done.ok()) return false;
        if (done->has_value()) {
          ++s_->stats.received;
          if (s_->receive) s_->receive(std::move(**done));
        }
      } else {
        return false;
      }
    }
  }

  std::shared_ptr<Shared> s_;
  tcp::socket socket_;
  FrameDecoder decoder_;
  SnapshotAssembler assembler_;
  std::array<char, 64 * 1024> buffer_;
};

}  // namespace

class Transport::Impl {
 public:
  Impl(asio::io_context& io, TransportOptions options, Receive receive, Unreachable unreachable,
       SnapshotDone snapshot_done)
      : shared_(std::make_shared<Shared>(Shared{io,
                                                std::move(options),
                                                std::move(receive),
                                                std::move(unreachable),
                                                std::move(snapshot_done),
                                                {},
                                                {}})),
        acceptor_(io) {
    // Inbound connections call it only while the transport runs (Stop comes before ~Impl).
    shared_->heard_from = [this](uint64_t peer) {
      auto it = peers_.find(peer);
      if (it != peers_.end()) it->second.link->PeerIsUp();
    };
  }

  Status Start() {
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(shared_->options.listen, &host, &port)) {
      return Status::InvalidArgument("bad listen address '" + shared_->options.listen + "'");
    }
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(host, ec);
    if (ec) return Status::InvalidArgument("bad listen host '" + host + "'");
    tcp::endpoint ep(ip, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Unavailable("cannot listen on " + shared_->options.listen + ": " +
                                 ec.message());
    Accept();
    return Status::Ok();
  }

  uint16_t port() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

  void AddPeer(uint64_t id, const std::string& address) {
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(address, &host, &port)) return;
    RemovePeer(id);
    peers_[id] = Peer{host, port, std::make_shared<PeerLink>(shared_, id, host, port)};
  }

  void RemovePeer(uint64_t id) {
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    it->second.link->Close();
    peers_.erase(it);
  }

  void Send(const std::vector<raftpb::Message>& messages) {
    for (const raftpb::Message& m : messages) {
      SendOne(m);  // a snapshot is copied for its transfer
    }
  }
  // A snapshot's data goes to its transfer uncopied.
  void Send(std::vector<raftpb::Message>&& messages) {
    for (raftpb::Message& m : messages) SendOne(std::move(m));
  }

  void Stop() {
    shared_->stopped = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& [id, p] : peers_) p.link->Close();
    peers_.clear();
    for (auto& weak : inbound_) {
      if (auto in = weak.lock()) in->Close();
    }
    inbound_.clear();
  }

  Stats stats() const { return shared_->stats; }

 private:
  // Frames `m` for its peer's link; a snapshot gets a transfer of its own, which takes `m`.
  void SendOne(const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_SNAP) {
      SendOne(raftpb::Message(m));
      return;
    }
    if (const Peer* peer = Destination(m.to())) peer->link->Enqueue(Frame(kMessageTag, m));
  }
  void SendOne(raftpb::Message&& m) {
    if (m.type() != raftpb::MSG_SNAP) {
      SendOne(static_cast<const raftpb::Message&>(m));
      return;
    }
    const uint64_t to = m.to();
    if (const Peer* peer = Destination(to)) {
      std::make_shared<SnapshotSender>(shared_, to, peer->host, peer->port, std::move(m))->Start();
    }
  }

  struct Peer {
    std::string host;
    uint16_t port;
    std::shared_ptr<PeerLink> link;
  };
  // The peer a message goes to; nullptr (the message counted as dropped) when the transport is
  // stopped or the peer unknown.
  const Peer* Destination(uint64_t to) {
    if (shared_->stopped) return nullptr;
    auto it = peers_.find(to);
    if (it == peers_.end()) {
      ++shared_->stats.dropped;
      return nullptr;
    }
    return &it->second;
  }

  void Accept() {
    acceptor_.async_accept(
        [this, shared = shared_](const boost::system::error_code& ec, tcp::socket socket) {
          if (shared->stopped) return;
          if (!ec) {
            auto in = std::make_shared<Inbound>(shared, std::move(socket));
            inbound_.push_back(in);
            in->Start();
            // Forget connections that have gone away.
            std::erase_if(inbound_, [](const std::weak_ptr<Inbound>& w) { return w.expired(); });
          }
          Accept();
        });
  }

  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  std::map<uint64_t, Peer> peers_;
  std::vector<std::weak_ptr<Inbound>> inbound_;
};

Transport::Transport(asio::io_context& io, TransportOptions options, Receive receive,
                     Unreachable unreachable, SnapshotDone snapshot_done)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(receive),
                                   std::move(unreachable), std::move(snapshot_done))) {}

Transport::~Transport() { impl_->Stop(); }

Status Transport::Start() { return impl_->Start(); }
uint16_t Transport::port() const { return impl_->port(); }
void Transport::AddPeer(uint64_t id, const std::string& address) { impl_->AddPeer(id, address); }
void Transport::RemovePeer(uint64_t id) { impl_->RemovePeer(id); }
void Transport::Send(const std::vector<raftpb::Message>& messages) { impl_->Send(messages); }
void Transport::Send(std::vector<raftpb::Message>&& messages) { impl_->Send(std::move(messages)); }
void Transport::Stop() { impl_->Stop(); }
Transport::Stats Transport::stats() const { return impl_->stats(); }

}  // namespace pharos::raft
