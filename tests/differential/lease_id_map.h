// LeaseIdMap: one target's translation between the lease ids the operation generator uses and
// the ids that target really holds. A lease granted with an id the client chose has that id on
// both targets. A lease whose id the server picked has a different id on each, so the generator
// names it by a negative logical id (-1 for the first such grant, -2 for the next, ...) and each
// target's map learns the real id from its own grant's response. Responses are rewritten back to
// logical ids, so both targets' answers read the same when they agree.
//
// Thread rules: one thread.
#pragma once

#include <cstdint>
#include <map>

#include "proto/pharos.pb.h"

namespace pharos::differential {

class LeaseIdMap {
 public:
  // Every lease id in `request`, real; a server-picked lease not learned yet becomes an id that
  // no test ever grants, so the request meets an absent lease on both targets.
  pb::Envelope ToReal(pb::Envelope request) const;
  // Every lease id in `response`, logical. A successful grant of a server-picked id (request ID
  // 0) is learned first.
  pb::Envelope ToLogical(const pb::Envelope& request, pb::Envelope response);

  // Never granted by the test: chosen ids are positive and server-picked ones are learned.
  static constexpr int64_t kNeverGranted = 0x7e57000000000001;

 private:
  int64_t Real(int64_t logical) const;
  int64_t Logical(int64_t real) const;

  std::map<int64_t, int64_t> real_of_;     // logical (negative) -> real
  std::map<int64_t, int64_t> logical_of_;  // real -> logical (negative)
};

}  // namespace pharos::differential
