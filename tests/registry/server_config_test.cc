#include "registry/server_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace pharos::registry {
namespace {

ParseOutcome Parse(std::vector<std::string> args, std::string* err_text = nullptr) {
  args.insert(args.begin(), "pharosd");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  ParseOutcome o = ParseServerConfig(static_cast<int>(argv.size()), argv.data(), out, err);
  if (err_text) *err_text = err.str();
  return o;
}

TEST(ServerConfigTest, ThreeNodeFlags) {
  ParseOutcome o = Parse({"--name", "n2", "--listen-client", "127.0.0.12:2379", "--listen-peer",
                          "127.0.0.12:2380", "--initial-cluster",
                          "n1=127.0.0.11:2380,n2=127.0.0.12:2380,n3=127.0.0.13:2380"});
  ASSERT_TRUE(o.run);
  EXPECT_EQ(o.config.peers.size(), 3u);
  EXPECT_EQ(o.config.member_id, MemberId("n2", "127.0.0.12:2380"));
  EXPECT_EQ(o.config.advertise_client, "127.0.0.12:2379");
  EXPECT_EQ(o.config.data_dir, "n2.pharos");
  EXPECT_EQ(o.config.tick_ms, 10);
  EXPECT_EQ(o.config.election_min_ms, 150);
  EXPECT_EQ(o.config.election_max_ms, 300);
  EXPECT_EQ(o.config.heartbeat_ms, 50);
}

TEST(ServerConfigTest, BadInputIsExitCodeTwoWithAReason) {
  std::string err;
  EXPECT_EQ(Parse({"--no-such-flag"}, &err).exit_code, 2);
  EXPECT_NE(err.find("no-such-flag"), std::string::npos);
  EXPECT_EQ(Parse({"--listen-client", "localhost"}, &err).exit_code, 2);
  EXPECT_NE(err.find("host:port"), std::string::npos);
  EXPECT_EQ(Parse({"--initial-cluster-state", "maybe"}, &err).exit_code, 2);
  EXPECT_EQ(Parse({"--name", "x", "--initial-cluster", "y=127.0.0.1:1"}, &err).exit_code, 2);
  EXPECT_NE(err.find("does not name this member"), std::string::npos);
  EXPECT_EQ(Parse({"--election-min-ms", "40"}, &err).exit_code, 2);
  EXPECT_EQ(Parse({"--log-level", "loud"}, &err).exit_code, 2);
  EXPECT_FALSE(Parse({"--tick-ms", "ten"}, &err).run);
  // CLI11 alone reads a negative number into an unsigned option as a huge one.
  EXPECT_FALSE(Parse({"--snapshot-count", "-5"}, &err).run);
  EXPECT_NE(err.find("snapshot-count"), std::string::npos) << err;
  EXPECT_FALSE(Parse({"--snapshot-catchup-entries", "-1"}, &err).run);
  EXPECT_NE(err.find("snapshot-catchup-entries"), std::string::npos) << err;
}

// Members may name each other (a StatefulSet's pods, a Compose file's services); what is neither
// an IPv4 address nor a host name is refused before anything starts.
TEST(ServerConfigTest, PeerAddressesAreIpv4LiteralsOrHostNames) {
  std::string err;
  EXPECT_EQ(Parse({"--listen-peer", "bad_host:2380"}, &err).exit_code, 2);
  EXPECT_NE(err.find("--listen-peer 'bad_host:2380' is not an IPv4 address or a host name"),
            std::string::npos)
      << err;
  EXPECT_EQ(Parse({"--name", "a", "--listen-peer", "127.0.0.1:2380", "--initial-cluster",
                   "a=127.0.0.1:2380,b=[::1]:2380"},
                  &err)
                .exit_code,
            2);
  EXPECT_NE(err.find("'b=[::1]:2380': the address is not an IPv4 address or a host name"),
            std::string::npos)
      << err;
  EXPECT_TRUE(Parse({"--name", "a", "--listen-peer", "127.0.0.1:2380", "--initial-cluster",
                     "a=127.0.0.1:2380,b=10.1.2.3:2380"})
                  .run);
  EXPECT_TRUE(Parse({"--name", "a", "--listen-peer", "pharos-0.pharos:2380", "--initial-cluster",
                     "a=pharos-0.pharos:2380,b=pharos-1.pharos:2380,c=10.1.2.3:2380"})
                  .run);
}

// A member listening on every interface is reached, and publishes itself, at its name in
// --initial-cluster: published as 0.0.0.0:2380, its address would send each member to itself.
TEST(ServerConfigTest, AMemberIsReachedAtItsInitialClusterAddressNotItsListenAddress) {
  const ParseOutcome parsed =
      Parse({"--name", "b", "--listen-peer", "0.0.0.0:2380", "--initial-cluster",
             "a=pharos-0.pharos:2380,b=pharos-1.pharos:2380"});
  ASSERT_TRUE(parsed.run);
  EXPECT_EQ(parsed.config.listen_peer, "0.0.0.0:2380");
  EXPECT_EQ(parsed.config.advertise_peer, "pharos-1.pharos:2380");
  EXPECT_EQ(parsed.config.member_id, MemberId("b", "pharos-1.pharos:2380"));
}

TEST(ServerConfigTest, TheLogKeepsEtcdsCatchUpEntriesUnlessTold) {
  ParseOutcome o = Parse({});
  ASSERT_TRUE(o.run);
  EXPECT_EQ(o.config.snapshot_count, 10000u);
  EXPECT_EQ(o.config.snapshot_catchup_entries, 5000u);
  o = Parse({"--snapshot-count", "50", "--snapshot-catchup-entries", "0"});
  ASSERT_TRUE(o.run);
  EXPECT_EQ(o.config.snapshot_count, 50u);
  EXPECT_EQ(o.config.snapshot_catchup_entries, 0u);
}

TEST(ServerConfigTest, WatchProgressNotifyIntervalIsMillisecondsOrADuration) {
  using std::chrono::milliseconds;
  ParseOutcome o = Parse({});
  ASSERT_TRUE(o.run);
  EXPECT_EQ(o.config.watch_progress_notify, milliseconds(600000));  // etcd's 10 minutes
  for (const auto& [text, ms] : std::vector<std::pair<std::string, int64_t>>{{"200", 200},
                                                                             {"500ms", 500},
                                                                             {"1.5s", 1500},
                                                                             {"10m", 600000},
                                                                             {"1h", 3600000},
                                                                             {"0", 0},
                                                                             {"0s", 0}}) {
    o = Parse({"--watch-progress-notify-interval", text});
    ASSERT_TRUE(o.run) << text;
    EXPECT_EQ(o.config.watch_progress_notify, milliseconds(ms)) << text;
  }
  std::string err;
  for (const std::string bad : {"-5", "-1s", "ten", "5x", "0x10", "inf", "", "1.2.3", "5 s", "3"}) {
    o = Parse({"--watch-progress-notify-interval=" + bad}, &err);
    EXPECT_FALSE(o.run) << bad;
    EXPECT_EQ(o.exit_code, 2) << bad;
    EXPECT_NE(err.find("--watch-progress-notify-interval"), std::string::npos)
        << bad << ": " << err;
  }
  Parse({"--watch-progress-notify-interval=-5"}, &err);
  EXPECT_NE(err.find("must not be negative"), std::string::npos) << err;
  // Given as a separate argument, the negative number is taken as the value, not as a flag.
  o = Parse({"--watch-progress-notify-interval", "-200"}, &err);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(err.find("must not be negative"), std::string::npos) << err;
}

TEST(ServerConfigTest, HelpExitsZero) {
  ParseOutcome o = Parse({"--help"});
  EXPECT_FALSE(o.run);
  EXPECT_EQ(o.exit_code, 0);
}

TEST(ServerConfigTest, ConfigFileWithTheSameKeys) {
  const auto path = std::filesystem::temp_directory_path() / "pharosd-config-test.toml";
  {
    std::ofstream f(path);
    f << "name = \"n1\"\n"
      << "listen-peer = \"127.0.0.11:2380\"\n"
      << "initial-cluster = \"n1=127.0.0.11:2380\"\n"
      << "heartbeat-ms = 60\n";
  }
  ParseOutcome o = Parse({"--config-file", path.string()});
  std::filesystem::remove(path);
  ASSERT_TRUE(o.run);
  EXPECT_EQ(o.config.name, "n1");
  EXPECT_EQ(o.config.heartbeat_ms, 60);
  EXPECT_EQ(o.config.peers.size(), 1u);
}

}  // namespace
}  // namespace pharos::registry
