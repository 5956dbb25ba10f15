#include "common/host_address.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace pharos {
namespace {

TEST(HostAddressTest, HostNamesFollowRfc1123) {
  for (const char* good : {"localhost", "node-b", "pharos-0.pharos.default.svc.cluster.local", "a",
                           "3com", "x1.example.org"}) {
    EXPECT_TRUE(IsHostName(good)) << good;
  }
  const std::string long_label(64, 'a');
  const std::string long_name = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                std::string(63, 'c') + "." + std::string(63, 'd');  // 255
  for (const std::string& bad :
       {std::string(""), std::string("-a"), std::string("a-"), std::string("a..b"),
        std::string("a.b."), std::string(".a"), std::string("bad_host"), std::string("a b"),
        std::string("10.0.0"), std::string("1.2.3.4"), std::string("[::1]"), std::string("::1"),
        std::string("host:80"), long_label, long_name}) {
    EXPECT_FALSE(IsHostName(bad)) << bad;
  }
}

TEST(HostAddressTest, ALiteralIsKeptAndANameIsLookedUp) {
  EXPECT_EQ(NumericHost("10.1.2.3").value(), "10.1.2.3");
  EXPECT_EQ(NumericHost("::1").value(), "::1");
  EXPECT_EQ(NumericHost("0.0.0.0").value(), "0.0.0.0");
  // /etc/hosts names it on every machine this runs on.
  auto local = NumericHost("localhost");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(local.value().rfind("127.", 0), 0u) << local.value();
}

TEST(HostAddressTest, WhatIsNotANameOrDoesNotResolveSaysSo) {
  auto bad = NumericHost("bad_host!");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("neither an IP address nor a host name"), std::string::npos)
      << bad.status().ToString();
  // RFC 2606 reserves .invalid: no resolver answers it.
  auto unknown = NumericHost("no-such-member.invalid");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(unknown.status().message().find("cannot resolve host name 'no-such-member.invalid'"),
            std::string::npos)
      << unknown.status().ToString();
}

// A resolver that does not answer (a DNS server gone) holds a caller up to its deadline, not
// through the resolver's own timeouts; the lookup's answer, when it comes, goes to nobody.
TEST(HostAddressTest, ALookupGivesUpAtTheCallersDeadline) {
  struct Resolver {
    std::mutex mu;
    std::condition_variable released;
    bool answer = false;
  };
  auto resolver = std::make_shared<Resolver>();
  auto hung = [resolver](const std::string&) -> Result<std::string> {
    std::unique_lock lock(resolver->mu);
    resolver->released.wait(lock, [&] { return resolver->answer; });
    return std::string("10.0.0.9");
  };
  const auto started = std::chrono::steady_clock::now();
  auto found = NumericHostBefore("stuck-name", started + std::chrono::milliseconds(100), hung);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(found.status().message(),
            "looking 'stuck-name' up took longer than the call's deadline");
  EXPECT_GE(took, std::chrono::milliseconds(100));
  EXPECT_LT(took, std::chrono::seconds(5));
  {
    std::lock_guard lock(resolver->mu);
    resolver->answer = true;
  }
  resolver->released.notify_all();

  // One that answers in time is used; literals and bad names need no lookup at all.
  auto quick = [](const std::string&) -> Result<std::string> { return std::string("10.0.0.7"); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  EXPECT_EQ(NumericHostBefore("member-a", deadline, quick).value(), "10.0.0.7");
  auto never = [](const std::string&) -> Result<std::string> {
    ADD_FAILURE() << "looked up";
    return Status::Unavailable("no");
  };
  EXPECT_EQ(NumericHostBefore("10.1.2.3", deadline, never).value(), "10.1.2.3");
  EXPECT_EQ(NumericHostBefore("bad_host!", deadline, never).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(NumericHostBefore("localhost", deadline).value().rfind("127.", 0), 0u);
}

}  // namespace
}  // namespace pharos
