// greeter_server: a toy service that registers itself in Pharos. It answers each line "NAME" on
// its TCP port with "hello NAME from <id>", and keeps its registration alive (Registrar) until
// SIGINT or SIGTERM, when it deregisters and exits.
//   greeter_server --endpoints 127.0.0.11:2379,127.0.0.12:2379 --id g1 --port 9001
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "client/registrar.h"

namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

// One connection: a line in, a greeting out, until the caller hangs up.
void Serve(int fd, const std::string& id) {
  std::string pending;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      const std::string reply = "hello " + pending.substr(0, nl) + " from " + id + "\n";
      pending.erase(0, nl + 1);
      if (write(fd, reply.data(), reply.size()) < 0) break;
    }
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"greeter_server: a toy service that registers itself in Pharos"};
  std::string endpoints = "127.0.0.1:2379", id, address = "127.0.0.1", zone, version = "1.0";
  int port = 0, weight = 1, ttl = 5;
  app.add_option("--endpoints", endpoints, "Pharos client endpoints")->capture_default_str();
  app.add_option("--id", id, "instance id")->required();
  app.add_option("--address", address, "address to listen on and advertise")->capture_default_str();
  app.add_option("--port", port, "port to listen on (0: any free one)")->capture_default_str();
  app.add_option("--weight", weight, "weight for weighted balancers")->capture_default_str();
  app.add_option("--zone", zone, "zone");
  app.add_option("--ttl", ttl, "registration lease TTL, seconds")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Signals are taken by sigwait on the main thread, never handled asynchronously.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1 ||
      bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 64) != 0) {
    std::cerr << "cannot listen on " << address << ":" << port << "\n";
    return 1;
  }
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  std::thread([listener, id] {
    for (;;) {
      const int fd = accept(listener, nullptr, nullptr);
      if (fd < 0) return;
      std::thread(Serve, fd, id).detach();
    }
  }).detach();

  pharos::client::ClientOptions options;
  options.endpoints = Split(endpoints);
  pharos::client::Client client(options);
  pharos::client::Registrar registrar(
      client,
      {.ttl_seconds = ttl, .on_reregister = [&](const std::string& key, const pharos::Status& s) {
         std::cerr << "re-registered " << key << ": " << s.ToString() << "\n";
       }});
  pharos::client::ServiceInstance me{
      id,   "greeter", address, static_cast<uint16_t>(port), static_cast<uint32_t>(weight),
      zone, version,   {}};
  if (pharos::Status s = registrar.Register(me); !s.ok()) {
    std::cerr << "cannot register: " << s.ToString() << "\n";
    return 1;
  }
  std::cout << "greeter " << id << " serving on " << address << ":" << port << ", registered as "
            << registrar.KeyOf("greeter", id) << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cout << "greeter " << id << " deregistering" << std::endl;
  (void)registrar.Deregister("greeter", id);
  return 0;
}
