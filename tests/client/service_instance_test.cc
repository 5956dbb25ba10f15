#include "client/service_instance.h"

#include <gtest/gtest.h>

namespace pharos::client {
namespace {

TEST(ServiceInstanceTest, RoundTripsThroughJson) {
  ServiceInstance i{"i-1", "greeter", "127.0.0.1", 8080, 5, "zone-a", "1.2.3", {{"k", "v"}}};
  auto back = InstanceFromJson(ToJson(i));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, i);
}

TEST(ServiceInstanceTest, RefusesWhatIsNotAnInstance) {
  EXPECT_FALSE(InstanceFromJson("not json").ok());
  EXPECT_FALSE(InstanceFromJson("[1,2]").ok());
  EXPECT_FALSE(InstanceFromJson(R"({"service":"s"})").ok());
  EXPECT_FALSE(InstanceFromJson(R"({"id":"a","service":"s","port":70000})").ok());
  EXPECT_FALSE(InstanceFromJson(R"({"id":"a","service":"s","weight":-1})").ok());
  auto minimal = InstanceFromJson(R"({"id":"a","service":"s"})");
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->weight, 1u);
}

}  // namespace
}  // namespace pharos::client
