// Tests of jepsen/linearizability.cc on hand-written histories, each small enough to decide by
// eye.
#include "jepsen/linearizability.h"

#include <gtest/gtest.h>

#include <thread>

#include "jepsen/register_model.h"
#include "tests/jepsen/history_builder.h"

namespace pharos::jepsen {
namespace {

CheckResult Check(const HistoryBuilder& b) {
  RegisterModel model;
  return CheckHistory(b.Build(), model);
}

bool Linearizable(const HistoryBuilder& b) { return Check(b).linearizable; }

TEST(LinearizabilityTest, EmptyHistoryIsLinearizable) {
  CheckResult r = Check(HistoryBuilder());
  EXPECT_TRUE(r.linearizable);
  EXPECT_EQ(r.keys, 0u);
  EXPECT_FALSE(r.anomaly);
}

TEST(LinearizabilityTest, SequentialWritesAndReads) {
  EXPECT_TRUE(Linearizable(
      HistoryBuilder().Read(1, nullptr).Write(1, 1).Read(2, 1).Write(2, "a").Read(1, "a")));
  // The register starts absent.
  EXPECT_FALSE(Linearizable(HistoryBuilder().Read(1, 0)));
}

TEST(LinearizabilityTest, StaleReadAfterACompletedWriteIsNot) {
  HistoryBuilder b;
  b.Write(1, 1).Write(1, 2).Read(2, 1);
  CheckResult r = Check(b);
  EXPECT_FALSE(r.linearizable);
  ASSERT_TRUE(r.anomaly);
  EXPECT_EQ(r.anomaly->key, "x");
  EXPECT_EQ(r.anomaly->op.process, 2);
  EXPECT_EQ(r.anomaly->op.f, Fn::kRead);
  EXPECT_EQ(r.anomaly->op.value, Value{int64_t{1}});
  EXPECT_TRUE(r.anomaly->concurrent.empty());
  ASSERT_TRUE(r.anomaly->previous);
  EXPECT_EQ(r.anomaly->previous->value, Value{int64_t{2}});
  EXPECT_EQ(r.anomaly->states, std::vector<std::string>{"2"});
}

TEST(LinearizabilityTest, ReadThatEndedBeforeAWriteBeganCannotSeeIt) {
  // Real-time order: the read returned before the write was invoked.
  EXPECT_FALSE(Linearizable(HistoryBuilder().Read(1, 1).Write(2, 1)));
  // Overlapping, it could.
  EXPECT_TRUE(
      Linearizable(HistoryBuilder().Invoke(1, "read", nullptr).Write(2, 1).Ok(1, "read", 1)));
}

TEST(LinearizabilityTest, ReadOfAValueNeverWrittenIsNot) {
  HistoryBuilder b;
  b.Invoke(1, "write", 1).Invoke(2, "read", nullptr).Ok(2, "read", 3).Ok(1, "write", 1);
  CheckResult r = Check(b);
  EXPECT_FALSE(r.linearizable);
  ASSERT_TRUE(r.anomaly);
  EXPECT_EQ(r.anomaly->op.process, 2);
  ASSERT_EQ(r.anomaly->concurrent.size(), 1u);
  EXPECT_EQ(r.anomaly->concurrent[0].process, 1);
  EXPECT_FALSE(r.anomaly->previous);
}

TEST(LinearizabilityTest, IntegerAndStringOfTheSameDigitsDiffer) {
  EXPECT_FALSE(Linearizable(HistoryBuilder().Write(1, "1").Read(1, 1)));
  EXPECT_TRUE(Linearizable(HistoryBuilder().Write(1, "1").Read(1, "1")));
}

// Two concurrent writes and two reads inside them: either order of the writes explains either
// order of the reads.
HistoryBuilder ConcurrentWritesWithReads(int first_read, int second_read) {
  HistoryBuilder b;
  b.Invoke(1, "write", 1).Invoke(2, "write", 2);
  b.Read(3, first_read).Read(4, second_read);
  b.Ok(1, "write", 1).Ok(2, "write", 2);
  return b;
}

TEST(LinearizabilityTest, ConcurrentWritesWithReadsInBothOrders) {
  EXPECT_TRUE(Linearizable(ConcurrentWritesWithReads(1, 2)));
  EXPECT_TRUE(Linearizable(ConcurrentWritesWithReads(2, 1)));
  // But once both writes completed, the value no longer flips.
  HistoryBuilder b = ConcurrentWritesWithReads(1, 2);
  b.Read(5, 2).Read(5, 1);
  EXPECT_FALSE(Linearizable(b));
  HistoryBuilder settled = ConcurrentWritesWithReads(2, 1);
  settled.Read(5, 1).Read(6, 1);
  EXPECT_TRUE(Linearizable(settled));
}

TEST(LinearizabilityTest, BacktracksWhenTheFirstOrderTriedFails) {
  // Write 1 is invoked first, so it is tried first; only write 2 then write 1 explains the read
  // inside write 1 and the read after both.
  HistoryBuilder b;
  b.Invoke(1, "write", 1).Invoke(2, "write", 2).Ok(2, "write", 2);
  b.Read(3, 2).Ok(1, "write", 1).Read(4, 1);
  EXPECT_TRUE(Linearizable(b));
  HistoryBuilder c;
  c.Invoke(1, "write", 1).Invoke(2, "write", 2).Ok(2, "write", 2);
  c.Read(3, 1).Ok(1, "write", 1).Read(4, 2);
  EXPECT_FALSE(Linearizable(c));
}

TEST(LinearizabilityTest, CasOkNeedsItsExpectedValue) {
  EXPECT_TRUE(Linearizable(HistoryBuilder().Write(1, 1).Op(2, "cas", {1, 2}, {1, 2}).Read(3, 2)));
  EXPECT_FALSE(Linearizable(HistoryBuilder().Write(1, 1).Op(2, "cas", {3, 2}, {3, 2})));
  // A cas that swapped changed the value.
  EXPECT_FALSE(Linearizable(HistoryBuilder().Write(1, 1).Op(2, "cas", {1, 2}, {1, 2}).Read(3, 1)));
  // Expected null: the key must be absent.
  EXPECT_TRUE(Linearizable(HistoryBuilder().Op(1, "cas", {nullptr, 5}, {nullptr, 5}).Read(1, 5)));
  EXPECT_FALSE(Linearizable(HistoryBuilder().Write(2, 1).Op(1, "cas", {nullptr, 5}, {nullptr, 5})));
}

TEST(LinearizabilityTest, FailedCasWhoseExpectedValueMustHaveHeldIsNot) {
  HistoryBuilder b;
  b.Write(1, 1).Invoke(2, "cas", {1, 2}).Fail(2, "cas", {1, 2});
  CheckResult r = Check(b);
  EXPECT_FALSE(r.linearizable);
  ASSERT_TRUE(r.anomaly);
  EXPECT_EQ(r.anomaly->op.f, Fn::kCas);
  EXPECT_EQ(r.anomaly->op.outcome, Outcome::kFail);
  // Absent is not 1: a failed cas on an absent key is fine, and changes nothing.
  EXPECT_TRUE(Linearizable(
      HistoryBuilder().Invoke(2, "cas", {1, 2}).Fail(2, "cas", {1, 2}).Read(1, nullptr)));
}

TEST(LinearizabilityTest, FailedCasChangesNothing) {
  EXPECT_TRUE(Linearizable(
      HistoryBuilder().Write(1, 1).Invoke(2, "cas", {3, 2}).Fail(2, "cas", {3, 2}).Read(1, 1)));
  EXPECT_FALSE(Linearizable(
      HistoryBuilder().Write(1, 1).Invoke(2, "cas", {3, 2}).Fail(2, "cas", {3, 2}).Read(1, 2)));
}

TEST(LinearizabilityTest, FailedCasMayTakeEffectBeforeAConcurrentWrite) {
  // cas(1 -> 3) failed while write 2 was in flight: it took effect after the write.
  HistoryBuilder b;
  b.Write(1, 1).Invoke(1, "write", 2).Invoke(2, "cas", {1, 3}).Fail(2, "cas", {1, 3});
  b.Ok(1, "write", 2).Read(3, 2);
  EXPECT_TRUE(Linearizable(b));
}

TEST(LinearizabilityTest, AppendsInOrder) {
  EXPECT_TRUE(Linearizable(
      HistoryBuilder().Read(1, nullptr).Append(1, "a").Read(2, "a").Append(2, "b").Read(1, "ab")));
}

TEST(LinearizabilityTest, LostAppendIsNot) {
  HistoryBuilder b;
  b.Append(1, "a").Append(2, "b").Append(1, "c").Read(3, "ac");
  CheckResult r = Check(b);
  EXPECT_FALSE(r.linearizable);
  ASSERT_TRUE(r.anomaly);
  // The read that misses "b" is the op reported, with the value that rules it out.
  EXPECT_EQ(r.anomaly->op.value, Value{std::string("ac")});
  EXPECT_EQ(r.anomaly->states, std::vector<std::string>{"\"ab\""});
}

TEST(LinearizabilityTest, ReorderedAppendsAreNotUnlessConcurrent) {
  EXPECT_FALSE(Linearizable(HistoryBuilder().Append(1, "a").Append(2, "b").Read(3, "ba")));
  EXPECT_TRUE(Linearizable(HistoryBuilder()
                               .Invoke(1, "append", "a")
                               .Invoke(2, "append", "b")
                               .Ok(1, "append", "a")
                               .Ok(2, "append", "b")
                               .Read(3, "ba")));
}

TEST(LinearizabilityTest, AppendToAnIntegerIsNot) {
  EXPECT_FALSE(Linearizable(HistoryBuilder().Write(1, 1).Append(1, "a")));
}

TEST(LinearizabilityTest, InfoWriteThatMustHaveTakenEffectExplainsALaterRead) {
  HistoryBuilder b;
  b.Write(1, 1).Invoke(2, "write", 2).Info(2, "write", 2).Read(3, 1).Read(3, 2).Read(4, 2);
  EXPECT_TRUE(Linearizable(b));
}

TEST(LinearizabilityTest, InfoWriteCannotExplainAReadThatEndedBeforeItsInvoke) {
  HistoryBuilder b;
  b.Read(3, 2).Invoke(2, "write", 2).Info(2, "write", 2);
  CheckResult r = Check(b);
  EXPECT_FALSE(r.linearizable);
  ASSERT_TRUE(r.anomaly);
  EXPECT_EQ(r.anomaly->op.process, 3);
  // Nor one it cannot explain for its value.
  EXPECT_FALSE(Linearizable(HistoryBuilder().Invoke(2, "write", 2).Info(2, "write", 2).Read(3, 7)));
}

TEST(LinearizabilityTest, InfoOpTakesEffectAtMostOnce) {
  // Once the info write of 2 took effect and was overwritten, 2 cannot come back.
  HistoryBuilder b;
  b.Invoke(2, "write", 2).Info(2, "write", 2).Read(3, 2).Write(1, 1).Read(3, 2);
  EXPECT_FALSE(Linearizable(b));
  HistoryBuilder append;
  append.Invoke(2, "append", "a").Info(2, "append", "a").Read(3, "a").Read(3, "aa");
  EXPECT_FALSE(Linearizable(append));
}

TEST(LinearizabilityTest, InfoWriteMayTakeEffectLongAfterItsInfo) {
  HistoryBuilder b;
  b.Invoke(2, "write", 2).Info(2, "write", 2).Write(1, 1).Read(3, 1).Read(3, 2);
  EXPECT_TRUE(Linearizable(b));
}

TEST(LinearizabilityTest, InfoWriteMayNeverTakeEffect) {
  EXPECT_TRUE(Linearizable(HistoryBuilder()
                               .Invoke(2, "write", 2)
                               .Info(2, "write", 2)
                               .Read(3, nullptr)
                               .Read(3, nullptr)));
}

TEST(LinearizabilityTest, TwoInfoWritesInEitherOrderButEachOnce) {
  HistoryBuilder base;
  base.Invoke(1, "write", 1).Info(1, "write", 1).Invoke(2, "write", 2).Info(2, "write", 2);
  HistoryBuilder one_two = base;
  one_two.Read(3, 1).Read(3, 2);
  EXPECT_TRUE(Linearizable(one_two));
  HistoryBuilder two_one = base;
  two_one.Read(3, 2).Read(3, 1);
  EXPECT_TRUE(Linearizable(two_one));
  HistoryBuilder back = base;
  back.Read(3, 1).Read(3, 2).Read(3, 1);
  EXPECT_FALSE(Linearizable(back));
}

TEST(LinearizabilityTest, InfoOpThatCouldNeverTakeEffectIsFine) {
  // The cas compares against a value the register never holds: it cannot have taken effect at
  // any moment, and does not have to.
  HistoryBuilder b;
  b.Write(1, 1).Invoke(2, "cas", {5, 6}).Info(2, "cas", {5, 6}).Read(3, 1);
  EXPECT_TRUE(Linearizable(b));
  HistoryBuilder append;
  append.Write(1, 1).Invoke(2, "append", "a").Read(3, 1);  // never completes
  EXPECT_TRUE(Linearizable(append));
}

TEST(LinearizabilityTest, FewerInfoOpsUsedIsNeverPrunedByMore) {
  // Linearizable only as append "b", write 2, then the pending write "1", then the read. The
  // search first tries write 2 first; that dead end reaches {write 2, append "b"} in state 2
  // with both pending writes used. Later it reaches the same ops and state with neither, and
  // that configuration, which still has the pending write "1" to explain the read, must not be
  // pruned on account of the first (found by the brute-force cross-check against a checker
  // whose cache pruned that way).
  HistoryBuilder b;
  b.Invoke(2, "write", 2).Invoke(3, "append", "b").Ok(2, "write", 2);
  b.Invoke(2, "write", "1").Ok(3, "append", "b").Invoke(4, "write", 2);
  b.Read(3, "1");
  EXPECT_TRUE(Linearizable(b));
}

TEST(LinearizabilityTest, InfoOpsMayTakeEffectBackToBack) {
  HistoryBuilder base;
  base.Invoke(1, "append", "a").Info(1, "append", "a").Invoke(2, "append", "b");
  for (const char* seen : {"ab", "ba", "a", "b"}) {
    HistoryBuilder b = base;
    b.Read(3, seen);
    EXPECT_TRUE(Linearizable(b)) << seen;
  }
  HistoryBuilder twice = base;
  twice.Read(3, "abb");
  EXPECT_FALSE(Linearizable(twice));
}

TEST(LinearizabilityTest, InfoCasSwapsOnlyWhereItsCompareHolds) {
  HistoryBuilder b;
  b.Write(1, 1).Invoke(2, "cas", {1, 2}).Info(2, "cas", {1, 2}).Read(3, 2);
  EXPECT_TRUE(Linearizable(b));
  HistoryBuilder c;
  c.Write(1, 5).Invoke(2, "cas", {1, 2}).Info(2, "cas", {1, 2}).Read(3, 2);
  EXPECT_FALSE(Linearizable(c));
}

TEST(LinearizabilityTest, CrashedProcessInvokeWithoutCompletion) {
  HistoryBuilder crashed;
  crashed.Write(1, 1).Invoke(2, "write", 2);  // process 2 never answers
  HistoryBuilder saw_it = crashed;
  saw_it.Read(3, 2).Read(3, 2);
  EXPECT_TRUE(Linearizable(saw_it));
  HistoryBuilder did_not = crashed;
  did_not.Read(3, 1).Read(4, 1);
  EXPECT_TRUE(Linearizable(did_not));
  HistoryBuilder flip = crashed;
  flip.Read(3, 2).Read(3, 1);
  EXPECT_FALSE(Linearizable(flip));
  // A crashed read says nothing.
  HistoryBuilder read = crashed;
  read.Invoke(5, "read", nullptr).Read(3, 1);
  EXPECT_TRUE(Linearizable(read));
}

TEST(LinearizabilityTest, FailedReadConstrainsNothing) {
  HistoryBuilder b;
  b.Write(1, 1).Invoke(2, "read", nullptr).Fail(2, "read", nullptr).Read(3, 1);
  EXPECT_TRUE(Linearizable(b));
  // Whatever a failed or unknown read carries is not a value read.
  HistoryBuilder garbage;
  garbage.Write(1, 1).Invoke(2, "read", nullptr).Fail(2, "read", 99);
  garbage.Invoke(3, "read", nullptr).Info(3, "read", 98).Read(4, 1);
  EXPECT_TRUE(Linearizable(garbage));
}

TEST(LinearizabilityTest, FailedWriteNeverTookEffect) {
  HistoryBuilder b;
  b.Write(1, 1).Invoke(2, "write", 2).Fail(2, "write", 2);
  HistoryBuilder ok = b;
  ok.Read(3, 1);
  EXPECT_TRUE(Linearizable(ok));
  HistoryBuilder bad = b;
  bad.Read(3, 2);
  EXPECT_FALSE(Linearizable(bad));
  EXPECT_FALSE(
      Linearizable(HistoryBuilder().Invoke(1, "append", "a").Fail(1, "append", "a").Read(2, "a")));
}

TEST(LinearizabilityTest, KeysAreCheckedSeparatelyAndTheBadOneIsNamed) {
  HistoryBuilder b;
  b.Write(1, 1, "a").Write(1, 1, "b").Write(1, 1, "c");
  b.Read(2, 1, "a").Read(2, nullptr, "b").Read(2, 1, "c");
  CheckResult r = Check(b);
  EXPECT_FALSE(r.linearizable);
  EXPECT_EQ(r.keys, 3u);
  EXPECT_EQ(r.ops, 6u);
  EXPECT_EQ(r.bad_keys, std::vector<std::string>{"b"});
  ASSERT_TRUE(r.anomaly);
  EXPECT_EQ(r.anomaly->key, "b");
  EXPECT_EQ(r.anomaly->op.key, "b");
}

TEST(LinearizabilityTest, AValueOnAnotherKeyDoesNotExplainARead) {
  // Checked as one register this would pass; keys are separate registers.
  EXPECT_FALSE(Linearizable(HistoryBuilder().Write(1, 1, "a").Read(2, 1, "b")));
}

TEST(LinearizabilityTest, AnomalyWindowHoldsTheOverlappingOpsOnly) {
  HistoryBuilder b;
  b.Write(1, 1);                                       // before: the previous op
  b.Invoke(7, "write", 9).Info(7, "write", 9);         // info: overlaps everything later
  b.Invoke(2, "write", 2).Invoke(3, "read", nullptr);  // write 2 overlaps the read
  b.Ok(2, "write", 2).Ok(3, "read", 5);                // the impossible read
  b.Read(4, 2, "x");                                   // after: not in the window
  CheckResult r = Check(b);
  ASSERT_FALSE(r.linearizable);
  ASSERT_TRUE(r.anomaly);
  EXPECT_EQ(r.anomaly->op.process, 3);
  ASSERT_EQ(r.anomaly->concurrent.size(), 2u);
  EXPECT_EQ(r.anomaly->concurrent[0].process, 7);
  EXPECT_EQ(r.anomaly->concurrent[1].process, 2);
  ASSERT_TRUE(r.anomaly->previous);
  EXPECT_EQ(r.anomaly->previous->process, 1);
  EXPECT_FALSE(r.anomaly->states.empty());
}

TEST(LinearizabilityTest, SearchWorkIsOneConfigurationPerOpWhenSequential) {
  // The cache and the just-in-time order leave nothing to explore in a sequential history:
  // exactly one configuration per linearized op.
  HistoryBuilder b;
  for (int i = 0; i < 200; ++i) b.Write(1, i).Read(2, i);
  RegisterModel model;
  const History h = b.Build();
  KeyResult r = CheckOperations(h.ops, model);
  EXPECT_TRUE(r.linearizable);
  EXPECT_EQ(r.configurations, 400u);
}

// `n` info writes pile up, never completing, while completed writes and reads go on; at the
// end a read sees `last`.
HistoryBuilder PiledUpInfoWrites(int n, int last) {
  HistoryBuilder b;
  for (int i = 0; i < n; ++i) {
    b.Invoke(100 + i, "write", 1000 + i).Info(100 + i, "write", 1000 + i);
    b.Write(1, i).Read(2, i);
  }
  return b.Read(3, last);
}

TEST(LinearizabilityTest, PiledUpInfoOpsCostLittle) {
  // A search that chained info ops one after another would meet every subset of the 40 pending
  // writes; trying the shortest runs first lets the cache prune the longer ones.
  for (int last : {39, 1000, 1017}) {
    RegisterModel model;
    const History h = PiledUpInfoWrites(40, last).Build();
    KeyResult r = CheckOperations(h.ops, model);
    EXPECT_TRUE(r.linearizable) << last;
    EXPECT_LE(r.configurations, 200u) << last;
  }
  // Nothing explains 999: the search tries every place each info write could go, and no more:
  // about n * n / 2 configurations, where chaining info ops would take about 4^n (12 first, so
  // that such a search fails here rather than hanging on 40).
  for (int n : {12, 40}) {
    RegisterModel model;
    const History h = PiledUpInfoWrites(n, 999).Build();
    KeyResult r = CheckOperations(h.ops, model);
    EXPECT_FALSE(r.linearizable);
    ASSERT_LE(r.configurations, static_cast<uint64_t>(n * n)) << n;
    ASSERT_TRUE(r.anomaly);
    EXPECT_EQ(r.anomaly->op.value, Value{int64_t{999}});
    EXPECT_EQ(r.anomaly->concurrent.size(), static_cast<size_t>(n));  // every info write is open
  }
}

TEST(LinearizabilityTest, AppendOrderShownByALaterReadIsNotSearchedBlindly) {
  // Rounds of 8 concurrent appends, each round followed by a read that shows the order they
  // took, written backwards from the order they were invoked in. Trying every order of a
  // round before reaching its read is 8! configurations a round; ruling a value out as soon
  // as it is no longer a prefix of the next read keeps it to a handful per op.
  HistoryBuilder b;
  std::string shown;
  for (int round = 0; round < 20; ++round) {
    for (int p = 0; p < 8; ++p) b.Invoke(p, "append", std::to_string(round * 8 + p) + " ");
    for (int p = 7; p >= 0; --p) {
      b.Ok(p, "append", std::to_string(round * 8 + p) + " ");
      shown += std::to_string(round * 8 + p) + " ";
    }
    b.Read(9, shown);
  }
  RegisterModel model;
  const History h = b.Build();
  KeyResult r = CheckOperations(h.ops, model);
  EXPECT_TRUE(r.linearizable);
  EXPECT_LE(r.configurations, 2u * h.ops.size());
}

// The register model, except that each key's search starts only once `start` has passed: a
// deadline set before it has run out by then, whatever the machine's speed.
class StartsLate : public Model {
 public:
  explicit StartsLate(std::chrono::steady_clock::time_point start) : start_(start) {}
  StateId Initial() override { return model_.Initial(); }
  bool Matters(const Op& op) const override { return model_.Matters(op); }
  bool Observer(const Op& op) const override { return model_.Observer(op); }
  std::optional<StateId> Step(StateId state, const Op& op) override {
    return model_.Step(state, op);
  }
  std::string Describe(StateId state) const override { return model_.Describe(state); }
  bool Prepare(const std::vector<const Op*>& ops) override {
    std::this_thread::sleep_until(start_);  // a condition on the clock, not a guess
    return model_.Prepare(ops);
  }
  bool Doomed(StateId state, const Op& op) override { return model_.Doomed(state, op); }

