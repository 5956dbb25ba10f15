// Wing–Gong–Lowe linearizability search on one key, and the partition of a history by key.
//
// The search walks configurations: which ops are linearized, in what model state. Completed ops
// (ok or fail) sit in a doubly linked list of call and return entries in real-time order, as in
// Lowe's version of the algorithm: the candidates are the calls before the first return still in
// the list, and linearizing one lifts its call and return out of the list (undone in reverse
// order when the search backtracks). Info ops have no return, so they are kept apart and the
// search is done when the list is empty.
//
// Info ops are only linearized in runs: when no completed candidate leads anywhere, the
// configuration tries the runs of info ops that can take effect next, shortest first, and the
// configuration a run leads to must linearize a completed op next (two runs in a row are one
// longer run, which the first configuration tries itself). Shortest first matters: a
// configuration reached with fewer info ops dominates one with the same completed ops and state
// and more info ops, so trying small runs first lets the cache prune the large ones, where a
// plain depth-first order would meet every subset of the pending info ops.
//
// Observers go first: if a candidate observer o can take effect in state s, any way through the
// configuration can be rearranged to start with o (o changes no state, so the ops around it see
// the same states; and no pending op returned before o was invoked, or o would not be a
// candidate, so moving o first breaks no real-time order). So the configuration leads somewhere
// iff the one after o does, and nothing else is tried from it.
#include "jepsen/linearizability.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <map>
#include <set>
#include <unordered_map>

