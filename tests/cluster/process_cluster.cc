#include "tests/cluster/process_cluster.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/asio.h"
#include "tests/die_with_the_test.h"
#include "tests/registry/free_port.h"

namespace pharos::testing {

ProcessCluster::ProcessCluster(int nodes, std::vector<std::string> extra_flags, bool start)
    : nodes_(nodes), extra_(std::move(extra_flags)), binary_(PHAROSD_BINARY) {
  dir_ = (std::filesystem::temp_directory_path() /
          ("pharos-cluster-test-" + std::to_string(getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())))
             .string();
  std::filesystem::create_directories(dir_);
  for (int i = 0; i < nodes; ++i) {
    names_[i] = "n" + std::to_string(i + 1);
    clients_[i] = "127.0.0.1:" + std::to_string(FreePort());
    peers_[i] = "127.0.0.1:" + std::to_string(FreePort());
    metrics_[i] = "127.0.0.1:" + std::to_string(FreePort());
    initial_cluster_ += (i ? "," : "") + names_[i] + "=" + peers_[i];
  }
  if (!start) return;
  for (int i = 0; i < nodes; ++i) Start(i);
}

void ProcessCluster::NameMembersBy(const std::string& host) {
  initial_cluster_.clear();
  for (int i = 0; i < nodes_; ++i) {
    listen_peers_[i] = peers_[i];
    for (auto* address : {&clients_[i], &peers_[i]}) {
      *address = host + address->substr(address->rfind(':'));
    }
    initial_cluster_ += (i ? "," : "") + names_[i] + "=" + peers_[i];
  }
}

ProcessCluster::~ProcessCluster() {
  for (auto& [i, pid] : pids_) kill(pid, SIGKILL);
  for (auto& [i, pid] : pids_) waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir_);
}

int ProcessCluster::AddMemberSlot() {
  const int i = nodes_++;
  names_[i] = "n" + std::to_string(i + 1);
  clients_[i] = "127.0.0.1:" + std::to_string(FreePort());
  peers_[i] = "127.0.0.1:" + std::to_string(FreePort());
  metrics_[i] = "127.0.0.1:" + std::to_string(FreePort());
  cluster_of_[i] = initial_cluster_ + "," + names_[i] + "=" + peers_[i];
  return i;
}

int ProcessCluster::WaitExit(int i, std::chrono::milliseconds deadline) {
  auto it = pids_.find(i);
  if (it == pids_.end()) return -1;
  const auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (waitpid(it->second, &status, WNOHANG) == it->second) {
      pids_.erase(it);
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a condition
  }
  return -1;
}

void ProcessCluster::Start(int i) {
  if (Running(i)) return;
  const bool joining = cluster_of_.count(i) > 0;
  const std::string data = data_dir(i);
  const bool existing = std::filesystem::exists(data);
  std::vector<std::string> args = {binary_,
                                   "--name",
                                   names_[i],
                                   "--data-dir",
                                   data,
                                   "--listen-client",
                                   clients_[i],
                                   "--listen-peer",
                                   listen_peers_.count(i) ? listen_peers_[i] : peers_[i],
                                   "--listen-metrics",
                                   metrics_[i],
                                   "--initial-cluster",
                                   joining ? cluster_of_[i] : initial_cluster_,
                                   "--initial-cluster-state",
                                   existing || joining ? "existing" : "new"};
  if (std::find(extra_.begin(), extra_.end(), "--log-level") == extra_.end()) {
    args.push_back("--log-level");
    args.push_back("warn");
  }
  args.insert(args.end(), extra_.begin(), extra_.end());
  const std::string log = dir_ + "/" + names_[i] + ".log";
  const pid_t test_pid = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    DieWithTheTest(test_pid);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (freopen(log.c_str(), "a", stdout) == nullptr) _exit(126);
    dup2(fileno(stdout), fileno(stderr));
    execv(argv[0], argv.data());
    _exit(127);
  }
  pids_[i] = pid;
}

int ProcessCluster::Stop(int i) {
  auto it = pids_.find(i);
  if (it == pids_.end()) return -1;
  kill(it->second, SIGTERM);
  int status = 0;
  waitpid(it->second, &status, 0);
  pids_.erase(it);
  return status;
}

void ProcessCluster::Kill(int i) {
  auto it = pids_.find(i);
  if (it == pids_.end()) return;
  kill(it->second, SIGKILL);
  waitpid(it->second, nullptr, 0);
  pids_.erase(it);
}

void ProcessCluster::Signal(int i, int sig) {
  auto it = pids_.find(i);
  if (it != pids_.end()) kill(it->second, sig);
}

std::optional<std::pair<int, std::string>> HttpGet(const std::string& address,
                                                   const std::string& path) {
  namespace asio = boost::asio;
  try {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    const size_t colon = address.rfind(':');
    s.connect({asio::ip::make_address(address.substr(0, colon)),
               static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))});
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n\r\n";
    asio::write(s, asio::buffer(req));
    std::string resp;
    boost::system::error_code ec;
    std::array<char, 8192> buf;
    for (;;) {
      const size_t n = s.read_some(asio::buffer(buf), ec);
      resp.append(buf.data(), n);
      if (ec) break;
    }
    const size_t sp = resp.find(' ');
    const size_t body = resp.find("\r\n\r\n");
    if (sp == std::string::npos || body == std::string::npos) return std::nullopt;
    return std::make_pair(std::stoi(resp.substr(sp + 1, 3)), resp.substr(body + 4));
  } catch (...) {
    return std::nullopt;
  }
}

std::string ProcessCluster::Log(int i) const {
  std::ifstream f(dir_ + "/" + names_.at(i) + ".log");
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::string> ProcessCluster::clients() const {
  std::vector<std::string> out;
  for (const auto& [i, c] : clients_) out.push_back(c);
  return out;
}

std::optional<pb::StatusResponse> ProcessCluster::Status(int i) {
  client::SyncClient c({clients_.at(i)}, std::chrono::milliseconds(500));
  pb::Envelope req;
  req.mutable_status_request();
  auto r = c.CallEndpoint(clients_.at(i), req);
  if (!r.ok() || !client::StatusOf(*r).ok()) return std::nullopt;
  return r->status_response();
}

int ProcessCluster::WaitForLeader(std::chrono::milliseconds deadline) {
  int leader = -1;
  Eventually(
      [&] {
        leader = -1;
        uint64_t leader_id = 0;
        for (const auto& [i, pid] : pids_) {
          auto s = Status(i);
          if (!s) return false;
          if (s->is_leader()) leader = i;
          if (leader_id == 0) leader_id = s->leader();
          if (s->leader() == 0 || s->leader() != leader_id) return false;
        }
        return leader >= 0;
      },
      deadline);
  if (leader < 0) {
    // Say why, for the failure that follows: who answered what, and the end of each log.
    for (const auto& [i, pid] : pids_) {
      auto s = Status(i);
      std::fprintf(
          stderr, "WaitForLeader: member %d (pid %d): %s\n", i, static_cast<int>(pid),
          s ? ("leader " + std::to_string(s->leader()) + ", term " + std::to_string(s->raft_term()))
                  .c_str()
            : "no answer");
      const std::string log = Log(i);
      std::fprintf(stderr, "  log tail: %s\n",
                   log.substr(log.size() > 600 ? log.size() - 600 : 0).c_str());
    }
  }
  return leader;
}

}  // namespace pharos::testing
