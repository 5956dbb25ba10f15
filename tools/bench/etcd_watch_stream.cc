#include "tools/bench/etcd_watch_stream.h"

namespace pharos::bench {

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

EtcdWatchStream::EtcdWatchStream(Conn& conn, const std::string& prefix, std::vector<Spec> watches,
                                 OnEvents on_events)
    : watches_(std::move(watches)), on_events_(std::move(on_events)) {
  stream_ = conn.watch->Watch(&ctx_);
  reader_ = std::thread([this] { ReadLoop(); });
  const std::string end = PrefixEnd(prefix);
  for (const Spec& spec : watches_) {
    epb::WatchRequest req;
    req.mutable_create_request()->set_key(prefix);
    req.mutable_create_request()->set_range_end(end);
    req.mutable_create_request()->set_start_revision(spec.start_revision);
    if (!stream_->Write(req)) break;
  }
}

EtcdWatchStream::~EtcdWatchStream() {
  ctx_.TryCancel();
  reader_.join();
}

void EtcdWatchStream::ReadLoop() {
  epb::WatchResponse resp;
  while (stream_->Read(&resp)) {
    if (resp.created()) {
      const int n = created_.load();
      if (n < static_cast<int>(watches_.size())) {
        std::lock_guard<std::mutex> lock(mu_);
        watcher_of_[resp.watch_id()] = watches_[n].watcher;
      }
      created_.store(n + 1);
    }
    if (resp.events_size() == 0) continue;
    int watcher = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = watcher_of_.find(resp.watch_id());
      if (it != watcher_of_.end()) watcher = it->second;
    }
    on_events_(watcher, resp.events());
  }
}

}  // namespace pharos::bench
