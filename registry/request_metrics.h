// RequestMetrics: the client request counters (by method and result code) and latency
// histograms (by method). Each series is looked up in the metrics registry once and kept, so
// an answer no longer takes the registry's mutex or builds label strings and map keys on the
// client I/O thread (measured: no throughput change this machine could show; less work).
//
// Thread rules: the client I/O thread only (the counters themselves are atomic).
#pragma once

#include <map>
#include <string>
#include <unordered_map>

#include "proto/pharos.pb.h"

namespace pharos {
class Counter;
class Histogram;
}  // namespace pharos

namespace pharos::registry {

class RequestMetrics {
 public:
  struct Method {
    std::string name;  // the envelope's body field, e.g. "range"
    Histogram* duration = nullptr;
    std::map<pb::Code, Counter*> by_code;
  };

  // The entry for requests with this body; made on first use, and never moved afterwards.
  Method& For(pb::Envelope::BodyCase body);
  // One answered request of `method`.
  static void Record(Method& method, pb::Code code, double seconds);

 private:
  std::unordered_map<int, Method> methods_;  // node-based: entries keep their addresses
};

}  // namespace pharos::registry
