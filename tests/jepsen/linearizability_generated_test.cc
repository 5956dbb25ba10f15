// Tests of jepsen/linearizability.cc on generated histories: a cross-check against a brute-force
// search on thousands of small random ones, and histories of 10,000+ operations from many
// processes that must be decided quickly (the search's work is bounded, not timed, so the test
// does not flake on a busy machine; the time is printed).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "jepsen/linearizability.h"
#include "jepsen/register_model.h"
#include "tests/jepsen/history_generator.h"

namespace pharos::jepsen {
namespace {

using nlohmann::json;

History Parse(const std::string& text) {
  std::istringstream in(text);
  Result<History> h = ReadHistory(in);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? *h : History{};
}

// Linearizability by its definition: some order of every completed op and any of the info ops
// that respects real time (an op that returned before another was invoked comes first) and that
// the register accepts. Exponential; for a handful of ops only.
class BruteForce {
 public:
  explicit BruteForce(const std::vector<Op>& ops) {
    for (const Op& op : ops) {
      if (model_.Matters(op)) ops_.push_back(op);
    }
    used_.assign(ops_.size(), false);
  }

  bool Linearizable() { return Search(model_.Initial()); }

 private:
  bool Completed(const Op& op) const { return op.outcome != Outcome::kInfo; }

  bool Search(StateId state) {
    bool done = true;
    for (size_t i = 0; i < ops_.size(); ++i) done = done && (used_[i] || !Completed(ops_[i]));
    if (done) return true;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (used_[i]) continue;
      bool must_wait = false;
      for (size_t j = 0; j < ops_.size(); ++j) {
        must_wait = must_wait || (!used_[j] && Completed(ops_[j]) &&
                                  ops_[j].complete_line < ops_[i].invoke_line);
      }
      if (must_wait) continue;
      auto next = model_.Step(state, ops_[i]);
      if (!next) continue;
      used_[i] = true;
      if (Search(*next)) return true;
      used_[i] = false;
    }
    return false;
  }

  RegisterModel model_;
  std::vector<Op> ops_;
  std::vector<bool> used_;
};

// A small history of arbitrary ops on one key: three workers, values from a tiny domain, every
// outcome. Most are not linearizable. With `appends_only`, only reads and appends (the key the
// register model can rule states out on).
std::string RandomSmallHistory(std::mt19937_64& rng, int ops, bool appends_only) {
  auto pick = [&](const std::vector<json>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
  };
  auto roll = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const std::vector<json> values = {1, 2, "1"};
  const std::vector<json> reads = appends_only
                                      ? std::vector<json>{nullptr, "a", "ab", "ba", "aab", "abb"}
                                      : std::vector<json>{nullptr, 1, 2, "1", "a", "ab", "ba"};
  const std::vector<json> expected = {nullptr, 1, 2};
  struct Busy {
    bool busy = false;
    int64_t process;
    std::string f;
    json value;
  };
  std::vector<Busy> workers = {{.process = 0}, {.process = 1}, {.process = 2}};
  int64_t next_process = 3;
  int invoked = 0;
  int64_t time = 0;
  std::string out;
  auto emit = [&](const Busy& w, const char* type, const json& value) {
    out += json({{"process", w.process},
                 {"type", type},
                 {"f", w.f},
                 {"key", "x"},
                 {"value", value},
                 {"time", ++time}})
               .dump() +
           "\n";
  };
  for (int steps = 0; steps < 200; ++steps) {
    Busy& w = workers[roll(3)];
    if (!w.busy) {
      if (invoked == ops) continue;
      ++invoked;
      w.busy = true;
      // 0-1 read, 2 write, 3 cas, 4 append.
      const int kind = appends_only ? (roll(2) == 0 ? 0 : 4) : roll(5);
      switch (kind) {
        case 0:
        case 1:
          w.f = "read";
          w.value = nullptr;
          break;
        case 2:
          w.f = "write";
          w.value = pick(values);
          break;
        case 3:
          w.f = "cas";
          w.value = json::array({pick(expected), pick(values)});
          break;
        default:
          w.f = "append";
          w.value = roll(2) == 0 ? "a" : "b";
      }
      emit(w, "invoke", w.value);
      continue;
    }
    const int outcome = roll(20);
    if (outcome == 0) continue;  // a pending op may stay pending to the end
    w.busy = false;
    if (outcome < 3) {
      emit(w, "info", w.value);
      w.process = next_process++;
    } else if (outcome < 6) {
      emit(w, "fail", w.value);
    } else {
      emit(w, "ok", w.f == "read" ? pick(reads) : w.value);
    }
  }
  return out;
}

// A generated (linearizable) history with, half of the time, one completion changed: a read
// that saw something else, or a cas whose outcome flipped.
std::string MutatedGeneratedHistory(std::mt19937_64& rng, uint64_t seed) {
  GeneratorOptions o{.seed = seed,
                     .ops = 7,
                     .workers = 3,
                     .keys = 1,
                     .info_rate = 0.2,
                     .fail_rate = 0.1,
                     .append_every = seed % 2 == 0 ? 1 : 0};
  std::istringstream in(GenerateHistory(o));
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  std::vector<size_t> mutable_lines;
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& j = lines[i];
    if ((j["f"] == "read" && j["type"] == "ok") ||
        (j["f"] == "cas" && (j["type"] == "ok" || j["type"] == "fail"))) {
      mutable_lines.push_back(i);
    }
  }
  if (!mutable_lines.empty() && rng() % 2 == 0) {
    json& j = lines[mutable_lines[rng() % mutable_lines.size()]];
    if (j["f"] == "cas") {
      j["type"] = j["type"] == "ok" ? "fail" : "ok";
    } else {
      const std::vector<json> other = {nullptr, 0, 1, 2, "s1", "0 ", "0 1 "};
      j["value"] = other[rng() % other.size()];
    }
  }
  std::string out;
  for (const json& j : lines) out += j.dump() + "\n";
  return out;
}

