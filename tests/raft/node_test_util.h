// Helpers for tests that drive one Raft node by hand: step messages in, collect what comes out.
#pragma once

#include <memory>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/node.h"
#include "tests/raft/test_network.h"

namespace pharos::raft::testing {

struct LoneNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<Node> node;
  // Everything the node sent, in both Ready lists, since the last Drain.
  std::vector<raftpb::Message> Drain() {
    std::vector<raftpb::Message> out;
    while (node->HasReady()) {
      Ready rd = node->GetReady();
      out.insert(out.end(), rd.messages.begin(), rd.messages.end());
      if (rd.snapshot) (void)storage->ApplySnapshot(*rd.snapshot);
      (void)storage->Append(rd.entries);
      if (rd.hard_state) storage->SetHardState(*rd.hard_state);
      out.insert(out.end(), rd.messages_after_persist.begin(), rd.messages_after_persist.end());
      node->Advance();
    }
    return out;
  }
};

// Node `id` of a cluster bootstrapped with `voters`, driven by hand.
inline LoneNode MakeLoneNode(uint64_t id, const std::vector<uint64_t>& voters,
                             RaftConfig config = {}) {
  LoneNode n;
  n.storage = MemoryStorage::Bootstrap(voters);
  if (config.id == 0) config = TestConfig(id);
  n.node = std::move(*Node::Create(config, n.storage.get()));
  return n;
}

inline raftpb::Message Msg(raftpb::MessageType type, uint64_t from, uint64_t to, uint64_t term) {
  raftpb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

inline raftpb::Entry Ent(uint64_t index, uint64_t term, const std::string& data = "x") {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data);
  return e;
}

inline const raftpb::Message* Find(const std::vector<raftpb::Message>& msgs,
                                   raftpb::MessageType type) {
  for (const auto& m : msgs) {
    if (m.type() == type) return &m;
  }
  return nullptr;
}

}  // namespace pharos::raft::testing
