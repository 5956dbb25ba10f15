#include "tests/differential/etcd_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "tests/die_with_the_test.h"
#include "tests/registry/free_port.h"

namespace pharos::differential {

EtcdProcess::EtcdProcess(const std::string& binary) {
  namespace fs = std::filesystem;
  dir_ = (fs::temp_directory_path() /
          ("pharos-etcd-differential-" + std::to_string(getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())))
             .string();
  fs::create_directories(dir_);
  const std::string client_url = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  endpoint_ = client_url.substr(std::string("http://").size());
  std::vector<std::string> args = {binary,
                                   "--name",
                                   "differential",
                                   "--data-dir",
                                   dir_ + "/data",
                                   "--listen-client-urls",
                                   client_url,
                                   "--advertise-client-urls",
                                   client_url,
                                   "--listen-peer-urls",
                                   peer_url,
                                   "--initial-advertise-peer-urls",
                                   peer_url,
                                   "--initial-cluster",
                                   "differential=" + peer_url,
                                   "--initial-cluster-state",
                                   "new",
                                   "--initial-cluster-token",
                                   "pharos-differential"};
  const std::string log = dir_ + "/etcd.log";
  const pid_t test_pid = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    pharos::testing::DieWithTheTest(test_pid);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (std::freopen(log.c_str(), "a", stdout) == nullptr) _exit(126);
    dup2(fileno(stdout), fileno(stderr));
    execv(argv[0], argv.data());
    _exit(127);
  }
}

EtcdProcess::~EtcdProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool exited = false;
    while (!exited && std::chrono::steady_clock::now() < until) {
      exited = waitpid(pid_, nullptr, WNOHANG) == pid_;
      // Polling for the exit (a condition), prompt without spinning on the shared cores.
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool EtcdProcess::Listening() const {
  namespace asio = boost::asio;
  try {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    const size_t colon = endpoint_.rfind(':');
    s.connect({asio::ip::make_address(endpoint_.substr(0, colon)),
               static_cast<uint16_t>(std::stoi(endpoint_.substr(colon + 1)))});
    return true;
  } catch (const boost::system::system_error&) {
    return false;
  }
}

std::string EtcdProcess::Log() const {
  std::ifstream f(dir_ + "/etcd.log");
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::optional<std::string> EtcdProcess::Find() {
  namespace fs = std::filesystem;
  if (const char* given = std::getenv("PHAROS_ETCD_BINARY"); given != nullptr && *given) {
    if (access(given, X_OK) == 0) return std::string(given);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    const fs::path candidate = fs::path(d.empty() ? "." : d) / "etcd";
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

std::string EtcdProcess::Version(const std::string& binary) {
  const std::string command = "'" + binary + "' --version 2>/dev/null";
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return "";
  std::array<char, 256> line{};
  std::string first = std::fgets(line.data(), line.size(), p) ? line.data() : "";
  pclose(p);
  while (!first.empty() && (first.back() == '\n' || first.back() == '\r')) first.pop_back();
  return first;
}

}  // namespace pharos::differential
