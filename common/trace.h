// W3C trace context (https://www.w3.org/TR/trace-context/): every client request may carry a
// `traceparent`; servers put its trace id on their log lines so one request can be followed
// across members.
#pragma once

#include <string>
#include <string_view>

namespace pharos {

// A fresh traceparent: "00-<32 hex trace id>-<16 hex parent id>-01".
std::string NewTraceparent();
// The trace id of a well-formed traceparent, or "" (a malformed one is ignored, as the W3C
// spec asks, rather than failing the request).
std::string TraceIdOf(std::string_view traceparent);

}  // namespace pharos
