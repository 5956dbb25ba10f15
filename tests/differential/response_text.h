// ResponseText: a response (or the error instead of one) as one line of text that holds exactly
// what the differential test compares, so two servers agree when their lines are equal and a
// difference reads at a glance. Requests get a line too, for the report of a difference.
//
// What is left out, and why:
// - header raft_term, member_id and cluster_id: each server numbers its own terms and members;
// - an error's message: each server words its own (the code says which failure it is);
// - a lease's remaining TTL (LeaseTimeToLive): it depends on when the request arrives, so only
//   whether the lease is alive (TTL > 0) or absent (-1) is compared; the granted TTL exactly.
// Lists a server keeps in no order of its own (a lease's keys, the list of leases) are sorted.
//
// Thread rules: free functions of values.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::differential {

std::string RequestText(const pb::Envelope& request);
std::string ResponseText(const Result<pb::Envelope>& response);
// The revision in a response's header (0 for a body without one).
int64_t HeaderRevision(const pb::Envelope& response);

}  // namespace pharos::differential
