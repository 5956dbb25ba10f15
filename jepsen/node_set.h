// NodeSet: the pharosd processes of one harness run — members n1..nN on 127.0.0.11.., one
// loopback address each so that firewall rules between addresses partition them. It starts,
// kills (SIGKILL), pauses (SIGSTOP), resumes (SIGCONT) and restarts members by PID, and stops
// every one of them on destruction, whatever happened before.
//
// Thread rules: one thread (the harness's control thread).
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

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
  std::string address(int i) const { return "127.0.0.1" + std::to_string(1 + i); }
  std::string client(int i) const;
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

 private:
  NodeSetOptions options_;
  std::string initial_cluster_;
  std::map<int, pid_t> pids_;
  std::map<int, bool> paused_;
  std::map<int, bool> started_once_;
};

}  // namespace pharos::jepsen