TEST(LinearizabilityGeneratedTest, AgreesWithBruteForceOnSmallHistories) {
  std::mt19937_64 rng(20240601);
  int linearizable = 0;
  int not_linearizable = 0;
  for (int round = 0; round < 4500; ++round) {
    const std::string text = round % 3 == 2
                                 ? MutatedGeneratedHistory(rng, round)
                                 : RandomSmallHistory(rng, 3 + round % 5, round % 3 == 1);
    const History h = Parse(text);
    RegisterModel model;
    const bool expected = BruteForce(h.ops).Linearizable();
    const KeyResult got = CheckOperations(h.ops, model);
    ASSERT_EQ(got.linearizable, expected) << "round " << round << "\n" << text;
    ASSERT_EQ(got.anomaly.has_value(), !expected);
    (expected ? linearizable : not_linearizable)++;
  }
  // Both answers must be common, or agreeing would prove little.
  EXPECT_GT(linearizable, 900);
  EXPECT_GT(not_linearizable, 900);
}

struct Timed {
  CheckResult result;
  double seconds = 0;
};

Timed CheckTimed(const History& h) {
  RegisterModel model;
  const auto start = std::chrono::steady_clock::now();
  Timed t{.result = CheckHistory(h, model)};
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

size_t Processes(const History& h) {
  std::set<int64_t> p;
  for (const Op& op : h.ops) p.insert(op.process);
  return p.size();
}

TEST(LinearizabilityGeneratedTest, TenThousandOpsFromFiftyProcessesOnTenKeys) {
  // The performance check: its bound is on the search's work (deterministic), under two
  // configurations per op; the wall time goes to the log. Without the cache the first seed takes
  // 19 times the work; without linearizing reads as soon as they can be, 2.5 times.
  for (uint64_t seed : {1, 2, 3}) {
    const History h = Parse(GenerateHistory({.seed = seed}));
    ASSERT_GE(h.ops.size(), 10'000u);
    size_t info = 0;
    for (const Op& op : h.ops) info += op.outcome == Outcome::kInfo;
    EXPECT_GT(info, 100u);               // the generator made info ops
    EXPECT_GT(Processes(h), 50u + 50u);  // and moved their workers to new processes
    const Timed t = CheckTimed(h);
    EXPECT_TRUE(t.result.linearizable) << "seed " << seed;
    EXPECT_EQ(t.result.keys, 10u);
    EXPECT_LT(t.result.configurations, 2 * h.ops.size()) << "seed " << seed;
    std::cout << "seed " << seed << ": " << h.ops.size() << " ops, " << Processes(h)
              << " processes (50 concurrent), 10 keys, " << info
              << " info: " << t.result.configurations << " configurations in " << t.seconds
              << " s\n";
  }
}

TEST(LinearizabilityGeneratedTest, AppendKeysWithInfoAppends) {
  const History h = Parse(GenerateHistory(
      {.seed = 7, .ops = 6000, .workers = 24, .keys = 4, .info_rate = 0.03, .append_every = 2}));
  const Timed t = CheckTimed(h);
  EXPECT_TRUE(t.result.linearizable);
  EXPECT_LT(t.result.configurations, 2 * h.ops.size());
  std::cout << h.ops.size() << " ops with appends: " << t.result.configurations
            << " configurations in " << t.seconds << " s\n";
}

TEST(LinearizabilityGeneratedTest, ManyInfoOps) {
  // One op in ten ends in info: on each key dozens of them stay open to the end.
  const History h = Parse(GenerateHistory({.seed = 11, .ops = 5000, .info_rate = 0.1}));
  const Timed t = CheckTimed(h);
  EXPECT_TRUE(t.result.linearizable);
  EXPECT_LT(t.result.configurations, 2 * h.ops.size());
  std::cout << h.ops.size() << " ops, 10% info: " << t.result.configurations
            << " configurations in " << t.seconds << " s\n";
}

TEST(LinearizabilityGeneratedTest, ACorruptedReadInALargeHistoryIsFoundAndNamed) {
  const std::string text = GenerateHistory({.seed = 5});
  // Change the value of an ok read of a non-null value on an integer key, two thirds of the way
  // in, to one no one wrote.
  std::istringstream in(text);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  size_t target = lines.size() * 2 / 3;
  while (!(lines[target]["f"] == "read" && lines[target]["type"] == "ok" &&
           lines[target]["value"].is_number())) {
    ++target;
  }
  lines[target]["value"] = 12345;
  std::string corrupted;
  for (const json& j : lines) corrupted += j.dump() + "\n";
  const History h = Parse(corrupted);
  const Timed t = CheckTimed(h);
  ASSERT_FALSE(t.result.linearizable);
  const std::string key = lines[target]["key"];
  EXPECT_EQ(t.result.bad_keys, std::vector<std::string>{key});
  ASSERT_TRUE(t.result.anomaly);
  EXPECT_EQ(t.result.anomaly->key, key);
  // The search gets as far as the bad read and no further.
  EXPECT_EQ(t.result.anomaly->op.complete_line, static_cast<int>(target) + 1);
  EXPECT_EQ(t.result.anomaly->op.value, Value{int64_t{12345}});
  std::cout << "corrupted: " << t.result.configurations << " configurations in " << t.seconds
            << " s\n";
}

}  // namespace
}  // namespace pharos::jepsen