namespace pharos::jepsen {
namespace {

// A set of small integers.
class Bits {
 public:
  explicit Bits(size_t n = 0) : words_((n + 63) / 64, 0) {}
  void Set(size_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  void Clear(size_t i) { words_[i / 64] &= ~(uint64_t{1} << (i % 64)); }
  bool Test(size_t i) const { return (words_[i / 64] >> (i % 64)) & 1; }
  bool SubsetOf(const Bits& other) const {
    for (size_t w = 0; w < words_.size(); ++w) {
      if ((words_[w] & ~other.words_[w]) != 0) return false;
    }
    return true;
  }
  bool operator==(const Bits& other) const = default;

  // The first clear bit at or after `from` (size() when there is none).
  size_t NextClear(size_t from) const {
    for (size_t w = from / 64; w < words_.size(); ++w) {
      uint64_t clear = ~words_[w];
      if (w == from / 64) clear &= ~uint64_t{0} << (from % 64);
      if (clear != 0) return std::min(size(), w * 64 + std::countr_zero(clear));
    }
    return size();
  }
  // Bits [from, from + n) packed into words.
  std::vector<uint64_t> Range(size_t from, size_t n) const {
    std::vector<uint64_t> out((n + 63) / 64, 0);
    for (size_t i = 0; i < out.size(); ++i) {
      const size_t bit = from + i * 64;
      const size_t w = bit / 64;
      const unsigned shift = bit % 64;
      uint64_t v = w < words_.size() ? words_[w] >> shift : 0;
      if (shift != 0 && w + 1 < words_.size()) v |= words_[w + 1] << (64 - shift);
      const size_t left = n - i * 64;
      if (left < 64) v &= (uint64_t{1} << left) - 1;
      out[i] = v;
    }
    return out;
  }
  size_t size() const { return words_.size() * 64; }

 private:
  std::vector<uint64_t> words_;
};

// Adds `set` to `antichain` unless a subset of it is there already (then returns false); drops
// the members it makes redundant.
bool AddIfMinimal(std::vector<Bits>& antichain, const Bits& set) {
  for (const Bits& s : antichain) {
    if (s.SubsetOf(set)) return false;
  }
  std::erase_if(antichain, [&](const Bits& s) { return set.SubsetOf(s); });
  antichain.push_back(set);
  return true;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class KeySearch {
 public:
  KeySearch(std::vector<const Op*> ops, Model& model, const CheckOptions& options)
      : ops_(std::move(ops)), model_(model), deadline_(options.deadline) {
    for (size_t i = 0; i < ops_.size(); ++i) {
      (ops_[i]->outcome == Outcome::kInfo ? info_ : completed_).push_back(i);
    }
    BuildList();
    doom_ = model_.Prepare(ops_);
    zobrist_.resize(completed_.size());
    for (size_t c = 0; c < completed_.size(); ++c) zobrist_[c] = SplitMix64(c);
    reach_.resize(completed_.size());
    for (size_t c = 0; c < completed_.size(); ++c) {
      const int returned = ops_[completed_[c]]->complete_line;
      reach_[c] = static_cast<size_t>(
          std::partition_point(completed_.begin(), completed_.end(),
                               [&](size_t i) { return ops_[i]->invoke_line < returned; }) -
          completed_.begin());
    }
    linearized_completed_ = Bits(completed_.size());
    linearized_info_ = Bits(info_.size());
  }

  KeyResult Run();

 private:
  // Entry of the list. Nodes 0 and 1 are the head and tail sentinels; the tail counts as a
  // return at the end of time so that every scan stops.
  struct Node {
    size_t completed = 0;  // index into completed_
    bool call = false;
    int line = INT_MAX;  // the event's line: real-time order
    size_t match = 0;    // a call's return node
    size_t prev = 0;
    size_t next = 0;
  };
  static constexpr size_t kHead = 0;
  static constexpr size_t kTail = 1;

  // A run of info ops and the state it leads to from its generator's origin.
  struct InfoRun {
    StateId state = 0;
    Bits members;             // over the generator's candidates
    std::vector<size_t> ops;  // indexes into info_
  };

  // The runs of one configuration, produced lazily one length at a time: longer runs are built
  // only once every shorter one has been explored.
  struct RunGenerator {
    std::vector<size_t> candidates;  // indexes into info_: pending and invoked early enough
    std::vector<InfoRun> level;      // the runs of the current length
    size_t next = 0;                 // the next run of `level` to hand out
    // state -> the smallest sets of candidates that reached it from the origin.
    std::unordered_map<StateId, std::vector<Bits>> reached;
  };

  // A step the search took, with what undoes it.
  struct Frame {
    bool run = false;         // an info run, else a completed op
    bool forced = false;      // an observer, the only step its configuration tried
    size_t node = 0;          // the completed op's call node
    std::vector<size_t> ops;  // the run's info ops
    StateId state = 0;        // the configuration's state before the step
    bool runs_allowed = true;
  };

  // The completed ops linearized are all those before the frontier (the first one not
  // linearized, in invoke order) and some of the ones invoked before the frontier op returned
  // (nothing else can have been a candidate while it was pending): so the frontier and that
  // short stretch of bits name the set, instead of a bit per op of the key.
  struct CacheKey {
    uint64_t hash;
    size_t frontier;
    StateId state;
    std::vector<uint64_t> stretch;
    bool operator==(const CacheKey& o) const {
      return hash == o.hash && frontier == o.frontier && state == o.state && stretch == o.stretch;
    }
  };
  struct CacheKeyHash {
    size_t operator()(const CacheKey& k) const { return k.hash; }
  };

  void BuildList();
  void Lift(size_t call);
  void Unlift(size_t call);
  size_t FirstReturn() const;
  std::optional<StateId> StepMemo(StateId state, size_t op);
  // Linearizes the completed op of `call`, leading to state `next`, if the configuration that
  // makes is viable and new; otherwise leaves everything as it was and returns false.
  bool TryCompleted(size_t call, StateId next);
  // Whether every candidate could still take effect after `state` (see Model::Doomed); `beyond`
  // are the ops taken past the path on the stack to reach `state`.
  bool Viable(StateId state, const std::vector<size_t>& beyond);
  // Records the configuration (the linearized sets, `state`) unless one that dominates it was
  // entered before. Returns whether it is new.
  bool Enter(StateId state);
  RunGenerator StartRuns(StateId origin);
  // The next run of `g` whose configuration is new, entered and applied; nullptr when none is
  // left.
  const InfoRun* NextRun(RunGenerator& g);
  // Records that the search could not get past the first return in the list, in `state`.
  void NoteStuck(StateId state);
  // Keeps the furthest point (the return's line) the search could not get past, with the path
  // that reached it (the stack, then `beyond`) and the candidates there.
  void Note(int line, size_t op, StateId state, const std::vector<size_t>& beyond = {});
  Anomaly MakeAnomaly() const;

  std::vector<const Op*> ops_;
  Model& model_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::vector<size_t> completed_;  // indexes into ops_
  std::vector<size_t> info_;       // indexes into ops_, in invoke order
  std::vector<Node> nodes_;
  std::vector<uint64_t> zobrist_;  // random per completed op: an incremental hash of the set
  // Per completed op: the number of completed ops invoked before it returned.
  std::vector<size_t> reach_;

  Bits linearized_completed_;
  Bits linearized_info_;
  uint64_t hash_ = 0;
  // (completed set, state) -> the info sets it was entered with, none a subset of another.
  std::unordered_map<CacheKey, std::vector<Bits>, CacheKeyHash> cache_;
  std::unordered_map<uint64_t, std::optional<StateId>> steps_;  // (state, op) -> Step
  bool doom_ = false;                                           // the model may call ops doomed
  std::unordered_map<uint64_t, bool> doomed_;                   // (state, op) -> Doomed
  uint64_t configurations_ = 0;

  // The furthest return the search could not get past, and the states it was in there.
  int stuck_line_ = 0;
  size_t stuck_op_ = 0;
  std::set<StateId> stuck_states_;
  std::vector<size_t> stuck_path_;        // indexes into ops_, in linearization order
  std::vector<size_t> stuck_candidates_;  // indexes into ops_
  std::vector<Frame> stack_;              // the path: the steps taken, each undoable
};

void KeySearch::BuildList() {
  nodes_.resize(2 + 2 * completed_.size());
  std::vector<size_t> order;  // every call and return node, to be sorted by line
  for (size_t c = 0; c < completed_.size(); ++c) {
    const Op& op = *ops_[completed_[c]];
    const size_t call = 2 + 2 * c;
    const size_t ret = call + 1;
    nodes_[call] = {.completed = c, .call = true, .line = op.invoke_line, .match = ret};
    nodes_[ret] = {.completed = c, .call = false, .line = op.complete_line};
    order.push_back(call);
    order.push_back(ret);
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return nodes_[a].line < nodes_[b].line; });
  size_t prev = kHead;
  for (size_t n : order) {
    nodes_[prev].next = n;
    nodes_[n].prev = prev;
    prev = n;
  }
  nodes_[prev].next = kTail;
  nodes_[kTail].prev = prev;
}

// Takes a call and its return out of the list; their own links are kept for Unlift, which must
// undo lifts in reverse order (dancing links).
void KeySearch::Lift(size_t call) {
  for (size_t n : {call, nodes_[call].match}) {
    nodes_[nodes_[n].prev].next = nodes_[n].next;
    nodes_[nodes_[n].next].prev = nodes_[n].prev;
  }
}

void KeySearch::Unlift(size_t call) {
  for (size_t n : {nodes_[call].match, call}) {
    nodes_[nodes_[n].prev].next = n;
    nodes_[nodes_[n].next].prev = n;
  }
}

size_t KeySearch::FirstReturn() const {
  size_t n = nodes_[kHead].next;
  while (nodes_[n].call) n = nodes_[n].next;
  return n;
}

std::optional<StateId> KeySearch::StepMemo(StateId state, size_t op) {
  // Appends make states long strings; remembering transitions spares the model rebuilding and
  // re-hashing them every time the search comes back to the same place.
  const uint64_t key = (uint64_t{state} << 32) | op;
  auto it = steps_.find(key);
  if (it != steps_.end()) return it->second;
  auto next = model_.Step(state, *ops_[op]);
  steps_.emplace(key, next);
  return next;
}

bool KeySearch::Viable(StateId state, const std::vector<size_t>& beyond) {
  if (!doom_) return true;
  // The candidates, and a few completed ops invoked after them: every one of them must be
  // linearized later, and the nearest ones are the likeliest to rule a state out (a read just
  // past the window shows the order the appends before it took).
  constexpr int kLookahead = 16;
  int past_window = -1;  // list entries seen from the first return on; -1 before it
  for (size_t n = nodes_[kHead].next; n != kTail; n = nodes_[n].next) {
    if (!nodes_[n].call && past_window < 0) past_window = 0;
    if (past_window >= 0 && ++past_window > kLookahead) break;
    if (!nodes_[n].call) continue;
    const size_t op = completed_[nodes_[n].completed];
    const uint64_t key = (uint64_t{state} << 32) | op;
    auto it = doomed_.find(key);
    if (it == doomed_.end()) it = doomed_.emplace(key, model_.Doomed(state, *ops_[op])).first;
    if (it->second) {
      // The search gets no further than this op's return on this path: report it as stuck
      // there, in the state that rules it out.
      Note(ops_[op]->complete_line, op, state, beyond);
      return false;
    }
  }
  return true;
}

bool KeySearch::Enter(StateId state) {
  const size_t frontier = linearized_completed_.NextClear(0);
  const size_t stretch = frontier < completed_.size() ? reach_[frontier] - frontier : 0;
  CacheKey key{.hash = hash_ ^ SplitMix64(uint64_t{state} + 0x5bd1e995),
               .frontier = frontier,
               .state = state,
               .stretch = linearized_completed_.Range(frontier, stretch)};
  if (!AddIfMinimal(cache_[std::move(key)], linearized_info_)) return false;
  ++configurations_;
  return true;
}

KeySearch::RunGenerator KeySearch::StartRuns(StateId origin) {
  RunGenerator g;
  // An info op invoked after the first pending return cannot take effect before that op does.
  const int limit = nodes_[FirstReturn()].line;
  for (size_t i = 0; i < info_.size() && ops_[info_[i]]->invoke_line < limit; ++i) {
    if (!linearized_info_.Test(i)) g.candidates.push_back(i);
  }
  // The empty run: its origin is the configuration itself, so any run back to it is useless.
  Bits none(g.candidates.size());
  g.reached[origin].push_back(none);
  g.level.push_back({.state = origin, .members = none, .ops = {}});
  g.next = 1;
  return g;
}

const KeySearch::InfoRun* KeySearch::NextRun(RunGenerator& g) {
  while (true) {
    while (g.next < g.level.size()) {
      const InfoRun& run = g.level[g.next++];
      for (size_t i : run.ops) linearized_info_.Set(i);
      if (Enter(run.state)) return &run;
      for (size_t i : run.ops) linearized_info_.Clear(i);
    }
    // Every run of this length is explored: build the next length from all of them (including
    // those the cache pruned, whose extensions may still be new).
    std::vector<InfoRun> longer;
    for (const InfoRun& run : g.level) {
      for (size_t p = 0; p < g.candidates.size(); ++p) {
        if (run.members.Test(p)) continue;
        auto next = StepMemo(run.state, info_[g.candidates[p]]);
        // A doomed state stays doomed whatever follows, so it is not extended either.
        if (!next) continue;
        std::vector<size_t> beyond;
        for (size_t i : run.ops) beyond.push_back(info_[i]);
        beyond.push_back(info_[g.candidates[p]]);
        if (!Viable(*next, beyond)) continue;
        InfoRun extended{.state = *next, .members = run.members, .ops = run.ops};
        extended.members.Set(p);
        if (!AddIfMinimal(g.reached[*next], extended.members)) continue;
        extended.ops.push_back(g.candidates[p]);
        longer.push_back(std::move(extended));
      }
    }
    if (longer.empty()) return nullptr;
    g.level = std::move(longer);
    g.next = 0;
  }
}

void KeySearch::NoteStuck(StateId state) {
  const size_t first_return = FirstReturn();
  if (first_return == kTail) return;
  const Node& n = nodes_[first_return];
  Note(n.line, completed_[n.completed], state);
}

void KeySearch::Note(int line, size_t op, StateId state, const std::vector<size_t>& beyond) {
  if (line > stuck_line_) {
    stuck_line_ = line;
    stuck_op_ = op;
    stuck_states_.clear();
    // Copied only when the furthest point moves on, which happens at most once per return.
    stuck_path_.clear();
    for (const Frame& f : stack_) {
      if (f.run) {
        for (size_t i : f.ops) stuck_path_.push_back(info_[i]);
      } else {
        stuck_path_.push_back(completed_[nodes_[f.node].completed]);
      }
    }
    stuck_path_.insert(stuck_path_.end(), beyond.begin(), beyond.end());
    // What cannot follow the path: the op the search could not get past, and every other
    // candidate that cannot take effect in this state either.
    stuck_candidates_ = {op};
    for (size_t n = nodes_[kHead].next; nodes_[n].call; n = nodes_[n].next) {
      const size_t candidate = completed_[nodes_[n].completed];
      if (candidate != op && !StepMemo(state, candidate)) stuck_candidates_.push_back(candidate);
    }
  }
  if (line == stuck_line_ && stuck_states_.size() < 8) stuck_states_.insert(state);
}

bool KeySearch::TryCompleted(size_t call, StateId next) {
  const size_t c = nodes_[call].completed;
  linearized_completed_.Set(c);
  hash_ ^= zobrist_[c];
  Lift(call);  // first, so that Viable sees the candidates of the new configuration
  if (Viable(next, {completed_[c]}) && Enter(next)) return true;
  Unlift(call);
  linearized_completed_.Clear(c);
  hash_ ^= zobrist_[c];
  return false;
}

KeyResult KeySearch::Run() {
  KeyResult result;
  StateId state = model_.Initial();
  bool fresh = true;         // the configuration was just entered
  bool runs_allowed = true;  // false right after a run: a completed op must come next
  bool in_runs = false;      // the configuration has moved on from completed ops to runs
  size_t cursor = nodes_[kHead].next;
  std::vector<Frame>& stack = stack_;
  std::vector<RunGenerator> generators;  // one per configuration on the path that is in runs
  uint64_t steps = 0;
  while (nodes_[kHead].next != kTail) {  // until every completed op is linearized
    if (deadline_ && (++steps & 1023) == 0 && std::chrono::steady_clock::now() >= *deadline_) {
      // No verdict: never reported as linearizable, which a caller that looks no further than
      // `linearizable` would take for a pass.
      result.linearizable = false;
      result.timed_out = true;
      break;
    }
    if (!in_runs) {
      // Candidates: calls before the first return still in the list. An op whose return comes
      // first must be linearized before anything invoked after it.
      bool advanced = false;
      bool forced = false;
      if (fresh) {
        // An observer that can take effect here goes first and alone: this configuration
        // leads somewhere iff the one after the observer does (see Model::Observer).
        for (size_t n = nodes_[kHead].next; nodes_[n].call && !forced; n = nodes_[n].next) {
          const size_t op = completed_[nodes_[n].completed];
          if (!model_.Observer(*ops_[op])) continue;
          auto next = StepMemo(state, op);
          if (!next) continue;
          forced = true;
          if (TryCompleted(n, *next)) {
            stack.push_back(
                {.forced = true, .node = n, .state = state, .runs_allowed = runs_allowed});
            state = *next;
            advanced = true;
          }
        }
        fresh = false;
      }
      for (size_t n = cursor; !forced && nodes_[n].call; n = nodes_[n].next) {
        auto next = StepMemo(state, completed_[nodes_[n].completed]);
        if (!next || !TryCompleted(n, *next)) continue;
        stack.push_back({.node = n, .state = state, .runs_allowed = runs_allowed});
        state = *next;
        advanced = true;
        break;
      }
      if (advanced) {
        runs_allowed = true;
        cursor = nodes_[kHead].next;
        fresh = true;
        continue;
      }
      if (runs_allowed && !forced) {
        generators.push_back(StartRuns(state));
        in_runs = true;
      }
    }
    if (in_runs) {
      if (const InfoRun* run = NextRun(generators.back())) {
        stack.push_back({.run = true, .ops = run->ops, .state = state, .runs_allowed = true});
        state = run->state;
        runs_allowed = false;
        in_runs = false;
        cursor = nodes_[kHead].next;
        fresh = true;
        continue;
      }
      generators.pop_back();
    }
    // Nothing leads on from here: back to the configuration before the last step, and further
    // while that step was forced (the configuration before it had nothing else to try).
    bool exhausted = false;
    while (true) {
      NoteStuck(state);
      if (stack.empty()) {
        exhausted = true;
        break;
      }
      const Frame f = std::move(stack.back());
      stack.pop_back();
      state = f.state;
      runs_allowed = f.runs_allowed;
      if (f.run) {
        for (size_t i : f.ops) linearized_info_.Clear(i);
        in_runs = true;  // its generator is still on top
      } else {
        const size_t c = nodes_[f.node].completed;
        Unlift(f.node);
        linearized_completed_.Clear(c);
        hash_ ^= zobrist_[c];
        in_runs = false;
        cursor = nodes_[f.node].next;
      }
      if (!f.forced) break;
    }
    if (exhausted) {
      result.linearizable = false;
      result.anomaly = MakeAnomaly();
      break;
    }
  }
  result.configurations = configurations_;
  return result;
}

Anomaly KeySearch::MakeAnomaly() const {
  Anomaly a;
  const Op& stuck = *ops_[stuck_op_];
  a.key = stuck.key;
  a.op = stuck;
  // An op's window is [invoke, completion]; an info op's never closes.
  const auto end = [](const Op& op) {
    return op.outcome == Outcome::kInfo ? INT_MAX : op.complete_line;
  };
  for (const Op* op : ops_) {
    if (op == &stuck) continue;
    if (op->invoke_line < end(stuck) && stuck.invoke_line < end(*op)) {
      a.concurrent.push_back(*op);
    } else if (end(*op) < stuck.invoke_line &&
               (!a.previous || a.previous->complete_line < op->complete_line)) {
      a.previous = *op;
    }
  }
  for (StateId s : stuck_states_) a.states.push_back(model_.Describe(s));
  for (size_t i : stuck_path_) a.prefix.push_back(*ops_[i]);
  for (size_t i : stuck_candidates_) a.cannot_follow.push_back(*ops_[i]);
  return a;
}

}  // namespace

KeyResult CheckOperations(const std::vector<Op>& ops, Model& model, const CheckOptions& options) {
  std::vector<const Op*> kept;
  for (const Op& op : ops) {
    if (model.Matters(op)) kept.push_back(&op);
  }
  return KeySearch(std::move(kept), model, options).Run();
}

CheckResult CheckHistory(const History& history, Model& model, const CheckOptions& options) {
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : history.ops) {
    auto& ops = by_key[op.key];
    if (model.Matters(op)) ops.push_back(&op);
  }
  CheckResult result;
  result.keys = by_key.size();
  result.ops = history.ops.size();
  for (auto& [key, ops] : by_key) {
    if (options.deadline && std::chrono::steady_clock::now() >= *options.deadline) {
      result.timed_out_keys.push_back(key);
      continue;
    }
    KeyResult r = KeySearch(std::move(ops), model, options).Run();
    result.configurations += r.configurations;
    if (r.timed_out) {
      result.timed_out_keys.push_back(key);
      continue;
    }
    if (r.linearizable) continue;
    result.linearizable = false;
    result.bad_keys.push_back(key);
    if (!result.anomaly) result.anomaly = std::move(r.anomaly);
  }
  // One key shown not linearizable decides the history; otherwise a key without a verdict
  // leaves the whole without one.
  result.unknown = result.linearizable && !result.timed_out_keys.empty();
  return result;
}

}  // namespace pharos::jepsen
