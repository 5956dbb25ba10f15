// A simulated linearizable store driven by random workers; see history_generator.h.
#include "tests/jepsen/history_generator.h"

#include <nlohmann/json.hpp>
#include <random>
#include <vector>

namespace pharos::jepsen {
namespace {

using nlohmann::json;

enum class KeyKind { kIntegers, kStrings, kAppends };

struct Worker {
  bool busy = false;
  bool abandoned = false;  // left pending when the run is cut off
  int64_t process = 0;
  std::string f;
  size_t key = 0;
  json value;  // as the invoke carries it
  bool applied = false;
  json result;  // a read's value; for cas whether it swapped
};

// An info op that had not taken effect yet and may still do so.
struct Zombie {
  std::string f;
  size_t key = 0;
  json value;
};

class Simulation {
 public:
  explicit Simulation(const GeneratorOptions& o) : o_(o), rng_(o.seed) {
    for (int k = 0; k < o.keys; ++k) {
      names_.push_back("k" + std::to_string(k));
      if (o.append_every > 0 && k % o.append_every == 0) {
        kinds_.push_back(KeyKind::kAppends);
      } else {
        kinds_.push_back(k % 3 == 1 ? KeyKind::kStrings : KeyKind::kIntegers);
      }
      state_.push_back(nullptr);
    }
    workers_.resize(o.workers);
    for (int w = 0; w < o.workers; ++w) workers_[w].process = w;
    next_process_ = o.workers;
  }

  std::string Run() {
    std::uniform_int_distribution<size_t> any_worker(0, workers_.size() - 1);
    while (invoked_ < o_.ops) Step(workers_[any_worker(rng_)]);
    // The run is cut off: most in-flight ops still complete, a few never do.
    for (Worker& w : workers_) w.abandoned = w.busy && Chance(0.05);
    while (true) {
      std::vector<Worker*> active;
      for (Worker& w : workers_) {
        if (w.busy && !w.abandoned) active.push_back(&w);
      }
      if (active.empty()) break;
      Step(*active[std::uniform_int_distribution<size_t>(0, active.size() - 1)(rng_)]);
    }
    return out_;
  }

 private:
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int Uniform(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  json RandomValue(size_t key) {
    if (kinds_[key] == KeyKind::kStrings) return "s" + std::to_string(Uniform(5));
    return Uniform(10);
  }

  void Emit(const Worker& w, const std::string& type, const json& value) {
    json j = {{"process", w.process}, {"type", type},   {"f", w.f},
              {"key", names_[w.key]}, {"value", value}, {"time", ++time_}};
    out_ += j.dump();
    out_ += '\n';
  }

  // The op takes effect now; returns what a read saw or whether a cas swapped.
  json Apply(const std::string& f, size_t key, const json& value) {
    json& s = state_[key];
    if (f == "read") return s;
    if (f == "write") {
      s = value;
    } else if (f == "append") {
      s = (s.is_null() ? std::string() : s.get<std::string>()) + value.get<std::string>();
    } else {  // cas
      if (s != value[0]) return false;
      s = value[1];
      return true;
    }
    return nullptr;
  }

  void Step(Worker& w) {
    // Now and then an info op that had not taken effect yet does.
    if (!zombies_.empty() && Chance(0.01)) {
      const size_t z = std::uniform_int_distribution<size_t>(0, zombies_.size() - 1)(rng_);
      Apply(zombies_[z].f, zombies_[z].key, zombies_[z].value);
      zombies_.erase(zombies_.begin() + static_cast<std::ptrdiff_t>(z));
    }
    if (!w.busy) {
      if (invoked_ >= o_.ops) return;
      Invoke(w);
    } else if (!w.applied) {
      // cas never fails at random: a failed cas says its compare did not hold.
      if (w.f != "cas" && Chance(o_.fail_rate)) {
        Complete(w, "fail", w.value);
      } else if (Chance(o_.info_rate / 2)) {
        if (w.f != "read" && Chance(0.5)) zombies_.push_back({w.f, w.key, w.value});
        Complete(w, "info", w.value);
      } else {
        w.result = Apply(w.f, w.key, w.value);
        w.applied = true;
      }
    } else if (Chance(o_.info_rate / 2)) {
      Complete(w, "info", w.f == "read" ? json(nullptr) : w.value);
    } else if (w.f == "read") {
      Complete(w, "ok", w.result);
    } else if (w.f == "cas") {
      Complete(w, w.result.get<bool>() ? "ok" : "fail", w.value);
    } else {
      Complete(w, "ok", w.value);
    }
  }

  void Invoke(Worker& w) {
    w.busy = true;
    w.applied = false;
    w.key = static_cast<size_t>(Uniform(o_.keys));
    const int roll = Uniform(10);
    if (roll < 5) {
      w.f = "read";
      w.value = nullptr;
    } else if (kinds_[w.key] == KeyKind::kAppends) {
      w.f = "append";
      w.value = std::to_string(append_counter_++) + " ";
    } else if (roll < 8) {
      w.f = "write";
      w.value = RandomValue(w.key);
    } else {
      w.f = "cas";
      w.value = json::array({RandomValue(w.key), RandomValue(w.key)});
    }
    ++invoked_;
    Emit(w, "invoke", w.value);
  }

  void Complete(Worker& w, const std::string& type, const json& value) {
    Emit(w, type, value);
    w.busy = false;
    // A process whose op ended in info is never reused: the worker goes on under a new id.
    if (type == "info") w.process = next_process_++;
  }

  const GeneratorOptions o_;
  std::mt19937_64 rng_;
  std::vector<std::string> names_;
  std::vector<KeyKind> kinds_;
  std::vector<json> state_;
  std::vector<Worker> workers_;
  std::vector<Zombie> zombies_;
  int64_t next_process_ = 0;
  int invoked_ = 0;
  int64_t time_ = 0;
  int append_counter_ = 0;
  std::string out_;
};

}  // namespace

std::string GenerateHistory(const GeneratorOptions& options) { return Simulation(options).Run(); }

}  // namespace pharos::jepsen
