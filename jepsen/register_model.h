// The sequential specification of one key as Pharos's harness uses it: a register that starts
// absent and supports read, write, compare-and-set and append over string or integer values.
// States are interned (each distinct value gets one StateId, stored once), so the checker's cache
// compares ids, not the long strings appends build. Not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "jepsen/linearizability.h"

namespace pharos::jepsen {

class RegisterModel : public Model {
 public:
  RegisterModel();
  // The id table points into the object itself.
  RegisterModel(const RegisterModel&) = delete;
  RegisterModel& operator=(const RegisterModel&) = delete;

  StateId Initial() override { return kAbsent; }
  // Failed reads, reads of unknown outcome, and failed writes and appends neither change nor
  // constrain the register. A failed cas stays: it says the value was not the expected one.
  bool Matters(const Op& op) const override;
  // An ok read and a failed cas.
  bool Observer(const Op& op) const override;
  // read ok: the value must be the one read. write: sets it. cas ok (or info, if it took
  // effect): the value must be `expected`, then becomes the new one; cas fail: the value must
  // not be `expected`, and stays. append: the value must be absent or a string; the string is
  // added to its end (an integer cannot be appended to).
  std::optional<StateId> Step(StateId state, const Op& op) override;
  std::string Describe(StateId state) const override { return FormatValue(values_[state]); }
  // A key with no write and no cas only grows: a read that does not extend the current value
  // will never be satisfied. Other keys are never doomed.
  bool Prepare(const std::vector<const Op*>& ops) override;
  bool Doomed(StateId state, const Op& op) override;

  const Value& value(StateId state) const { return values_[state]; }

 private:
  static constexpr StateId kAbsent = 0;

  StateId Intern(Value v);

  // Hashes and compares ids by the values they stand for, so each value is stored only once.
  struct IdHash {
    const std::vector<Value>* values;
    size_t operator()(StateId id) const { return std::hash<Value>()((*values)[id]); }
  };
  struct IdEq {
    const std::vector<Value>* values;
    bool operator()(StateId a, StateId b) const { return (*values)[a] == (*values)[b]; }
  };

  std::vector<Value> values_;  // by StateId
  std::unordered_set<StateId, IdHash, IdEq> ids_;
  bool append_only_ = false;  // the key being searched has no write and no cas
};

}  // namespace pharos::jepsen
