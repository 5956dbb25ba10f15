#include "jepsen/node_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "client/client.h"

namespace pharos::jepsen {

namespace {

bool CanBind(const std::string& address, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

}  // namespace

NodeSet::NodeSet(NodeSetOptions options) : options_(std::move(options)) {
  if (options_.client_port == 0) {
    // Three ports free on every member's address (client, peer, metrics), from a random start.
    std::random_device rd;
    for (int attempt = 0; attempt < 1000 && options_.client_port == 0; ++attempt) {
      const auto base = static_cast<uint16_t>(20000 + rd() % 40000);
      bool free = true;
      for (int i = 0; i < options_.nodes && free; ++i) {
        for (uint16_t d = 0; d < 3 && free; ++d) free = CanBind(address(i), base + d);
      }
      if (free) options_.client_port = base;
    }
  }
  for (int i = 0; i < options_.nodes; ++i) names_.push_back("n" + std::to_string(i + 1));
}

// Every slot under its current name: how a member starting now finds its peers.
std::string NodeSet::InitialCluster() const {
  std::string out;
  for (int i = 0; i < options_.nodes; ++i) out += (i ? "," : "") + names_[i] + "=" + peer(i);
  return out;
}

NodeSet::~NodeSet() {
  for (auto& [i, pid] : pids_) {
    kill(pid, SIGCONT);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

std::string NodeSet::client(int i) const {
  return address(i) + ":" + std::to_string(options_.client_port);
}

std::string NodeSet::peer(int i) const {
  return address(i) + ":" + std::to_string(options_.client_port + 1);
}

std::vector<std::string> NodeSet::clients() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(client(i));
  return out;
}

void NodeSet::Start(int i) {
  if (running(i)) return;
  const std::string name = names_[i];
  const std::string home = options_.dir + "/n" + std::to_string(i + 1);
  std::filesystem::create_directories(home);
  const bool existing = started_once_[i];
  started_once_[i] = true;
  std::vector<std::string> args = {options_.pharosd,
                                   "--name",
                                   name,
                                   "--data-dir",
                                   home + "/data",
                                   "--listen-client",
                                   client(i),
                                   "--listen-peer",
                                   peer(i),
                                   "--listen-metrics",
                                   address(i) + ":" + std::to_string(options_.client_port + 2),
                                   "--initial-cluster",
                                   InitialCluster(),
                                   "--initial-cluster-state",
                                   existing ? "existing" : "new"};
  const std::string log = home + "/pharosd.log";
  const pid_t harness = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // A harness that crashes runs no cleanup: its members die with it rather than run on,
    // holding their ports. Every Start runs on the harness's main thread, which ends only with
    // the process (the signal follows the forking thread).
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != harness) _exit(124);
    FILE* out = std::fopen(log.c_str(), "a");
    if (out) {
      dup2(fileno(out), 1);
      dup2(fileno(out), 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pids_[i] = pid;
}

void NodeSet::StartAll() {
  for (int i = 0; i < size(); ++i) Start(i);
}

void NodeSet::Kill(int i) {
  auto it = pids_.find(i);
  if (it == pids_.end()) return;
  kill(it->second, SIGKILL);
  waitpid(it->second, nullptr, 0);
  pids_.erase(it);
  paused_.erase(i);
}

void NodeSet::Pause(int i) {
  if (!running(i)) return;
  kill(pids_[i], SIGSTOP);
  paused_[i] = true;
}

void NodeSet::Resume(int i) {
  if (!running(i)) return;
  kill(pids_[i], SIGCONT);
  paused_.erase(i);
}

std::optional<int> NodeSet::Leader() {
  for (int i = 0; i < size(); ++i) {
    if (!running(i) || paused(i)) continue;
    client::ClientOptions o;
    o.endpoints = {client(i)};
    o.timeout = std::chrono::milliseconds(300);
    client::Client c(o);
    pb::Envelope e;
    e.mutable_status_request();
    auto r = c.Call(e, {.endpoint = client(i)});
    if (r.ok() && r->status_response().is_leader()) return i;
  }
  return std::nullopt;
}

}  // namespace pharos::jepsen
