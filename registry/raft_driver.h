// RaftDriver: runs one Raft core for real — ticks from a timer, messages through the Transport,
// Readys persisted through the LogStore's group-commit writer — on the node's I/O thread
// (DESIGN.md §8). It follows the contract of raft/ready.h: messages that may leave at once leave
// at once (a leader replicates while its own fsync runs); the rest leave, and committed entries
// go to the application, once the Ready is durable.
//
// Thread rules: every method must be called on the io_context's thread; callbacks run there too.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "raft/node.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace pharos::raft {
class LogStore;
class Transport;
}  // namespace pharos::raft

namespace pharos::registry {

class StorageEngine;

struct RaftDriverOptions {
  uint64_t id = 0;
  std::string listen_peer;  // host:port
  // Peer id -> peer address, this member included.
  std::map<uint64_t, std::string> peers;
  // Bootstraps a new cluster with these voters when the log is empty.
  std::vector<uint64_t> bootstrap_voters;
  int tick_ms = 10;
  int election_min_ticks = 15;
  int election_max_ticks = 30;
  int heartbeat_ticks = 5;
  uint64_t applied = 0;  // what the state machine already applied (restart)
  // Compact the log once this many entries have been applied since the last compaction.
  uint64_t snapshot_count = 10000;
  // Stamped on every message we send; messages stamped with another id are dropped. 0: not known
  // yet — adopted from the first message that carries one (a member joining a cluster).
  uint64_t cluster_id = 0;
};

class RaftDriver {
 public:
  struct Callbacks {
    // The snapshot to restore (if any), then committed entries in order, once durable.
    std::function<void(std::optional<raftpb::Snapshot>, std::vector<raftpb::Entry>)> apply;
    std::function<void(const raft::ReadState&)> read_state;
    std::function<void(const raft::SoftState&)> soft_state;
    // The state machine's data for a snapshot a follower needs; `done` gets it (or an error).
    std::function<void(std::function<void(Result<std::string>)> done)> snapshot_data;
    // The cluster id was not known and a peer's message brought it: keep it.
    std::function<void(uint64_t cluster_id)> cluster_id_learned;
  };

  static Result<std::unique_ptr<RaftDriver>> Start(boost::asio::io_context& io,
                                                   StorageEngine& storage,
                                                   RaftDriverOptions options, Callbacks callbacks);
  ~RaftDriver();

  Status Propose(std::string data);
  Status ProposeOrForward(std::string data);
  // Proposes a membership change; *index is where its entry landed.
  Status ProposeConfChange(const raftpb::ConfChange& cc, uint64_t* index);
  void AddPeer(uint64_t id, const std::string& address);
  void RemovePeer(uint64_t id);
  void ReadIndex(std::string context);
  Status TransferLeader(uint64_t id);
  raft::NodeStatus status() const;
  // The state machine has applied (and written, unsynced) everything up to `index`: compacts the
  // log there once enough has accumulated. Its synced write also makes those writes durable.
  void MaybeCompact(uint64_t index);
  const raft::Node& node() const { return *node_; }
  // Stops ticking and closes peer connections; waits for the log writer.
  void Stop();

 private:
  RaftDriver(boost::asio::io_context& io, Callbacks callbacks);
  void ScheduleTick();
  void Pump();
  void OnPersisted(Status s, raft::Ready ready);
  void Send(std::vector<raftpb::Message> messages);
  // False (and the message is dropped) when it comes from another cluster.
  bool SameCluster(const raftpb::Message& m);

  boost::asio::io_context& io_;
  Callbacks callbacks_;
  RaftDriverOptions options_;
  std::unique_ptr<raft::LogStore> log_;
  std::unique_ptr<raft::Transport> transport_;
  std::unique_ptr<raft::Node> node_;
  struct Timer;
  std::unique_ptr<Timer> timer_;
  bool persisting_ = false;
  bool compacting_ = false;
  bool stopped_ = false;
  uint64_t foreign_dropped_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pharos::registry
