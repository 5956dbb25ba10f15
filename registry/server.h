// Server: one pharosd member, wired (DESIGN.md §1): the client service routes each request —
// writes to Raft (answered when the entry carrying the request's id is applied), linearizable
// reads through ReadIndex then the apply thread, serializable reads straight to the apply thread,
// watches and lease state to the apply thread. A follower answers writes NOT_LEADER with the
// leader's client address (it does not forward them): one hop fewer for the SDK, which follows
// the hint and keeps talking to the leader.
//
// Thread rules: Start, Shutdown and every handler run on the io_context's thread (the client I/O
// thread). The Raft core runs on the RaftDriver's own thread and is reached only by posting to
// it; its answers, like the apply thread's, are posted back here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/pharos.pb.h"
#include "raft/ready.h"
#include "registry/request_metrics.h"
#include "registry/server_config.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace pharos::registry {

class Applier;
class AutoCompactor;
class ClientService;
class HttpService;
struct HttpResponse;
class Connection;
class RaftDriver;
class StorageEngine;
struct AppliedRequest;

class Server {
 public:
  Server(boost::asio::io_context& io, ServerConfig config);
  ~Server();

  Status Start();
  // Graceful stop: refuse new connections, hand leadership to another voter if we lead, finish
  // what is in flight, close. `done` runs when it is safe to exit.
  void Shutdown(std::function<void()> done);
  // Runs when this member learns that the cluster removed it, from its own log or from a peer
  // (its data will not start again); pharosd then shuts down and exits with an error, as etcd.
  void OnRemovedFromCluster(std::function<void()> fn) { on_removed_ = std::move(fn); }
  uint16_t client_port() const;

 private:
  struct PendingWrite {
    std::shared_ptr<Connection> conn;
    pb::Envelope request;
    std::chrono::steady_clock::time_point deadline;
    // RaftDriver's ticket for the proposal. A lost leadership makes the outcome unknown only of
    // the proposals the core had seen; it refuses the others, and they are answered NOT_LEADER.
    uint64_t ticket = 0;
  };
  struct PendingRead {
    std::function<void(Status, uint64_t)> then;
    std::chrono::steady_clock::time_point deadline;
    // When to ask again (Sweep): the request or its answer can be lost on the way.
    std::chrono::steady_clock::time_point retry_at;
  };
  struct WatchStream {
    std::weak_ptr<Connection> conn;
    uint64_t envelope_id = 0;
    uint64_t connection_id = 0;
    bool polling = false;
    bool repoll = false;
    // Its connection's client reads too slowly: no polling until the backlog shrinks.
    bool backlogged = false;
    // Created with progress_notify: the periodic timer asks the hub for a progress notification.
    bool progress_notify = false;
    // Sent events since the last periodic tick: the events told the client the revision, so this
    // tick skips it (as etcd), and a busy watch is not sent an empty response every interval.
    bool sent_events_since_tick = false;
  };

  void Handle(std::shared_ptr<Connection> c, pb::Envelope env);
  void Respond(const std::shared_ptr<Connection>& c, pb::Envelope reply, bool done = true);
  void Fail(const std::shared_ptr<Connection>& c, const pb::Envelope& env, const Status& s);
  bool CheckLeader(const std::shared_ptr<Connection>& c, const pb::Envelope& env);
  void Propose(const std::shared_ptr<Connection>& c, const pb::Envelope& env, pb::RaftRequest req);
  // Gives a request this member proposes its id (returned) and names this member its proposer.
  uint64_t Stamp(pb::RaftRequest& req);
  // The raft thread refused the client write with this request id.
  void OnRefused(uint64_t request_id, const Status& s);
  // Confirms leadership / finds the read index, then runs `then` with it.
  void ReadIndex(std::function<void(Status, uint64_t)> then);
  // Starts the next confirmation round now, or, under load, at its time (kReadRoundSpacing).
  void MaybeStartReadRound();
  // One confirmation round for every read queued since the last round began.
  void StartReadRound();
  void HandleRange(std::shared_ptr<Connection> c, pb::Envelope env);
  void HandleWatch(std::shared_ptr<Connection> c, pb::Envelope env);
  void HandleLease(std::shared_ptr<Connection> c, pb::Envelope env);
  void HandleMembers(std::shared_ptr<Connection> c, pb::Envelope env);
  // A membership change landed at `index`: answers once it is applied here.
  void AnswerMemberChange(std::shared_ptr<Connection> c, pb::Envelope env, pb::Member added,
                          uint64_t index);
  // Whether the member table shows the change `env` asked for (`added`: the member it adds).
  bool MemberChangeShows(const pb::Envelope& env, const pb::Member& added) const;
  void HandleStatus(std::shared_ptr<Connection> c, pb::Envelope env);
  void HandleSnapshot(std::shared_ptr<Connection> c, pb::Envelope env);
  // Maintenance (server_maintenance.cc): auto-compaction, the backend quota and its alarm,
  // defragmentation, the KV hash members compare.
  void HandleAlarm(std::shared_ptr<Connection> c, pb::Envelope env);
  void HandleDefragment(std::shared_ptr<Connection> c, pb::Envelope env);
  void HandleHashKV(std::shared_ptr<Connection> c, pb::Envelope env);
  void OnAlarms(std::vector<pb::AlarmMember> alarms);
  void AutoCompact();
  void CheckQuota();
  // Whether this write adds data while the NOSPACE alarm is raised.
  bool RefusedForSpace(const pb::RaftRequest& req) const;

