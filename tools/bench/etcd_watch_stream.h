// EtcdWatchStream: one etcd Watch stream carrying several watches of one prefix, with a thread
// reading it, as clientv3 multiplexes the watches of one client on one stream. etcd answers the
// creates of one stream in the order they were sent, which maps each created watch id to the
// watcher that asked for it.
//
// Thread rules: `on_events` runs on the stream's reader thread, one response at a time;
// AllCreated() from any thread. Destroying the stream cancels it and joins the reader.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/etcd_conn.h"

namespace pharos::bench {

class EtcdWatchStream {
 public:
  struct Spec {
    int watcher = 0;             // the caller's number for this watch
    int64_t start_revision = 0;  // 0: from the revision after the create
  };
  using OnEvents = std::function<void(
      int watcher, const google::protobuf::RepeatedPtrField<epb::Event>& events)>;

  EtcdWatchStream(Conn& conn, const std::string& prefix, std::vector<Spec> watches,
                  OnEvents on_events);
  ~EtcdWatchStream();
  EtcdWatchStream(const EtcdWatchStream&) = delete;
  EtcdWatchStream& operator=(const EtcdWatchStream&) = delete;

  bool AllCreated() const { return created_.load() >= static_cast<int>(watches_.size()); }

 private:
  void ReadLoop();

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<epb::WatchRequest, epb::WatchResponse>> stream_;
  std::vector<Spec> watches_;
  OnEvents on_events_;
  std::atomic<int> created_{0};
  std::mutex mu_;
  std::map<int64_t, int> watcher_of_;  // etcd's watch id -> the caller's watcher; guarded by mu_
  std::thread reader_;
};

// The end of the range that holds every key starting with `prefix`.
std::string PrefixEnd(const std::string& prefix);

}  // namespace pharos::bench