 private:
  const std::chrono::steady_clock::time_point start_;
  RegisterModel model_;
};

TEST(LinearizabilityTest, ASearchOutOfTimeIsNoVerdictNeverAPass) {
  // A linearizable history long enough that the search looks at the clock (every 1,024 steps).
  HistoryBuilder b;
  for (int i = 0; i < 2000; ++i) b.Write(1, i).Read(2, i);
  const History h = b.Build();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  StartsLate model(deadline);
  KeyResult r = CheckOperations(h.ops, model, {.deadline = deadline});
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.linearizable);
  EXPECT_FALSE(r.anomaly);
  // With time enough, the same history is linearizable.
  RegisterModel patient;
  EXPECT_TRUE(CheckOperations(h.ops, patient).linearizable);

  // The whole history: a key that ran out of time is unknown, not a bad key. (The key's search
  // starts before the deadline and runs out in the middle.)
  const auto later = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  StartsLate late(later);
  CheckResult all = CheckHistory(h, late, {.deadline = later});
  EXPECT_TRUE(all.unknown);
  EXPECT_EQ(all.timed_out_keys, std::vector<std::string>{"x"});
  EXPECT_TRUE(all.bad_keys.empty());
  EXPECT_FALSE(all.anomaly);
}

}  // namespace
}  // namespace pharos::jepsen
