// The entries the log store crash test writes: a pure function of the index, so the parent can
// check what survived without talking to the child.
#pragma once

#include <string>

#include "proto/raft.pb.h"

namespace pharos::testing {

inline raftpb::Entry CrashTestEntry(uint64_t index) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(1);
  // Some bulk, so writes are not trivially small.
  e.set_data("entry-" + std::to_string(index) + "-" + std::string(100 + index % 200, 'x'));
  return e;
}

}  // namespace pharos::testing
