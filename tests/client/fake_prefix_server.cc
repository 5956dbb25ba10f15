#include "tests/client/fake_prefix_server.h"

#include <utility>

namespace pharos::testing {

namespace {
constexpr int64_t kWatchId = 1;
}  // namespace

FakePrefixServer::FakePrefixServer()
    : server_([this](const pb::Envelope& request) { return Answer(request); }) {}

FakeServer::Action FakePrefixServer::Answer(const pb::Envelope& request) {
  std::lock_guard lock(mu_);
  if (request.has_watch_create()) {
    watch_request_ = request.id();
    watch_created_.notify_all();
    return FakeServer::Ok(FakeServer::WatchCreated(kWatchId, revision_));
  }
  pb::Envelope reply;
  if (request.has_range()) {
    const pb::RangeRequest& range = request.range();
    pb::RangeResponse* response = reply.mutable_range_response();
    response->mutable_header()->set_revision(revision_);
    for (const auto& [key, value] : data_) {
      const bool covered = range.range_end().empty()
                               ? key == range.key()
                               : key >= range.key() && key < range.range_end();
      if (!covered) continue;
      pb::KeyValue* kv = response->add_kvs();
      kv->set_key(key);
      kv->set_value(value);
    }
  }
  return FakeServer::Ok(std::move(reply));
}

void FakePrefixServer::Put(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  data_[key] = value;
  pb::Event event;
  event.set_type(pb::Event::PUT);
  event.mutable_kv()->set_key(key);
  event.mutable_kv()->set_value(value);
  Publish(std::move(event));
}

void FakePrefixServer::Delete(const std::string& key) {
  std::lock_guard lock(mu_);
  data_.erase(key);
  pb::Event event;
  event.set_type(pb::Event::DELETE);
  event.mutable_kv()->set_key(key);
  Publish(std::move(event));
}

bool FakePrefixServer::WaitForWatch(std::chrono::milliseconds deadline) const {
  std::unique_lock lock(mu_);
  return watch_created_.wait_for(lock, deadline, [&] { return watch_request_.has_value(); });
}

void FakePrefixServer::Publish(pb::Event event) {
  event.mutable_kv()->set_mod_revision(++revision_);
  if (!watch_request_) return;
  pb::Envelope message;
  message.set_id(*watch_request_);
  message.mutable_status()->set_code(pb::OK);
  pb::WatchResponse* watch = message.mutable_watch_response();
  watch->set_watch_id(kWatchId);
  watch->mutable_header()->set_revision(revision_);
  *watch->add_events() = std::move(event);
  server_.Push(message);
}

}  // namespace pharos::testing
