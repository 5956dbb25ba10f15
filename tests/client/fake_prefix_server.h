// FakePrefixServer: a FakeServer that keeps keys the way a member does, as far as PrefixCache
// (and Discovery and ConfigWatcher on it) need: a Range is answered with the keys it covers at
// the current revision, a WatchCreate is created, and each Put or Delete once a watch exists
// reaches it as the event of a revision of its own. Changes made before the list are in it;
// wait for the watch (WaitForWatch) before making the ones it must deliver.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "tests/client/fake_server.h"

namespace pharos::testing {

class FakePrefixServer {
 public:
  FakePrefixServer();

  std::string endpoint() const { return server_.endpoint(); }
  const FakeServer& server() const { return server_; }

  void Put(const std::string& key, const std::string& value);
  void Delete(const std::string& key);
  // Whether a watch has been created, waiting up to `deadline` for one.
  bool WaitForWatch(std::chrono::milliseconds deadline = std::chrono::seconds(5)) const;

 private:
  FakeServer::Action Answer(const pb::Envelope& request);
  void Publish(pb::Event event);  // mu_ held

  mutable std::mutex mu_;
  mutable std::condition_variable watch_created_;
  std::map<std::string, std::string> data_;  // guarded by mu_
  int64_t revision_ = 1;                     // guarded by mu_
  std::optional<uint64_t> watch_request_;    // the WatchCreate's envelope id; guarded by mu_
  // Last: it answers from the members above, so it must stop before they go.
  FakeServer server_;
};

}  // namespace pharos::testing
