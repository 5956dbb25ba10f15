// The register model's transitions; see register_model.h for the semantics of each op.
#include "jepsen/register_model.h"

namespace pharos::jepsen {

RegisterModel::RegisterModel() : ids_(16, IdHash{&values_}, IdEq{&values_}) { Intern(Value{}); }

StateId RegisterModel::Intern(Value v) {
  // The candidate goes in the table first so that the set can hash and compare it by id.
  values_.push_back(std::move(v));
  const StateId id = static_cast<StateId>(values_.size() - 1);
  auto [it, inserted] = ids_.insert(id);
  if (!inserted) values_.pop_back();
  return *it;
}

bool RegisterModel::Matters(const Op& op) const {
  switch (op.f) {
    case Fn::kRead:
      return op.outcome == Outcome::kOk;
    case Fn::kWrite:
    case Fn::kAppend:
      return op.outcome != Outcome::kFail;
    case Fn::kCas:
      return true;
  }
  return true;
}

bool RegisterModel::Observer(const Op& op) const {
  return (op.f == Fn::kRead && op.outcome == Outcome::kOk) ||
         (op.f == Fn::kCas && op.outcome == Outcome::kFail);
}

std::optional<StateId> RegisterModel::Step(StateId state, const Op& op) {
  const Value& current = values_[state];
  switch (op.f) {
    case Fn::kRead:
      if (current != op.value) return std::nullopt;
      return state;
    case Fn::kWrite:
      return Intern(op.value);
    case Fn::kCas:
      if (op.outcome == Outcome::kFail) {
        if (current == op.expected) return std::nullopt;
        return state;
      }
      // An info cas whose compare does not hold would have changed nothing, which is the same
      // as never taking effect: the search covers that by not linearizing it.
      if (current != op.expected) return std::nullopt;
      return Intern(op.value);
    case Fn::kAppend: {
      if (std::holds_alternative<int64_t>(current)) return std::nullopt;
      const auto* prefix = std::get_if<std::string>(&current);
      return Intern(Value{(prefix ? *prefix : std::string()) + std::get<std::string>(op.value)});
    }
  }
  return std::nullopt;
}

bool RegisterModel::Prepare(const std::vector<const Op*>& ops) {
  append_only_ = true;
  for (const Op* op : ops) {
    if (op->f == Fn::kWrite || op->f == Fn::kCas) append_only_ = false;
  }
  return append_only_;
}

bool RegisterModel::Doomed(StateId state, const Op& op) {
  if (!append_only_ || op.f != Fn::kRead) return false;
  // From here the value can only stay or grow at its end.
  const Value& current = values_[state];
  if (std::holds_alternative<std::monostate>(current)) {
    return std::holds_alternative<int64_t>(op.value);
  }
  const auto* now = std::get_if<std::string>(&current);
  const auto* read = std::get_if<std::string>(&op.value);
  if (now == nullptr) return false;  // an integer: cannot happen without writes
  return read == nullptr || !read->starts_with(*now);
}

}  // namespace pharos::jepsen
