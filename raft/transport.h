// Transport: Raft messages between the members of a cluster over TCP (DESIGN.md §3). One outbound
// connection per peer, its socket bound to this node's own peer address (so per-node firewall
// rules can partition nodes that share a host); frames are a 4-byte length and a tagged payload.
// A peer is named by an IPv4 address or a host name, looked up again for every connection (on a
// thread of the lookup's own), so a member that comes back at a new address under its name is
// found; meanwhile connections go to where the last lookup found it.
// A peer that is down or slow never blocks the caller: messages queue up to a bound and beyond it
// are dropped (reported as unreachable, which Raft tolerates); reconnection uses jittered
// exponential backoff, cut short when the peer sends us a message. A connection the peer closes
// is noticed at once (the next message reconnects) rather than at the next failed write, unless
// the peer keeps closing new connections at once, and one to a peer that went silent ends after
// peer_timeout_ms. A snapshot (MSG_SNAP) goes in chunks on a connection of its own, so it never
// queues ahead of heartbeats, and its outcome is reported back, failure included.
//
// Thread rules: every method, and every callback, runs on the io_context's thread (the node's
// raft thread, which also runs the Raft core).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "proto/raft.pb.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace pharos::raft {

struct TransportOptions {
  uint64_t self_id = 0;
  // Where peers connect to us: "host:port" (port 0 picks a free one; a name is looked up at
  // Start).
  std::string listen = "127.0.0.1:0";
  // Address our outgoing sockets bind to (our own peer host; a name is looked up at Start).
  std::string bind_host = "127.0.0.1";
  size_t max_queued_messages = 4096;
  size_t max_frame_bytes = 8 << 20;
  size_t snapshot_chunk_bytes = 1 << 20;
  int backoff_min_ms = 20;
  int backoff_max_ms = 1000;
  // A connection that ends sooner than this, twice in a row with no failed connect between (a
  // member that took this peer's old address, closing every connection that brings it another
  // member's messages), is backed off from as a failed connect is; otherwise every message would
  // reconnect. From then on only a connection that stays up this long, or a failed connect,
  // forgives the backoff: neither a connect nor a message from the peer does. Once (a peer that
  // restarted) reconnects at once.
  int stable_connection_ms = 1000;
  // A connect not done by then is given up and retried with backoff. A peer whose host is gone,
  // or behind a network that drops packets, answers no SYN, and the kernel keeps trying for two
  // minutes.
  int connect_timeout_ms = 1000;
  // Data a peer has not acknowledged for this long ends the connection (TCP_USER_TIMEOUT), and
  // keepalive probes find the same on idle connections, inbound ones too. Without it a peer gone
  // without a FIN (a host lost, a partition) or one that stopped reading kept a connection that
  // looked healthy for up to fifteen minutes, and a snapshot to it never ended. etcd's peer
  // connections time out reads and writes after 5 s.
  int peer_timeout_ms = 5000;
  // Called on the io_context's thread when a peer's name fails to resolve, once until it resolves
  // again (the transport itself logs nothing): a misspelt name, or a peer not scheduled yet, is
  // otherwise only a peer that cannot be reached.
  std::function<void(uint64_t peer, const std::string& error)> lookup_failed;
  // How a peer's name is looked up, on a thread of the lookup's own; by default the system's
  // resolver (NumericHost, common/host_address.h). Tests stand in one they control. A lookup may
  // outlive the transport (its thread is not joined), so this owns whatever it uses.
  std::function<Result<std::string>(const std::string& host)> look_up;
};

class Transport {
 public:
  // Incoming messages for the core (including reassembled snapshots).
  using Receive = std::function<void(raftpb::Message)>;
  // The transport could not deliver to `peer` (the core is told MSG_UNREACHABLE).
  using Unreachable = std::function<void(uint64_t peer)>;
  // A snapshot transfer to `peer` ended (ReportSnapshot).
  using SnapshotDone = std::function<void(uint64_t peer, bool ok)>;

  Transport(boost::asio::io_context& io, TransportOptions options, Receive receive,
            Unreachable unreachable, SnapshotDone snapshot_done);
  ~Transport();

  // Binds and starts accepting peer connections.
  Status Start();
  // The port we listen on (after Start).
  uint16_t port() const;
  // Adds or moves a peer; the same address again keeps its connection and what it has queued.
  // The host is an IPv4 literal or a name, looked up again for every connection; anything else,
  // or no port, is refused.
  Status AddPeer(uint64_t id, const std::string& address);
  void RemovePeer(uint64_t id);
  void Send(const std::vector<raftpb::Message>& messages);
  // As above; a snapshot message is moved into its transfer rather than copied.
  void Send(std::vector<raftpb::Message>&& messages);
  // Closes every connection; pending messages are dropped.
  void Stop();

  struct Stats {
    uint64_t sent = 0, dropped = 0, received = 0, connects = 0;
    // Outbound connections the peer ended (it stopped or restarted) while we had nothing to send.
    uint64_t closed_by_peer = 0;
    // Of those, the ones ended within stable_connection_ms of their connect.
    uint64_t closed_young = 0;
    // Reconnections that stopped waiting out their backoff because the peer sent us a message.
    uint64_t backoffs_cut_short = 0;
    // Accepts that failed (out of file descriptors, most often); each is retried after a pause.
    uint64_t accept_errors = 0;
    // Messages that arrived for another member (a sender's stale lookup); each closed its
    // connection.
    uint64_t misdirected = 0;
  };
  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pharos::raft
