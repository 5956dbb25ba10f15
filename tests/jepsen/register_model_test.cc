// Tests of jepsen/register_model.cc: each op's transition on string and integer values, and
// which ops the checker may drop.
#include "jepsen/register_model.h"

#include <gtest/gtest.h>

namespace pharos::jepsen {
namespace {

Op MakeOp(Fn f, Outcome outcome, Value value, Value expected = {}) {
  Op op;
  op.f = f;
  op.outcome = outcome;
  op.value = std::move(value);
  op.expected = std::move(expected);
  return op;
}

Value S(const char* s) { return Value{std::string(s)}; }
Value I(int64_t i) { return Value{i}; }

class RegisterModelTest : public ::testing::Test {
 protected:
  // The state holding `v`, reached by writing it from the initial state.
  StateId Holding(const Value& v) {
    auto s = model_.Step(model_.Initial(), MakeOp(Fn::kWrite, Outcome::kOk, v));
    EXPECT_TRUE(s.has_value());
    return *s;
  }

  RegisterModel model_;
};

TEST_F(RegisterModelTest, StartsAbsent) {
  EXPECT_EQ(model_.value(model_.Initial()), Value{});
  EXPECT_EQ(model_.Describe(model_.Initial()), "null");
}

TEST_F(RegisterModelTest, ReadMustSeeTheValue) {
  const StateId one = Holding(I(1));
  EXPECT_EQ(model_.Step(one, MakeOp(Fn::kRead, Outcome::kOk, I(1))), one);
  EXPECT_FALSE(model_.Step(one, MakeOp(Fn::kRead, Outcome::kOk, I(2))));
  EXPECT_FALSE(model_.Step(one, MakeOp(Fn::kRead, Outcome::kOk, Value{})));
  // "1" and 1 are different values.
  EXPECT_FALSE(model_.Step(one, MakeOp(Fn::kRead, Outcome::kOk, S("1"))));
  const StateId absent = model_.Initial();
  EXPECT_EQ(model_.Step(absent, MakeOp(Fn::kRead, Outcome::kOk, Value{})), absent);
}

TEST_F(RegisterModelTest, WriteSetsAndStatesAreInterned) {
  const StateId a = Holding(S("a"));
  EXPECT_EQ(model_.value(a), S("a"));
  EXPECT_EQ(Holding(S("a")), a);
  EXPECT_NE(Holding(S("1")), Holding(I(1)));
  EXPECT_EQ(model_.Describe(a), "\"a\"");
  // An info write, if it takes effect, sets the value too.
  EXPECT_EQ(model_.Step(Holding(I(7)), MakeOp(Fn::kWrite, Outcome::kInfo, S("a"))), a);
}

TEST_F(RegisterModelTest, CasOkNeedsTheExpectedValue) {
  const StateId one = Holding(I(1));
  EXPECT_EQ(model_.Step(one, MakeOp(Fn::kCas, Outcome::kOk, I(2), I(1))), Holding(I(2)));
  EXPECT_FALSE(model_.Step(one, MakeOp(Fn::kCas, Outcome::kOk, I(2), I(3))));
  EXPECT_FALSE(model_.Step(one, MakeOp(Fn::kCas, Outcome::kOk, I(2), S("1"))));
  // Expected null: create if absent.
  EXPECT_EQ(model_.Step(model_.Initial(), MakeOp(Fn::kCas, Outcome::kOk, I(5), Value{})),
            Holding(I(5)));
  EXPECT_FALSE(model_.Step(one, MakeOp(Fn::kCas, Outcome::kOk, I(5), Value{})));
}

TEST_F(RegisterModelTest, CasFailNeedsAnotherValueAndChangesNothing) {
  const StateId one = Holding(I(1));
  EXPECT_FALSE(model_.Step(one, MakeOp(Fn::kCas, Outcome::kFail, I(2), I(1))));
  EXPECT_EQ(model_.Step(one, MakeOp(Fn::kCas, Outcome::kFail, I(2), I(3))), one);
  EXPECT_FALSE(model_.Step(model_.Initial(), MakeOp(Fn::kCas, Outcome::kFail, I(2), Value{})));
}

TEST_F(RegisterModelTest, CasInfoTakesEffectOnlyWhereItCouldSwap) {
  // Where the compare does not hold, an info cas changes nothing: the same as never happening,
  // which the search covers by leaving it out.
  const StateId one = Holding(I(1));
  EXPECT_EQ(model_.Step(one, MakeOp(Fn::kCas, Outcome::kInfo, I(2), I(1))), Holding(I(2)));
  EXPECT_FALSE(model_.Step(one, MakeOp(Fn::kCas, Outcome::kInfo, I(2), I(3))));
}

TEST_F(RegisterModelTest, AppendExtendsAStringOrStartsFromEmpty) {
  auto a = model_.Step(model_.Initial(), MakeOp(Fn::kAppend, Outcome::kOk, S("a")));
  ASSERT_TRUE(a);
  EXPECT_EQ(model_.value(*a), S("a"));
  auto ab = model_.Step(*a, MakeOp(Fn::kAppend, Outcome::kInfo, S("b")));
  ASSERT_TRUE(ab);
  EXPECT_EQ(model_.value(*ab), S("ab"));
  EXPECT_EQ(model_.Step(Holding(S("x")), MakeOp(Fn::kAppend, Outcome::kOk, S("y"))),
            Holding(S("xy")));
}

TEST_F(RegisterModelTest, AppendToAnIntegerCannotHappen) {
  EXPECT_FALSE(model_.Step(Holding(I(1)), MakeOp(Fn::kAppend, Outcome::kOk, S("a"))));
}

TEST_F(RegisterModelTest, DropsOnlyOpsThatNeitherChangeNorConstrain) {
  EXPECT_TRUE(model_.Matters(MakeOp(Fn::kRead, Outcome::kOk, I(1))));
  EXPECT_FALSE(model_.Matters(MakeOp(Fn::kRead, Outcome::kFail, Value{})));
  EXPECT_FALSE(model_.Matters(MakeOp(Fn::kRead, Outcome::kInfo, Value{})));
  EXPECT_TRUE(model_.Matters(MakeOp(Fn::kWrite, Outcome::kOk, I(1))));
  EXPECT_TRUE(model_.Matters(MakeOp(Fn::kWrite, Outcome::kInfo, I(1))));
  EXPECT_FALSE(model_.Matters(MakeOp(Fn::kWrite, Outcome::kFail, I(1))));
  EXPECT_TRUE(model_.Matters(MakeOp(Fn::kAppend, Outcome::kInfo, S("a"))));
  EXPECT_FALSE(model_.Matters(MakeOp(Fn::kAppend, Outcome::kFail, S("a"))));
  // A failed cas says the value was not the expected one at that moment.
  EXPECT_TRUE(model_.Matters(MakeOp(Fn::kCas, Outcome::kFail, I(2), I(1))));
}

TEST_F(RegisterModelTest, ObserversAreOkReadsAndFailedCas) {
  EXPECT_TRUE(model_.Observer(MakeOp(Fn::kRead, Outcome::kOk, I(1))));
  EXPECT_TRUE(model_.Observer(MakeOp(Fn::kCas, Outcome::kFail, I(2), I(1))));
  // A cas that swapped changed the value; a write or an append always does.
  EXPECT_FALSE(model_.Observer(MakeOp(Fn::kCas, Outcome::kOk, I(2), I(1))));
  EXPECT_FALSE(model_.Observer(MakeOp(Fn::kCas, Outcome::kInfo, I(2), I(1))));
  EXPECT_FALSE(model_.Observer(MakeOp(Fn::kWrite, Outcome::kOk, I(1))));
  EXPECT_FALSE(model_.Observer(MakeOp(Fn::kAppend, Outcome::kOk, S("a"))));
}

TEST_F(RegisterModelTest, OnAnAppendOnlyKeyAReadThatDoesNotExtendTheValueIsDoomed) {
  const Op append = MakeOp(Fn::kAppend, Outcome::kOk, S("b"));
  const Op read_ab = MakeOp(Fn::kRead, Outcome::kOk, S("ab"));
  const Op read_absent = MakeOp(Fn::kRead, Outcome::kOk, Value{});
  const Op read_int = MakeOp(Fn::kRead, Outcome::kOk, I(1));
  ASSERT_TRUE(model_.Prepare({&append, &read_ab, &read_absent, &read_int}));
  const StateId a = *model_.Step(model_.Initial(), MakeOp(Fn::kAppend, Outcome::kOk, S("a")));
  const StateId b = *model_.Step(model_.Initial(), append);
  EXPECT_FALSE(model_.Doomed(a, read_ab));  // "a" may still grow into "ab"
  EXPECT_FALSE(model_.Doomed(model_.Initial(), read_ab));
  EXPECT_FALSE(model_.Doomed(model_.Initial(), read_absent));
  EXPECT_TRUE(model_.Doomed(b, read_ab));      // "b" never becomes "ab"
  EXPECT_TRUE(model_.Doomed(a, read_absent));  // nor absent again
  EXPECT_TRUE(model_.Doomed(model_.Initial(), read_int));
  EXPECT_FALSE(model_.Doomed(b, append));  // only reads can be doomed
}

TEST_F(RegisterModelTest, NothingIsDoomedWhereAWriteOrCasCanResetTheValue) {
  const Op read_ab = MakeOp(Fn::kRead, Outcome::kOk, S("ab"));
  const Op write = MakeOp(Fn::kWrite, Outcome::kInfo, S("x"));
  const Op cas = MakeOp(Fn::kCas, Outcome::kFail, S("y"), S("x"));
  const StateId b = Holding(S("b"));
  EXPECT_FALSE(model_.Prepare({&read_ab, &write}));
  EXPECT_FALSE(model_.Doomed(b, read_ab));
  EXPECT_FALSE(model_.Prepare({&read_ab, &cas}));
  EXPECT_FALSE(model_.Doomed(b, read_ab));
}

}  // namespace
}  // namespace pharos::jepsen
