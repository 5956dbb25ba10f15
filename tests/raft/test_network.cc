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
  p.chain = 0;
  p.applied_index = 0;
  checker_.ObserveSnapshotRestore(id, 0, 0);  // its state machine starts over
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
    // The test state machine restarts from the snapshot point.
    p.applied_index = rd.snapshot->metadata().index();
    p.chain = 0;
  }
  if (!rd.entries.empty()) {
    std::vector<std::pair<uint64_t, uint64_t>> replaced;
    const uint64_t first = rd.entries.front().index();
    for (uint64_t i = std::max(first, p.storage->FirstIndex()); i <= p.storage->LastIndex(); ++i) {
      replaced.emplace_back(i, *p.storage->Term(i));
    }
    auto prev = p.storage->Term(first - 1);
    checker_.ObservePersist(id, rd.entries, prev.ok() ? *prev : 0, replaced);
  }
  if (Status s = p.storage->Append(rd.entries); !s.ok()) throw std::runtime_error(s.ToString());
  if (rd.hard_state) p.storage->SetHardState(*rd.hard_state);
  for (const auto& m : rd.messages_after_persist) Send(m);
  for (const auto& e : rd.committed_entries) {
    if (e.index() <= p.applied_index) continue;
    if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) p.applied.push_back(e.data());
    p.applied_index = e.index();
    // Nodes that restored a snapshot cannot be compared on the chain; index and term still are.
    p.chain = p.chain * 1099511628211ULL + HashEntry(e);
    if (!p.storage->GetSnapshot()->metadata().index()) {
      checker_.ObserveApply(id, e.index(), e.term(), p.chain);
    }
  }
  for (auto& rs : rd.read_states) p.read_states.push_back(rs);
  p.node->Advance();
  return true;
}

void TestNetwork::Check() {
  for (auto& [id, p] : nodes_) {
    if (!p.up) continue;
    const Node& n = *p.node;
    checker_.ObserveRole(id, n.term(), n.role());
    const RaftLog& log = n.log();
    checker_.ObserveCommit(id, log.committed(), [&log](uint64_t i) { return log.Term(i); });
    if (n.role() == Role::kLeader && p.seen_role != Role::kLeader) {
      checker_.ObserveNewLeader(id, n.term(), log.LastIndex(), log.FirstIndex(),
                                [&log](uint64_t i) { return log.Term(i); });
    }
    p.seen_role = n.role();
  }
  if (checker_.violation()) {
    throw std::runtime_error("safety violation " + checker_.violation()->check + ": " +
                             checker_.violation()->detail);
  }
}

void TestNetwork::Settle() {
  for (int guard = 0; guard < 100000; ++guard) {
    bool moved = false;
    for (auto& [id, p] : nodes_) moved |= ProcessReady(id);
    Check();
    while (!in_flight_.empty()) {
      raftpb::Message m = std::move(in_flight_.front());
      in_flight_.pop_front();
      auto it = nodes_.find(m.to());
      if (it != nodes_.end() && it->second.up) (void)it->second.node->Step(m);
      Check();
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
