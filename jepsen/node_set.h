// NodeSet: the pharosd processes of one harness run — members n1..nN on 127.0.0.11.., one
// loopback address each so that firewall rules between addresses partition them. It starts,
// kills (SIGKILL), pauses (SIGSTOP), resumes (SIGCONT) and restarts members by PID, and stops
// every one of them on destruction, whatever happened before. It also changes membership: a
// member removed from the cluster comes back on its address as a new member (a new name, so a
// new id: ids are never reused) with an empty data directory (membership.cc).
//
// Thread rules: one thread (the harness's control thread).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::jepsen {

struct NodeSetOptions {
  std::string pharosd;  // the binary
  std::string dir;      // data and logs go under it
  int nodes = 3;
  // On every member's own address; peers on +1, metrics on +2. 0: three free ports are found.
  uint16_t client_port = 2379;
};

class NodeSet {
 public:
  explicit NodeSet(NodeSetOptions options);
  ~NodeSet();
  NodeSet(const NodeSet&) = delete;
  NodeSet& operator=(const NodeSet&) = delete;

  int size() const { return options_.nodes; }
  // The folder the members' data directories are in (their disk).
  const std::string& dir() const { return options_.dir; }
  std::string address(int i) const { return "127.0.0.1" + std::to_string(1 + i); }
  std::string client(int i) const;
  std::string peer(int i) const;
  // The name slot i runs under now: n<i+1>, then n<i+1>-2, n<i+1>-3, ... after each re-add.
  const std::string& name(int i) const { return names_[i]; }
  std::vector<std::string> clients() const;

  void Start(int i);
  void StartAll();
  void Kill(int i);
  void Pause(int i);
  void Resume(int i);
  bool running(int i) const { return pids_.count(i) > 0; }
  bool paused(int i) const { return paused_.count(i) > 0; }
  // The member that says it leads (asked with a short timeout), if any answers so.
  std::optional<int> Leader();

  // Membership (membership.cc). The member list as the cluster (its leader, when one answers)
  // has it.
  Result<std::vector<pb::Member>> Members();
  // Removes slot i's member from the cluster (MemberRemove) until the member list no longer has
  // it, then stops its process. OK when it was not a member.
  Status RemoveMember(int i, std::chrono::milliseconds timeout);
  // Brings slot i back as a new member: removed (if it still was) and stopped, its data wiped,
  // added under a new name (MemberAdd), started with --initial-cluster-state existing, and
  // waited for until it votes and has applied what the leader had committed when it started.
  Status AddMemberBack(int i, std::chrono::milliseconds timeout);
  // Every slot's address is a voting member.
  Status VotersAtEveryAddress();

 private:
  std::string InitialCluster() const;

  NodeSetOptions options_;
  std::vector<std::string> names_;
  std::map<int, int> generation_;
  std::map<int, pid_t> pids_;
  std::map<int, bool> paused_;
  std::map<int, bool> started_once_;
};

}  // namespace pharos::jepsen
