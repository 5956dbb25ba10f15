// Client: the SDK's connection to a Pharos cluster (DESIGN.md §7). It holds lazy connections to
// the endpoints, tracks the leader from NOT_LEADER hints, puts a deadline on every call and
// retries, with jittered exponential backoff inside that deadline, what is safe to retry: reads,
// and writes the server refused before proposing them (NOT_LEADER, no leader, overload, or a
// connection that failed before the request left). A write whose outcome is unknown is reported
// as OUTCOME_UNKNOWN, never retried behind the caller's back; and a write the caller allowed to
// be retried (kAlways) that gives up after an attempt that may have been applied (sent on a
// connection that then failed, answered OUTCOME_UNKNOWN, or unanswered at the deadline) is
// reported as OUTCOME_UNKNOWN too, never as the last transport error or DEADLINE_EXCEEDED.
//
// A member that accepts connections but stops answering (paused, frozen, blackholed) is found
// out by the connection's liveness check (keepalive_time, keepalive_timeout, dial_timeout below):
// its connection is closed as a transport failure, the client moves on to another member, reads
// are retried there, and the streams on it end with an error so their owners reopen them.
//
// Every request carries a W3C traceparent: the caller's when it set one, else a fresh one.
//
// Thread rules: every method may be called from any thread. The client runs its own I/O thread;
// callbacks run on it, so they must be short and must never wait for another call to finish
// (use the async variants inside callbacks). Destroying the client fails what is pending with
// UNAVAILABLE and joins the thread; do not destroy it from one of its own callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/frame.h"
#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::client {

struct ClientOptions {
  std::vector<std::string> endpoints = {"127.0.0.1:2379"};
  // The deadline of a call that names none.
  std::chrono::milliseconds timeout{5000};
  // Retries start soon and stay frequent: an election takes a few hundred milliseconds, and a
  // client asleep in a long backoff when it ends adds that sleep to the failover it sees. With
  // a 250 ms cap, kill -9 of the leader to the first successful put took a median 260 ms over
  // 30 runs, with 50 ms 238 ms (etcd's clientv3 waits 25 ms between its retries).
  std::chrono::milliseconds backoff_initial{10};
  std::chrono::milliseconds backoff_max{50};
  size_t max_frame_bytes = kMaxAnswerFrameBytes;  // the largest answer accepted
  // A member that is paused (SIGSTOP, a GC pause, a frozen VM) or blackholed keeps its socket
  // open, so nothing fails by itself: without these, every call to it would wait for its own
  // deadline, for minutes, while the other members elected a new leader in ~300 ms. As in gRPC's
  // keepalive (etcd's DialKeepAliveTime/DialKeepAliveTimeout), a connection that owes answers
  // and has heard nothing for `keepalive_time` sends a probe (a StatusRequest, answered from
  // cached state on the server's I/O thread, so a busy but live member still answers it fast);
  // if no byte at all comes within `keepalive_timeout`, the connection is closed as UNAVAILABLE
  // and the client moves on. 1 s + 1 s finds a dead member in about 2 s, well inside the default
  // 5 s call timeout, leaving time to retry elsewhere; lower finds it sooner but probes busy
  // connections more often and risks a false verdict on a loaded host. A connection that owes
  // nothing sends no probes.
  std::chrono::milliseconds keepalive_time{1000};
  std::chrono::milliseconds keepalive_timeout{1000};
  // A connect (resolve + TCP handshake) not done in this long fails as UNAVAILABLE: a host that
  // drops SYNs would otherwise hold it for the kernel's SYN retries, over a minute on Linux.
  std::chrono::milliseconds dial_timeout{2000};
  // For the three above, zero or negative means the default (as a call's timeout of 0 does):
  // there is no way to turn the checks off, since a client pinned to a silent member is a bug.
};

enum class RetryPolicy {
  kByRequest,       // reads (and lease keepalives) kAlways, writes kBeforeProposal
  kAlways,          // idempotent: retry any failure until the deadline (a write that then gives
                    // up after an attempt that may have been applied reports OUTCOME_UNKNOWN)
  kBeforeProposal,  // retry only failures that prove the request was not proposed
  kNever,
};

struct CallOptions {
  std::chrono::milliseconds timeout{0};  // 0: ClientOptions::timeout
  RetryPolicy retry = RetryPolicy::kByRequest;
  // Send to this member only: no redirection, no retry elsewhere (status of one member, a
  // serializable read from a follower).
  std::string endpoint;
};

// A response's status as a Status: OK, the server's code and message, or OUTCOME_UNKNOWN.
Status StatusOf(const pb::Envelope& response);
// Whether sending `request` twice is the same as once: reads, and keepalives (extending a lease
// twice is harmless). Anything else whose answer was lost has an unknown outcome.
bool IsIdempotent(const pb::Envelope& request);

class Client {
 public:
  using Callback = std::function<void(Result<pb::Envelope>)>;

  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request; the result is the response envelope when its status is OK, else the error.
  void CallAsync(pb::Envelope request, CallOptions options, Callback done);
  Result<pb::Envelope> Call(pb::Envelope request, CallOptions options = {});

  // A stream (a watch): opened on `endpoint` (empty: the member calls go to now). Every message
  // carrying the request's id reaches `on_message` — with whatever status the server put on it —
  // until Close(); if the connection fails, `on_message` gets that error once and nothing more.
  class Stream {
   public:
    virtual ~Stream() = default;
    // Stops delivery. Safe from any thread, including from `on_message`. Closing a watch also
    // ends it on the server, which would otherwise keep the watcher, and send its events, for as
    // long as the connection lives: a WatchCancel for its watch id goes on the same connection —
    // once the `created` reply that names the id has come, if Close() came first. Nothing is
    // sent when the connection is gone (the server dropped the watch with it) or the server ended
    // the watch itself. Other streams are only forgotten here.
    virtual void Close() = 0;
    virtual const std::string& endpoint() const = 0;
  };
  std::shared_ptr<Stream> OpenStream(pb::Envelope request, const std::string& endpoint,
                                     std::function<void(Result<pb::Envelope>)> on_message);

  // Runs `fn` on the I/O thread after `delay`, unless the returned handle's Cancel() comes first.
  class Timer {
   public:
    virtual ~Timer() = default;
    virtual void Cancel() = 0;
  };
  std::shared_ptr<Timer> After(std::chrono::milliseconds delay, std::function<void()> fn);
  void Post(std::function<void()> fn);
  bool OnIoThread() const;

  // The member requests go to now (the leader, when known), and the configured endpoints.
  std::string current_endpoint() const;
  const std::vector<std::string>& endpoints() const;
  // A delay for the `attempt`-th retry (0-based): exponential, capped, jittered in [50%, 150%).
  std::chrono::milliseconds Backoff(int attempt);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pharos::client
