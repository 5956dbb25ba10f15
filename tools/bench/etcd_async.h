// The etcd driver's asynchronous calls, for pharos-bench's full-speed loops (RunLoopAsync): a
// completion queue drained by a thread of its own per connection (as the Pharos SDK runs one I/O
// thread per client), unary calls that end in a callback, and a lease keepalive stream driven by
// completions.
//
// Thread rules: completions and callbacks run on the queue's thread. An EtcdAsyncKeepAlive has
// one keepalive in flight at a time and must be destroyed off its queue's thread, since its
// destructor waits for the queue to hand the stream back.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "tools/bench/etcd_conn.h"

namespace pharos::bench {

// What every operation put on a completion queue carries as its tag.
class Completion {
 public:
  virtual ~Completion() = default;
  virtual void Done(bool ok) = 0;
};

class CompletionThread {
 public:
  CompletionThread();
  // Shuts the queue down; what is still in flight completes before the thread is joined.
  ~CompletionThread();
  CompletionThread(const CompletionThread&) = delete;
  CompletionThread& operator=(const CompletionThread&) = delete;

  grpc::CompletionQueue* queue() { return &queue_; }

 private:
  grpc::CompletionQueue queue_;
  std::thread thread_;
};

// One unary call: it owns its context and response, hands the call's status to `done` and
// deletes itself. `start(context, queue)` is the stub's PrepareAsync<Method> with the request
// bound (the request is serialized before it returns).
template <class Response>
class UnaryCall final : public Completion {
 public:
  template <class Start>
  static void Begin(grpc::CompletionQueue* queue, std::chrono::milliseconds timeout,
                    const Start& start, std::function<void(Status)> done) {
    auto* call = new UnaryCall(std::move(done));
    call->context_.set_deadline(std::chrono::system_clock::now() + timeout);
    call->reader_ = start(&call->context_, queue);
    call->reader_->StartCall();
    call->reader_->Finish(&call->response_, &call->status_, call);
  }

  void Done(bool) override {
    auto done = std::move(done_);
    const Status s = FromGrpc(status_);
    delete this;
    done(s);
  }

 private:
  explicit UnaryCall(std::function<void(Status)> done) : done_(std::move(done)) {}

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader_;
  Response response_;
  grpc::Status status_;
  std::function<void(Status)> done_;
};

// One LeaseKeepAlive stream: each KeepAlive is a write and then a read on it.
class EtcdAsyncKeepAlive final : public AsyncKeepAliveStream {
 public:
  // Opens the stream and waits until it is open; open() says whether it is.
  EtcdAsyncKeepAlive(Conn& conn, grpc::CompletionQueue* queue);
  // Cancels the stream and waits until gRPC is done with it.
  ~EtcdAsyncKeepAlive() override;

  bool open() const { return open_; }
  void KeepAlive(int64_t id, std::function<void(Status)> done) override;

 private:
  // A completion that runs a member's step of the stream.
  struct Step final : Completion {
    std::function<void(bool)> next;
    void Done(bool ok) override { next(ok); }
  };
  void Written(bool ok);
  void ReadBack(bool ok);

  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientAsyncReaderWriter<epb::LeaseKeepAliveRequest, epb::LeaseKeepAliveResponse>>
      stream_;
  Step started_, written_, read_, finished_;
  bool open_ = false;
  epb::LeaseKeepAliveRequest request_;
  epb::LeaseKeepAliveResponse response_;
  grpc::Status final_status_;
  std::function<void(Status)> done_;  // of the keepalive in flight
};

}  // namespace pharos::bench
