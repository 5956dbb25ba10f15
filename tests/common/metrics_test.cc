#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pharos {
namespace {

TEST(MetricsTest, RendersPrometheusText) {
  Metrics m;
  m.counter("pharos_test_requests_total", "requests", {{"method", "put"}, {"code", "OK"}}).Inc(3);
  m.gauge("pharos_test_term", "term").Set(7);
  m.gauge_fn("pharos_test_computed", "computed", [] { return 42.0; });
  Histogram& h = m.histogram("pharos_test_duration_seconds", "latency", {}, {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  const std::string text = m.Render();
  EXPECT_NE(text.find("# TYPE pharos_test_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("pharos_test_requests_total{method=\"put\",code=\"OK\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("pharos_test_term 7"), std::string::npos);
  EXPECT_NE(text.find("pharos_test_computed 42"), std::string::npos);
  EXPECT_NE(text.find("pharos_test_duration_seconds_bucket{le=\"0.1\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("pharos_test_duration_seconds_bucket{le=\"1\"} 2"), std::string::npos);
  EXPECT_NE(text.find("pharos_test_duration_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(text.find("pharos_test_duration_seconds_count 3"), std::string::npos);
}

TEST(MetricsTest, NumbersAreTheShortestTextThatReadsBackExactly) {
  Metrics m;
  m.gauge("pharos_test_tenth", "").Set(0.1);
  m.gauge("pharos_test_sum", "").Set(0.1 + 0.2);  // not 0.3: needs all 17 digits
  m.gauge("pharos_test_large", "").Set(123456789012.0);
  m.gauge("pharos_test_small", "").Set(0.00025);
  m.gauge("pharos_test_nan", "").Set(std::nan(""));
  const std::string text = m.Render();
  EXPECT_NE(text.find("pharos_test_tenth 0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pharos_test_sum 0.30000000000000004\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pharos_test_large 123456789012\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pharos_test_small 0.00025\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pharos_test_nan NaN\n"), std::string::npos) << text;
}

TEST(MetricsTest, SameNameAndLabelsIsTheSameSeries) {
  Metrics m;
  m.counter("pharos_x_total", "x", {{"a", "1"}}).Inc();
  m.counter("pharos_x_total", "x", {{"a", "1"}}).Inc();
  EXPECT_EQ(m.counter("pharos_x_total", "x", {{"a", "1"}}).value(), 2);
  EXPECT_EQ(m.counter("pharos_x_total", "x", {{"a", "2"}}).value(), 0);
}

}  // namespace
}  // namespace pharos
