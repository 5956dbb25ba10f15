#include "raft/read_only.h"

namespace pharos::raft {

void ReadOnly::Add(std::string context, uint64_t index, uint64_t from, uint64_t self) {
  for (const auto& r : pending_) {
    if (r.context == context) return;  // a retried request is already waiting
  }
  ReadIndexRequest r;
  r.context = std::move(context);
  r.index = index;
  r.from = from;
  r.acks.insert(self);
  pending_.push_back(std::move(r));
}

const std::set<uint64_t>* ReadOnly::RecvAck(uint64_t from, const std::string& context) {
  size_t n = 0;
  for (; n < pending_.size(); ++n) {
    if (pending_[n].context == context) break;
  }
  // An unknown context answers a heartbeat whose requests were already served: it proves nothing
  // about requests queued after that heartbeat left.
  if (n == pending_.size()) return nullptr;
  for (size_t i = 0; i <= n; ++i) pending_[i].acks.insert(from);
  return &pending_[n].acks;
}

std::vector<ReadIndexRequest> ReadOnly::Release(const std::string& context) {
  std::vector<ReadIndexRequest> out;
  size_t n = 0;
  for (; n < pending_.size(); ++n) {
    if (pending_[n].context == context) break;
  }
  if (n == pending_.size()) return out;
  for (size_t i = 0; i <= n; ++i) {
    out.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  return out;
}

std::string ReadOnly::LastPendingContext() const {
  return pending_.empty() ? std::string() : pending_.back().context;
}

}  // namespace pharos::raft
