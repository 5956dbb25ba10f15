// Host names in addresses: peers and listeners may be named ("pharos-0.pharos:2380", as a
// Kubernetes StatefulSet or a Compose file names its members) as well as given as IP literals.
// Peer links look a name up again for every connection (raft/transport.cc), since a member
// restarted elsewhere keeps its name and not its address; what listens or binds looks its name
// up once, at start, here. Only IPv4 addresses are used for names: peer sockets are IPv4
// (DESIGN.md §3, bound to the member's own address).
//
// Thread rules: free functions; NumericHost blocks on the system's resolver (getaddrinfo), and
// NumericHostBefore until its deadline at most.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pharos {

// An IPv4 literal ("10.0.0.1").
bool IsIpv4Literal(std::string_view host);
// A DNS host name by RFC 1123's rules: dot-separated labels of letters, digits and '-', none
// empty, starting or ending with '-', or over 63 characters, 253 in all; not all digits and dots.
bool IsHostName(std::string_view host);
// `host` itself when it is an IP literal (v4 or v6), else the first IPv4 address its name has.
// INVALID_ARGUMENT for a name that is not one, UNAVAILABLE for one that does not resolve.
Result<std::string> NumericHost(const std::string& host);

using LookUpHost = std::function<Result<std::string>(const std::string& host)>;
// As NumericHost, but DEADLINE_EXCEEDED at `deadline`: a caller with a deadline (a client's call)
// must not wait out the resolver's own timeouts, seconds each. getaddrinfo cannot be cancelled,
// so a name is looked up on a thread of its own, which ends whenever the resolver answers and
// hands its answer to nobody if the caller gave up. `look_up` stands in for NumericHost in tests.
Result<std::string> NumericHostBefore(const std::string& host,
                                      std::chrono::steady_clock::time_point deadline,
                                      LookUpHost look_up = NumericHost);

}  // namespace pharos
