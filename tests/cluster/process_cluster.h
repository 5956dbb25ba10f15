// ProcessCluster: real pharosd processes on loopback for process-level tests. Ports are free
// ones picked at start; every process is stopped by PID when the cluster object goes away, and
// its data directories are removed. Waits are on conditions with deadlines.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/sync_client.h"
#include "proto/pharos.pb.h"
#include "tests/eventually.h"

namespace pharos::testing {

class ProcessCluster {
 public:
  // With `start` false, no member runs until Start(i): a test can prepare the data directories
  // first (a restore from a backup).
  explicit ProcessCluster(int nodes, std::vector<std::string> extra_flags = {}, bool start = true);
  ~ProcessCluster();

  void Start(int i);
  // Before any member starts (`start` false): members name each other `host` (a name for
  // 127.0.0.1) in --initial-cluster while they listen for peers on 127.0.0.1, and listen for
  // clients on `host`.
  void NameMembersBy(const std::string& host);
  // The pharosd binary members start from (from their next Start): a test build of it.
  void UseBinary(std::string path) { binary_ = std::move(path); }
  // Prepares member `i` (== size()) that joins an existing cluster: name, addresses, and an
  // initial cluster that includes it. Start(i) after the MemberAdd.
  int AddMemberSlot();
  // The MemberAdd that admits member `i` (from AddMemberSlot) with its name and addresses.
  pb::Envelope MemberAddRequest(int i, bool learner) const {
    pb::Envelope add;
    add.mutable_member_add()->set_name(name(i));
    add.mutable_member_add()->add_peer_urls(peer(i));
    add.mutable_member_add()->add_client_urls(client(i));
    add.mutable_member_add()->set_is_learner(learner);
    return add;
  }
  std::string name(int i) const { return names_.at(i); }
  // Its peer address as the others know it (--initial-cluster, MemberAdd).
  std::string peer(int i) const { return peers_.at(i); }
  std::string data_dir(int i) const { return dir_ + "/" + names_.at(i); }
  // name=peer,... of the members the cluster was made with.
  std::string initial_cluster() const { return initial_cluster_; }
  // The exit status of a member that stopped by itself (waits for it), or -1.
  int WaitExit(int i, std::chrono::milliseconds deadline);
  // SIGTERM and wait for the exit; returns the exit status (as from waitpid).
  int Stop(int i);
  // SIGKILL, no goodbye.
  void Kill(int i);
  // Sends `sig` and returns at once; WaitExit collects the member.
  void Signal(int i, int sig);
  bool Running(int i) const { return pids_.count(i) > 0; }
  // Its process id while it runs, else 0.
  pid_t pid(int i) const { return pids_.count(i) ? pids_.at(i) : 0; }

  int size() const { return nodes_; }
  std::string client(int i) const { return clients_.at(i); }
  std::string metrics(int i) const { return metrics_.at(i); }
  std::vector<std::string> clients() const;
  // What member i has logged so far.
  std::string Log(int i) const;
  // The status of member i, if it answers.
  std::optional<pb::StatusResponse> Status(int i);
  // Waits until a running member reports itself leader and every running member agrees on
  // it; returns its index or -1.
  int WaitForLeader(std::chrono::milliseconds deadline = std::chrono::seconds(10));

 private:
  int nodes_;
  std::vector<std::string> extra_;
  std::string dir_;
  std::string binary_;
  std::map<int, std::string> clients_, peers_, names_, metrics_;
  std::map<int, std::string> listen_peers_;  // --listen-peer where it is not peers_
  std::map<int, pid_t> pids_;
  std::string initial_cluster_;
  std::map<int, std::string> cluster_of_;  // initial cluster a member was started with
};

// GET http://<address><path>: the status code and body, or nullopt if nothing answered.
std::optional<std::pair<int, std::string>> HttpGet(const std::string& address,
                                                   const std::string& path);

}  // namespace pharos::testing
