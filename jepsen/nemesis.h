// Nemesis: the faults of a run, applied and healed on a schedule — kill -9 and restart (a random
// member or the leader), SIGSTOP/SIGCONT pauses, and network partitions made with iptables rules
// between the members' addresses (halves, an isolated leader, a bridge, one-way), membership
// change (a member removed and stopped; healed by adding its address back as a new member,
// started on an empty data directory and caught up), a stalled disk (a noisy neighbour's
// synced writes on the members' file system: DiskHog), or a mix. The
// rules live in a chain of their own, flushed at the start and removed at the end, even when
// the run is interrupted (the destructor heals everything). Every fault is recorded with its
// start and end for the report.
//
// Thread rules: one thread (the harness's control thread).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "jepsen/disk_hog.h"
#include "jepsen/history_recorder.h"
#include "jepsen/node_set.h"

namespace pharos::jepsen {

struct Fault {
  std::string name;  // "kill n2", "pause n1", "partition halves {n1} {n2,n3}", ...
  int64_t start_ns = 0;
  int64_t end_ns = 0;  // when it was healed
  // False when the fault turned out to do nothing (a disk stall that wrote no byte): the run
  // then proves nothing about it.
  bool applied = true;
};

class Nemesis {
 public:
  // kind: none | kill | kill-leader | pause | partition | membership | disk | mix
  Nemesis(std::string kind, NodeSet& nodes, HistoryRecorder& clock, uint64_t seed);
  ~Nemesis();

  // Applies the next fault (healing the current one first).
  void Strike();
  // Heals whatever is active: restarts killed members, resumes paused ones, drops the rules,
  // adds a removed member back. A fault that could not be healed stays open (no end time) and
  // the next Heal tries again.
  void Heal();
  const std::vector<Fault>& faults() const { return faults_; }
  // False when partitions were asked for but iptables cannot be used here.
  Status status() const { return status_; }

 private:
  void Kill(bool leader);
  void Pause();
  void Partition();
  void RemoveMember();
  void StallDisk();
  bool Iptables(const std::string& args);
  void Drop(int from, int to);

  std::string kind_;
  NodeSet& nodes_;
  HistoryRecorder& clock_;
  std::mt19937_64 rng_;
  std::vector<Fault> faults_;
  bool active_ = false;
  bool chain_ = false;
  std::optional<int> removed_;  // the slot a membership fault took out
  DiskHog disk_hog_;
  Status status_;
};

}  // namespace pharos::jepsen
