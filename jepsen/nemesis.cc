#include "jepsen/nemesis.h"

#include <algorithm>
#include <cstdlib>

namespace pharos::jepsen {
namespace {

constexpr const char* kChain = "PHAROS_JEPSEN";

std::string Name(int i) { return "n" + std::to_string(i + 1); }

std::string Group(const std::vector<int>& g) {
  std::string out = "{";
  for (size_t i = 0; i < g.size(); ++i) out += (i ? "," : "") + Name(g[i]);
  return out + "}";
}

}  // namespace

Nemesis::Nemesis(std::string kind, NodeSet& nodes, HistoryRecorder& clock, uint64_t seed)
    : kind_(std::move(kind)),
      nodes_(nodes),
      clock_(clock),
      rng_(seed),
      disk_hog_(nodes.dir() + "/disk-hog") {
  if (kind_ == "partition" || kind_ == "mix") {
    // Our own chain, flushed first: leftovers of an interrupted run must not partition this one.
    Iptables(std::string("-D INPUT -j ") + kChain + " 2>/dev/null");
    Iptables(std::string("-F ") + kChain + " 2>/dev/null");
    Iptables(std::string("-X ") + kChain + " 2>/dev/null");
    chain_ =
        Iptables(std::string("-N ") + kChain) && Iptables(std::string("-I INPUT -j ") + kChain);
    if (!chain_) {
      status_ = Status::Unavailable(
          "iptables is not usable here (needs root and the iptables "
          "package); partitions cannot be made");
    }
  }
}

Nemesis::~Nemesis() {
  Heal();
  if (chain_) {
    Iptables(std::string("-D INPUT -j ") + kChain);
    Iptables(std::string("-F ") + kChain);
    Iptables(std::string("-X ") + kChain);
  }
}

bool Nemesis::Iptables(const std::string& args) {
  const std::string cmd =
      "iptables -w " + args + (args.find("2>") == std::string::npos ? " >/dev/null 2>&1" : "");
  return std::system(cmd.c_str()) == 0;
}

void Nemesis::Strike() {
  Heal();
  if (removed_) return;  // a member still not back: no new fault on top of it
  std::string k = kind_;
  if (k == "none") return;
  if (k == "mix") {
    std::vector<std::string> kinds = {"kill", "kill-leader", "pause", "membership", "disk"};
    if (chain_) kinds.push_back("partition");
    k = kinds[rng_() % kinds.size()];
  }
  if (k == "kill" || k == "kill-leader") {
    Kill(k == "kill-leader");
  } else if (k == "pause") {
    Pause();
  } else if (k == "partition" && chain_) {
    Partition();
  } else if (k == "membership") {
    RemoveMember();
  } else if (k == "disk") {
    StallDisk();
  }
}

void Nemesis::RemoveMember() {
  const int target = static_cast<int>(rng_() % nodes_.size());
  const bool leader = nodes_.Leader() == target;
  std::string name = "remove member " + nodes_.name(target) + (leader ? " (the leader)" : "");
  const Status s = nodes_.RemoveMember(target, std::chrono::seconds(20));
  if (!s.ok()) name += " (not confirmed: " + s.message() + ")";
  faults_.push_back({name, clock_.Now(), 0});
  removed_ = target;
  active_ = true;
}

void Nemesis::StallDisk() {
  disk_hog_.Start();
  faults_.push_back({"stall the disk", clock_.Now(), 0});
  active_ = true;
}

void Nemesis::Kill(bool leader) {
  int target = static_cast<int>(rng_() % nodes_.size());
  if (leader) {
    if (auto l = nodes_.Leader()) target = *l;
  }
  nodes_.Kill(target);
  faults_.push_back({(leader ? "kill leader " : "kill ") + Name(target), clock_.Now(), 0});
  active_ = true;
}

void Nemesis::Pause() {
  const int target = static_cast<int>(rng_() % nodes_.size());
  nodes_.Pause(target);
  faults_.push_back({"pause " + Name(target), clock_.Now(), 0});
  active_ = true;
}

void Nemesis::Drop(int from, int to) {
  Iptables(std::string("-A ") + kChain + " -s " + nodes_.address(from) + " -d " +
           nodes_.address(to) + " -j DROP");
}

void Nemesis::Partition() {
  const int n = nodes_.size();
  std::vector<int> all(n);
  for (int i = 0; i < n; ++i) all[i] = i;
  std::shuffle(all.begin(), all.end(), rng_);
  std::string name;
  switch (rng_() % 4) {
    case 0: {  // halves: a minority cut off from a majority
      std::vector<int> a(all.begin(), all.begin() + n / 2), b(all.begin() + n / 2, all.end());
      for (int x : a)
        for (int y : b) {
          Drop(x, y);
          Drop(y, x);
        }
      name = "partition halves " + Group(a) + " " + Group(b);
      break;
    }
    case 1: {  // the leader alone
      const int leader = nodes_.Leader().value_or(all[0]);
      for (int y = 0; y < n; ++y) {
        if (y == leader) continue;
        Drop(leader, y);
        Drop(y, leader);
      }
      name = "partition isolated leader " + Name(leader);
      break;
    }
    case 2: {  // a bridge: all[0] sees both sides, which do not see each other
      std::vector<int> a, b;
      for (int i = 1; i < n; ++i) (i % 2 ? a : b).push_back(all[i]);
      for (int x : a)
        for (int y : b) {
          Drop(x, y);
          Drop(y, x);
        }
      name = "partition bridge " + Name(all[0]) + " between " + Group(a) + " " + Group(b);
      break;
    }
    default: {  // one way: the leader's messages reach nobody, it still hears them
      const int leader = nodes_.Leader().value_or(all[0]);
      for (int y = 0; y < n; ++y) {
        if (y != leader) Drop(leader, y);
      }
      name = "partition one-way from " + Name(leader);
      break;
    }
  }
  faults_.push_back({name, clock_.Now(), 0});
  active_ = true;
}

void Nemesis::Heal() {
  if (chain_) Iptables(std::string("-F ") + kChain);
  if (disk_hog_.running()) {
    disk_hog_.Stop();
    if (!faults_.empty()) {
      Fault& f = faults_.back();
      f.name += " (" + std::to_string(disk_hog_.written_bytes() >> 20) + " MiB written, " +
                std::to_string(disk_hog_.synced_bytes() >> 20) + " MiB synced)";
      f.applied = disk_hog_.written_bytes() > 0;
    }
  }
  for (int i = 0; i < nodes_.size(); ++i) {
    if (nodes_.paused(i)) nodes_.Resume(i);
    if (!nodes_.running(i) && removed_ != i) nodes_.Start(i);
  }
  if (removed_) {
    // Healed when the address votes again, as a new member that has caught up.
    const Status s = nodes_.AddMemberBack(*removed_, std::chrono::seconds(60));
    if (!s.ok()) {
      if (!faults_.empty()) faults_.back().name += " [heal failed once: " + s.message() + "]";
      if (!nodes_.running(*removed_)) nodes_.Start(*removed_);
      return;  // still active: the next Heal tries again
    }
    faults_.back().name += " (back as " + nodes_.name(*removed_) + ")";
    removed_.reset();
  }
  if (active_ && !faults_.empty()) faults_.back().end_ns = clock_.Now();
  active_ = false;
}

}  // namespace pharos::jepsen
