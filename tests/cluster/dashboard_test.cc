// The HTTP endpoints of a real pharosd, and the Grafana dashboard checked against them: a panel
// that queries a metric the server does not export fails the test.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

std::set<std::string> ExportedMetrics(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) names.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  return names;
}

void CollectExprs(const google::protobuf::Value& v, std::vector<std::string>* out) {
  if (v.has_struct_value()) {
    for (const auto& [k, field] : v.struct_value().fields()) {
      if (k == "expr" && field.has_string_value()) out->push_back(field.string_value());
      CollectExprs(field, out);
    }
  } else if (v.has_list_value()) {
    for (const auto& item : v.list_value().values()) CollectExprs(item, out);
  }
}

TEST(DashboardTest, EveryPanelQueriesAnExportedMetric) {
  ProcessCluster cluster(1);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  client::SyncClient c(cluster.clients());
  pb::Envelope put;
  put.mutable_put()->set_key("k");
  put.mutable_put()->set_value("v");
  ASSERT_TRUE(c.Call(put).ok());  // so request metrics have a series
  auto metrics = HttpGet(cluster.metrics(0), "/metrics");
  ASSERT_TRUE(metrics.has_value());
  ASSERT_EQ(metrics->first, 200);
  const std::set<std::string> exported = ExportedMetrics(metrics->second);
  ASSERT_GT(exported.size(), 10u);

  std::ifstream f(std::string(SOURCE_DIR) + "/tools/grafana/pharos-dashboard.json");
  const std::string json((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  google::protobuf::Value dashboard;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &dashboard).ok());
  std::vector<std::string> exprs;
  CollectExprs(dashboard, &exprs);
  ASSERT_GE(exprs.size(), 12u);
  const std::regex metric("pharos_[a-z0-9_]+");
  int checked = 0;
  for (const std::string& e : exprs) {
    for (std::sregex_iterator it(e.begin(), e.end(), metric), end; it != end; ++it) {
      std::string name = it->str();
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s(suffix);
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
            !exported.count(name)) {
          name.resize(name.size() - s.size());
        }
      }
      EXPECT_TRUE(exported.count(name))
          << "the dashboard queries " << name << ", which pharosd does not export";
      ++checked;
    }
  }
  EXPECT_GE(checked, 12);
}

TEST(DashboardTest, HealthAndStatusEndpoints) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  for (int i = 0; i < 3; ++i) {
    auto health = HttpGet(cluster.metrics(i), "/health");
    ASSERT_TRUE(health.has_value());
    EXPECT_EQ(health->first, 200) << health->second;
    auto status = HttpGet(cluster.metrics(i), "/status");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->first, 200);
    EXPECT_NE(status->second.find("\"leader\""), std::string::npos);
  }
  // Without a quorum there is no leader, and /health says so.
  cluster.Kill(0);
  cluster.Kill(1);
  EXPECT_TRUE(Eventually([&] {
    auto health = HttpGet(cluster.metrics(2), "/health");
    return health && health->first == 503 && health->second.find("no leader") != std::string::npos;
  }));
}

}  // namespace
}  // namespace pharos::testing
