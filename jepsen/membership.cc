// NodeSet's membership changes: remove a member, bring its address back as a new member.
#include <filesystem>
#include <thread>

#include "client/client.h"
#include "jepsen/node_set.h"

namespace pharos::jepsen {
namespace {

using Clock = std::chrono::steady_clock;

void Nap() { std::this_thread::sleep_for(std::chrono::milliseconds(200)); }

std::optional<pb::Member> ByPeer(const std::vector<pb::Member>& members, const std::string& peer) {
  for (const auto& m : members) {
    for (const auto& u : m.peer_urls()) {
      if (u == peer) return m;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<pb::Member>> NodeSet::Members() {
  client::ClientOptions o;
  o.endpoints = clients();
  o.timeout = std::chrono::seconds(2);
  client::Client c(o);
  // A leader's list is the one that counts; a follower's may lag a change.
  std::string endpoint;
  if (auto l = Leader()) endpoint = client(*l);
  pb::Envelope e;
  e.mutable_member_list();
  auto r = c.Call(e, {.endpoint = endpoint});
  if (!r.ok()) return r.status();
  const auto& ms = r->member_list_response().members();
  return std::vector<pb::Member>(ms.begin(), ms.end());
}

Status NodeSet::RemoveMember(int i, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  client::ClientOptions o;
  o.endpoints = clients();
  o.timeout = std::chrono::seconds(3);
  client::Client c(o);
  Status last = Status::Ok();
  for (;;) {
    auto members = Members();
    if (members.ok()) {
      auto m = ByPeer(*members, peer(i));
      if (!m) break;  // removed
      pb::Envelope e;
      e.mutable_member_remove()->set_id(m->id());
      auto r = c.Call(e);
      last = r.ok() ? client::StatusOf(*r) : r.status();
    } else {
      last = members.status();
    }
    if (Clock::now() >= deadline) {
      return Status::Unavailable("member " + name(i) + " not removed: " + last.ToString());
    }
    Nap();
  }
  Kill(i);
  return Status::Ok();
}

Status NodeSet::AddMemberBack(int i, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (Status s = RemoveMember(i, timeout); !s.ok()) return s;
  Kill(i);
  // A removed member's data refuses to start, and its id is never reused: an empty directory
  // and a new name.
  std::error_code ignored;
  std::filesystem::remove_all(options_.dir + "/n" + std::to_string(i + 1) + "/data", ignored);
  const int generation = generation_[i] = generation_[i] + 1;
  names_[i] = "n" + std::to_string(i + 1) + "-" + std::to_string(generation + 1);

  client::ClientOptions o;
  o.endpoints = clients();
  o.timeout = std::chrono::seconds(3);
  client::Client c(o);
  Status last = Status::Ok();
  for (;;) {
    auto members = Members();
    if (members.ok() && ByPeer(*members, peer(i))) break;  // added (maybe by an earlier try)
    if (members.ok()) {
      pb::Envelope e;
      auto* add = e.mutable_member_add();
      add->set_name(names_[i]);
      add->add_peer_urls(peer(i));
      add->add_client_urls(client(i));
      auto r = c.Call(e);
      last = r.ok() ? client::StatusOf(*r) : r.status();
    } else {
      last = members.status();
    }
    if (Clock::now() >= deadline) {
      return Status::Unavailable("member " + names_[i] + " not added: " + last.ToString());
    }
    Nap();
  }
  Start(i);
  // Caught up: it votes, knows a leader, and has applied what the leader had committed.
  uint64_t target = 0;
  for (;;) {
    if (target == 0) {
      if (auto l = Leader(); l && *l != i) {
        pb::Envelope e;
        e.mutable_status_request();
        auto r = c.Call(e, {.endpoint = client(*l)});
        if (r.ok()) target = r->status_response().raft_index();
      }
    } else {
      pb::Envelope e;
      e.mutable_status_request();
      auto r = c.Call(e, {.timeout = std::chrono::milliseconds(500), .endpoint = client(i)});
      if (r.ok()) {
        const auto& st = r->status_response();
        if (!st.is_learner() && st.leader() != 0 && st.raft_applied_index() >= target) break;
      }
    }
    if (Clock::now() >= deadline) {
      return Status::Unavailable("member " + names_[i] + " did not catch up");
    }
    Nap();
  }
  return VotersAtEveryAddress();
}

Status NodeSet::VotersAtEveryAddress() {
  auto members = Members();
  if (!members.ok()) return members.status();
  for (int i = 0; i < size(); ++i) {
    auto m = ByPeer(*members, peer(i));
    if (!m || m->is_learner()) {
      return Status::Unavailable("no voting member at " + peer(i));
    }
  }
  return Status::Ok();
}

}  // namespace pharos::jepsen
