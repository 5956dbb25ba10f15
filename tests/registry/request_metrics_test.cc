// RequestMetrics: answered requests land in the same series the registry renders (by method and
// code, and the latency histogram by method), through entries that are looked up once.
#include "registry/request_metrics.h"

#include <gtest/gtest.h>

#include "common/metrics.h"

namespace pharos::registry {
namespace {

TEST(RequestMetricsTest, CountsEachAnswerByMethodAndCodeAndTimesIt) {
  RequestMetrics metrics;
  RequestMetrics::Method& range = metrics.For(pb::Envelope::kRange);
  EXPECT_EQ(range.name, "range");
  RequestMetrics::Record(range, pb::OK, 0.0002);
  RequestMetrics::Record(range, pb::OK, 0.0002);
  RequestMetrics::Record(range, pb::NOT_LEADER, 0.003);

  const std::string text = Metrics::Global().Render();
  EXPECT_NE(text.find("pharos_client_requests_total{method=\"range\",code=\"OK\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("pharos_client_requests_total{method=\"range\",code=\"NOT_LEADER\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("pharos_client_request_duration_seconds_count{method=\"range\"} 3\n"),
            std::string::npos)
      << text;
  // Two answers of 0.2 ms and one of 3 ms: two at or under the 1 ms bound.
  EXPECT_NE(text.find("pharos_client_request_duration_seconds_bucket{method=\"range\",le="
                      "\"0.001\"} 2\n"),
            std::string::npos)
      << text;
}

TEST(RequestMetricsTest, OneEntryPerMethodThatKeepsItsAddress) {
  RequestMetrics metrics;
  RequestMetrics::Method* keep_alive = &metrics.For(pb::Envelope::kLeaseKeepAlive);
  EXPECT_EQ(keep_alive->name, "lease_keep_alive");
  // Entries made afterwards (the table grows and rehashes) leave the first where it was:
  // requests in flight hold its address.
  for (auto body :
       {pb::Envelope::kPut, pb::Envelope::kDeleteRange, pb::Envelope::kTxn,
        pb::Envelope::kCompaction, pb::Envelope::kWatchCreate, pb::Envelope::kWatchCancel,
        pb::Envelope::kLeaseGrant, pb::Envelope::kLeaseRevoke, pb::Envelope::kLeaseTimeToLive,
        pb::Envelope::kMemberList, pb::Envelope::kStatusRequest, pb::Envelope::kAlarm,
        pb::Envelope::kHashKv}) {
    metrics.For(body);
  }
  EXPECT_EQ(&metrics.For(pb::Envelope::kLeaseKeepAlive), keep_alive);
  EXPECT_NE(&metrics.For(pb::Envelope::kPut), keep_alive);
  EXPECT_EQ(metrics.For(pb::Envelope::kPut).name, "put");
}

}  // namespace
}  // namespace pharos::registry
