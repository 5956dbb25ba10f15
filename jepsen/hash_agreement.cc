#include "jepsen/hash_agreement.h"

#include <thread>

#include "client/client.h"

namespace pharos::jepsen {

HashAgreement CheckHashAgreement(const std::vector<std::string>& member_clients, int64_t revision,
                                 std::chrono::milliseconds deadline) {
  const auto give_up = std::chrono::steady_clock::now() + deadline;
  HashAgreement out;
  while (true) {
    std::vector<pb::HashKVResponse> answers;
    out.detail.clear();
    for (const std::string& endpoint : member_clients) {
      client::ClientOptions o;
      o.endpoints = {endpoint};
      o.timeout = std::chrono::seconds(2);
      client::Client c(o);
      pb::Envelope e;
      e.mutable_hash_kv()->set_revision(revision);
      auto r = c.Call(e, {.endpoint = endpoint});
      if (!r.ok()) {
        out.detail += endpoint + ": " + r.status().ToString() + "; ";
        continue;
      }
      answers.push_back(r->hash_kv_response());
      out.detail += endpoint + ": hash " + std::to_string(answers.back().hash()) + " compacted " +
                    std::to_string(answers.back().compact_revision()) + "; ";
    }
    // Hashes are comparable only between members that have compacted to the same revision.
    bool same_compaction = answers.size() == member_clients.size();
    for (const auto& a : answers) {
      same_compaction &= a.compact_revision() == answers.front().compact_revision();
    }
    if (same_compaction) {
      out.answered = true;
      out.agree = true;
      for (const auto& a : answers) out.agree &= a.hash() == answers.front().hash();
      return out;
    }
    if (std::chrono::steady_clock::now() >= give_up) return out;
    // A member still applying up to the revision (FUTURE_REVISION) or a compaction in flight.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace pharos::jepsen
