#include "raft/membership.h"

#include <algorithm>
#include <string>

namespace pharos::raft {
namespace {

bool Contains(const google::protobuf::RepeatedField<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

void Erase(google::protobuf::RepeatedField<uint64_t>* ids, uint64_t id) {
  auto it = std::find(ids->begin(), ids->end(), id);
  if (it != ids->end()) ids->erase(it);
}

}  // namespace

std::vector<raftpb::Entry> BootstrapEntries(const std::vector<uint64_t>& voters) {
  std::vector<raftpb::Entry> entries;
  for (uint64_t id : voters) {
    raftpb::ConfChange cc;
    cc.set_type(raftpb::CONF_ADD_VOTER);
    cc.set_node_id(id);
    raftpb::Entry& e = entries.emplace_back();
    e.set_term(1);
    e.set_index(entries.size());
    e.set_type(raftpb::ENTRY_CONF_CHANGE);
    e.set_data(cc.SerializeAsString());
  }
  return entries;
}

bool IsVoter(const raftpb::ConfState& cs, uint64_t id) { return Contains(cs.voters(), id); }
bool IsLearner(const raftpb::ConfState& cs, uint64_t id) { return Contains(cs.learners(), id); }
bool WasRemoved(const raftpb::ConfState& cs, uint64_t id) { return Contains(cs.removed(), id); }

Status ApplyConfChange(const raftpb::ConfState& cs, const raftpb::ConfChange& cc,
                       raftpb::ConfState* out) {
  const uint64_t id = cc.node_id();
  const std::string who = "member " + std::to_string(id);
  if (id == 0) return Status::InvalidArgument("member id 0 is reserved");
  if (WasRemoved(cs, id))
    return Status::InvalidArgument(who + " was removed; ids are never reused");
  *out = cs;
  switch (cc.type()) {
    case raftpb::CONF_ADD_VOTER:
      if (IsVoter(cs, id)) return Status::InvalidArgument(who + " is already a voter");
      if (IsLearner(cs, id)) {
        return Status::InvalidArgument(who + " is a learner; promote it instead");
      }
      out->add_voters(id);
      return Status::Ok();
    case raftpb::CONF_ADD_LEARNER:
      if (IsVoter(cs, id) || IsLearner(cs, id)) {
        return Status::InvalidArgument(who + " is already a member");
      }
      out->add_learners(id);
      return Status::Ok();
    case raftpb::CONF_PROMOTE_LEARNER:
      if (!IsLearner(cs, id)) return Status::InvalidArgument(who + " is not a learner");
      Erase(out->mutable_learners(), id);
      out->add_voters(id);
      return Status::Ok();
    case raftpb::CONF_REMOVE_NODE:
      if (!IsVoter(cs, id) && !IsLearner(cs, id)) {
        return Status::InvalidArgument(who + " is not a member");
      }
      if (IsVoter(cs, id) && cs.voters_size() == 1) {
        return Status::InvalidArgument("cannot remove the last voter");
      }
      Erase(out->mutable_voters(), id);
      Erase(out->mutable_learners(), id);
      out->add_removed(id);
      return Status::Ok();
    default:
      return Status::InvalidArgument("unknown configuration change type");
  }
}

void Membership::Reset(uint64_t base_index, const raftpb::ConfState& base) {
  base_index_ = base_index;
  base_ = base;
  changes_.clear();
}

void Membership::OnAppend(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return;
  const uint64_t from = entries.front().index();
  while (!changes_.empty() && changes_.back().index >= from) changes_.pop_back();
  for (const raftpb::Entry& e : entries) {
    if (e.type() != raftpb::ENTRY_CONF_CHANGE || e.index() <= base_index_) continue;
    raftpb::ConfChange cc;
    raftpb::ConfState next;
    // The leader validated the change before appending it; an entry that does not apply here
    // (which would be a bug) leaves the configuration unchanged on every node alike.
    if (!cc.ParseFromString(e.data()) || !ApplyConfChange(current(), cc, &next).ok()) {
      next = current();
    }
    changes_.push_back({e.index(), std::move(next)});
  }
}

const raftpb::ConfState& Membership::current() const {
  return changes_.empty() ? base_ : changes_.back().conf_state;
}

const raftpb::ConfState& Membership::At(uint64_t index) const {
  const raftpb::ConfState* cs = &base_;
  for (const Change& c : changes_) {
    if (c.index > index) break;
    cs = &c.conf_state;
  }
  return *cs;
}

uint64_t Membership::LastConfigIndex() const {
  return changes_.empty() ? base_index_ : changes_.back().index;
}

std::vector<uint64_t> Membership::Voters() const {
  const auto& v = current().voters();
  return {v.begin(), v.end()};
}

}  // namespace pharos::raft
