// The linearizability checker: Wing and Gong's search with Lowe's improvements (just-in-time
// linearization over a list of call and return entries, lift/unlift, and a cache of (linearized
// set, model state) that prunes configurations already explored), run on each key separately
// because keys are independent registers: that partition is what makes histories of 10,000+
// operations feasible.
//
// Ops that ended with info (or never completed) have no return: they may be linearized at any
// point after their invoke, or never. The search therefore succeeds once every completed op is
// linearized, and its cache is a dominance check: a configuration is pruned when one with the
// same completed ops and state, and a subset of its info ops, was already reached (anything the
// newcomer can still do, the earlier one could too).
//
// Two more prunings keep the search near one configuration per op when processes are many
// (both sound; linearizability.cc says why): an observer (a read) that can take effect is
// linearized at once with no alternative tried, and a state in which an op that must still be
// linearized can never take effect (Model::Doomed) is abandoned at once.
//
// Single-threaded; a Model is stateful (it may intern states) and must not be shared between
// threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jepsen/history.h"

namespace pharos::jepsen {

// A model state, as a small id the model hands out, so that the search can copy, hash and
// compare states for free whatever they hold.
using StateId = uint32_t;

// What the checker needs of a sequential specification.
class Model {
 public:
  virtual ~Model() = default;
  // The state every key starts in.
  virtual StateId Initial() = 0;
  // Whether the op can affect the search at all. Ops that neither change the state nor
  // constrain it (a failed read, a read whose outcome is unknown, a write known to have failed)
  // are dropped before searching, so that they do not widen it.
  virtual bool Matters(const Op& op) const = 0;
  // Whether `op` leaves the state as it found it wherever it can take effect (a read, a failed
  // cas). Such an op is linearized as soon as it can be, without trying anything else first:
  // it changes nothing, and nothing still pending has to come before it.
  virtual bool Observer(const Op& op) const = 0;
  // The state after `op` takes effect in `state`, or nullopt when it cannot take effect there
  // with the outcome the history records (an ok read that saw another value, a cas whose compare
  // contradicts its ok or fail). For an info op: the state if it took effect.
  virtual std::optional<StateId> Step(StateId state, const Op& op) = 0;
  // The state for reports.
  virtual std::string Describe(StateId state) const = 0;

  // Called with a key's ops (those that matter) before its search. Returns whether Doomed can
  // say yes for them; if not, the search never asks.
  virtual bool Prepare(const std::vector<const Op*>& ops) = 0;
  // Whether `op`, a completed op not linearized yet (so it must be, later), can no longer take
  // effect: no sequence of the key's ops leads from `state` to a state where it could. Lets the
  // search drop a configuration at once instead of trying every order of the ops that do not
  // matter to it (appends: every order of the concurrent appends before a read that shows the
  // order was already wrong). Must never say yes wrongly; saying no is always safe.
  virtual bool Doomed(StateId state, const Op& op) = 0;
};

// Why a key is not linearizable, in the spirit of Knossos's final paths: the op at which the
// search got furthest before it was stuck, and the ops around it.
struct Anomaly {
  std::string key;
  // The op that could not be linearized: the completed op whose return the search could not get
  // past, at the furthest point in real time that it reached.
  Op op;
  // The (checked) ops of the key whose time window overlaps op's, in invoke order. An info op's
  // window never closes, so every info op invoked before op completed is here.
  std::vector<Op> concurrent;
  // The last op of the key to complete before op was invoked, whose effect op should see.
  std::optional<Op> previous;
  // The model states the search was in when it got stuck there (at most a few).
  std::vector<std::string> states;
  // The longest linearizable prefix: the order of ops (completed and info) that took the search
  // furthest, each able to follow the one before — and the ops that cannot follow it: op, and
  // the other candidates there that cannot take effect after that prefix either.
  std::vector<Op> prefix;
  std::vector<Op> cannot_follow;
};

struct KeyResult {
  // True only when the search linearized every completed op. False when it proved the key not
  // linearizable (with `anomaly`) — or when it gave up (`timed_out`), which is no verdict at all:
  // check `timed_out` first.
  bool linearizable = true;
  bool timed_out = false;          // gave up at the deadline: no verdict for this key
  std::optional<Anomaly> anomaly;  // when not linearizable
  uint64_t configurations = 0;     // configurations the search entered: its work
};

struct CheckResult {
  // False as soon as one key is not linearizable. True with `unknown` when no key was shown bad
  // but some timed out: then there is no verdict.
  bool linearizable = true;
  bool unknown = false;
  std::vector<std::string> timed_out_keys;  // sorted
  size_t keys = 0;
  size_t ops = 0;                     // all ops in the history, checked or dropped
  std::vector<std::string> bad_keys;  // sorted
  std::optional<Anomaly> anomaly;     // of the first bad key
  uint64_t configurations = 0;        // summed over keys
};

struct CheckOptions {
  // The search gives up at this instant (checked every thousand configurations or so).
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

// Checks `ops` as one register (their keys are not looked at; ops the model says do not matter
// are dropped). `ops` must be in invoke order, as History::ops is. A search past the deadline
// returns timed_out (and linearizable false, never a pass).
KeyResult CheckOperations(const std::vector<Op>& ops, Model& model,
                          const CheckOptions& options = {});

// Checks every key of the history on its own. A key that timed out is in `timed_out_keys`, never
// in `bad_keys`: with no key shown bad, the result is `unknown`, not a verdict.
CheckResult CheckHistory(const History& history, Model& model, const CheckOptions& options = {});

}  // namespace pharos::jepsen
