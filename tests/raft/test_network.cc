#include "tests/raft/test_network.h"

#include <stdexcept>

namespace pharos::raft::testing {

RaftConfig TestConfig(uint64_t id) {
  RaftConfig c;
  c.id = id;
  c.seed = 42;
  return c;
}

TestNetwork::TestNetwork(const std::vector<uint64_t>& ids, std::function<void(RaftConfig&)> tweak)
    : tweak_(std::move(tweak)) {
  for (uint64_t id : ids) {
    Peer& p = nodes_[id];
    p.storage = MemoryStorage::Bootstrap(ids);
    p.config = TestConfig(id);
    if (tweak_) tweak_(p.config);
    auto n = Node::Create(p.config, p.storage.get());
    if (!n.ok()) throw std::runtime_error(n.status().ToString());
    p.node = std::move(*n);
  }
}

void TestNetwork::AddEmptyNode(uint64_t id) {
  Peer& p = nodes_[id];
  p.storage = std::make_unique<MemoryStorage>();
  p.config = TestConfig(id);
  if (tweak_) tweak_(p.config);
  p.node = std::move(*Node::Create(p.config, p.storage.get()));
}

Status TestNetwork::Restart(uint64_t id) {
  Peer& p = nodes_.at(id);
  p.node.reset();
  p.applied.clear();
  p.read_states.clear();
  RaftConfig c = p.config;
  c.applied = 0;  // the test state machine is in memory: apply everything again
  auto n = Node::Create(c, p.storage.get());
  if (!n.ok()) return n.status();
  p.node = std::move(*n);
  p.up = true;
  return Status::Ok();
}

void TestNetwork::Stop(uint64_t id) { nodes_.at(id).up = false; }

void TestNetwork::Cut(uint64_t a, uint64_t b) {
  cut_.insert({a, b});
  cut_.insert({b, a});
}

void TestNetwork::Isolate(uint64_t id) {
  for (auto& [other, p] : nodes_) {
    if (other != id) Cut(id, other);
  }
}

void TestNetwork::Send(const raftpb::Message& m) {
  if (observer_) observer_(m);
  if (cut_.count({m.from(), m.to()})) return;
  raftpb::Message copy = m;
  if (filter_ && !filter_(copy)) return;
  in_flight_.push_back(std::move(copy));
}

bool TestNetwork::ProcessReady(uint64_t id) {
  Peer& p = nodes_.at(id);
  if (!p.up || !p.node->HasReady()) return false;
  Ready rd = p.node->GetReady();
  for (const auto& m : rd.messages) Send(m);
  // Persist, then the rest, as raft/ready.h says.
  if (rd.snapshot) {
    if (Status s = p.storage->ApplySnapshot(*rd.snapshot); !s.ok()) {
      throw std::runtime_error(s.ToString());
    }
  }
  if (Status s = p.storage->Append(rd.entries); !s.ok()) throw std::runtime_error(s.ToString());
  if (rd.hard_state) p.storage->SetHardState(*rd.hard_state);
  for (const auto& m : rd.messages_after_persist) Send(m);
  for (const auto& e : rd.committed_entries) {
    if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) p.applied.push_back(e.data());
  }
  for (auto& rs : rd.read_states) p.read_states.push_back(rs);
  p.node->Advance();
  return true;
}

void TestNetwork::Settle() {
  for (int guard = 0; guard < 100000; ++guard) {
    bool moved = false;
    for (auto& [id, p] : nodes_) moved |= ProcessReady(id);
    while (!in_flight_.empty()) {
      raftpb::Message m = std::move(in_flight_.front());
      in_flight_.pop_front();
      auto it = nodes_.find(m.to());
      if (it != nodes_.end() && it->second.up) (void)it->second.node->Step(m);
      moved = true;
    }
    if (!moved) return;
  }
  throw std::runtime_error("TestNetwork::Settle did not settle");
}

void TestNetwork::Tick(uint64_t id, int times) {
  for (int i = 0; i < times; ++i) {
    if (nodes_.at(id).up) nodes_.at(id).node->Tick();
    Settle();
  }
}

void TestNetwork::TickAll(int times) {
  for (int i = 0; i < times; ++i) {
    for (auto& [id, p] : nodes_) {
      if (p.up) p.node->Tick();
    }
    Settle();
  }
}

uint64_t TestNetwork::Leader() const {
  uint64_t leader = 0, term = 0;
  for (const auto& [id, p] : nodes_) {
    if (p.up && p.node->role() == Role::kLeader && p.node->term() >= term) {
      leader = id;
      term = p.node->term();
    }
  }
  return leader;
}

uint64_t TestNetwork::ElectLeader(int max_ticks) {
  for (int i = 0; i < max_ticks; ++i) {
    if (uint64_t l = Leader()) return l;
    TickAll();
  }
  return Leader();
}

}  // namespace pharos::raft::testing