  void OnApplied(AppliedRequest a);
  void OnReadState(const raft::ReadState& rs);
  void OnSoftState(const raft::SoftState& ss, uint64_t term, uint64_t proposals_seen);
  void OnWatchReady(int64_t watch_id);
  void OnMembers(std::vector<pb::Member> members);
  void OnConnectionClosed(uint64_t connection_id);
  void Sweep();
  void ExpireLeases();
  void Publish();
  void ScheduleTimers();
  // Every --watch-progress-notify-interval: a progress notification for each watch that asked
  // for them (the hub sends one only to a watch that has caught up).
  void ScheduleProgressNotify();
  void NotifyProgress();
  Status LoadOrMakeClusterId();
  HttpResponse Http(const std::string& path);
  void RegisterMetrics();
  // Per request: its method and when it arrived, for the request metrics.
  struct InFlight {
    RequestMetrics::Method* method;
    std::chrono::steady_clock::time_point started;
    std::string trace_id;
  };
  std::map<std::pair<uint64_t, uint64_t>, InFlight> in_flight_;
  RequestMetrics request_metrics_;

  pb::ResponseHeader Header(int64_t revision) const;
  std::string LeaderHint() const;
  void SetBody(pb::Envelope* env, pb::RaftResponse&& response, int64_t revision) const;

  boost::asio::io_context& io_;
  ServerConfig config_;
  std::unique_ptr<StorageEngine> storage_;
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<RaftDriver> driver_;
  std::unique_ptr<ClientService> clients_;
  std::unique_ptr<HttpService> http_;
  struct Timers;
  std::unique_ptr<Timers> timers_;

  uint64_t next_request_id_ = 0;
  std::map<uint64_t, PendingWrite> writes_;
  uint64_t next_read_ = 1;
  std::string read_context_prefix_;  // member id and a per-process nonce
  std::map<std::string, PendingRead> reads_;
  // Reads waiting for the next confirmation round, and whether one is in flight.
  std::vector<std::function<void(Status, uint64_t)>> read_queue_;
  bool read_round_in_flight_ = false;
  // A round waiting for its time (MaybeStartReadRound), and the last round's start and size.
  bool read_round_deferred_ = false;
  std::chrono::steady_clock::time_point last_read_round_{};
  size_t last_round_reads_ = 0;
  std::map<int64_t, WatchStream> watches_;
  std::map<uint64_t, pb::Member> members_;
  std::set<int64_t> revoking_;
  std::map<uint64_t, int64_t> internal_revokes_;  // request id -> lease being revoked
  // The leader, our role and the term, as the raft thread last told us.
  raft::SoftState soft_;
  uint64_t term_ = 0;
  uint64_t cluster_id_ = 0;  // I/O thread
  bool published_ = false;
  bool shutting_down_ = false;
  std::function<void()> on_removed_;
  std::unique_ptr<AutoCompactor> compactor_;
  uint64_t compaction_request_ = 0;  // the auto-compaction proposed and not yet applied
  std::chrono::steady_clock::time_point compaction_deadline_;
  std::vector<pb::AlarmMember> alarms_;
  uint64_t backend_bytes_ = 0;
  std::chrono::steady_clock::time_point next_quota_check_, next_alarm_proposal_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pharos::registry
