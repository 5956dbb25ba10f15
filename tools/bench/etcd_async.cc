#include "tools/bench/etcd_async.h"

#include <utility>

namespace pharos::bench {

CompletionThread::CompletionThread()
    : thread_([this] {
        void* tag = nullptr;
        bool ok = false;
        while (queue_.Next(&tag, &ok)) static_cast<Completion*>(tag)->Done(ok);
      }) {}

CompletionThread::~CompletionThread() {
  queue_.Shutdown();
  thread_.join();
}

EtcdAsyncKeepAlive::EtcdAsyncKeepAlive(Conn& conn, grpc::CompletionQueue* queue) {
  std::promise<bool> started;
  started_.next = [&started](bool ok) { started.set_value(ok); };
  written_.next = [this](bool ok) { Written(ok); };
  read_.next = [this](bool ok) { ReadBack(ok); };
  stream_ = conn.lease->AsyncLeaseKeepAlive(&context_, queue, &started_);
  open_ = started.get_future().get();
  started_.next = nullptr;  // it held `started`, which goes now; the start completes only once
}

EtcdAsyncKeepAlive::~EtcdAsyncKeepAlive() {
  std::promise<void> finished;
  finished_.next = [&finished](bool) { finished.set_value(); };
  context_.TryCancel();
  stream_->Finish(&final_status_, &finished_);
  finished.get_future().wait();
}

void EtcdAsyncKeepAlive::KeepAlive(int64_t id, std::function<void(Status)> done) {
  if (!open_) return done(Status::Unavailable("etcd: keepalive stream not open"));
  done_ = std::move(done);
  request_.set_id(id);
  stream_->Write(request_, &written_);
}

void EtcdAsyncKeepAlive::Written(bool ok) {
  if (!ok) {
    open_ = false;
    return std::exchange(done_, nullptr)(Status::Unavailable("etcd: keepalive stream broken"));
  }
  stream_->Read(&response_, &read_);
}

void EtcdAsyncKeepAlive::ReadBack(bool ok) {
  auto done = std::exchange(done_, nullptr);
  if (!ok) {
    open_ = false;
    return done(Status::Unavailable("etcd: keepalive stream broken"));
  }
  done(response_.ttl() <= 0 ? Status::NotFound("lease expired") : Status::Ok());
}

}  // namespace pharos::bench
