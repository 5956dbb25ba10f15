#!/usr/bin/env bash
# Shows the Raft simulation has teeth: applies classic Raft bugs, one at a time, to a scratch copy
# of the sources, builds only the core and raft-sim there, and runs raft-sim with the suite's seed
# budget. Every mutant must be caught; the table says which check caught it, on which seed.
# Production code carries no switch for these bugs: each is a textual edit of the pristine file.
#
#   tests/raft/mutation_test.sh [--seeds N] [--steps K] [--only a,b,...]
# Exit 0 when every mutant is caught, 1 when one survives, 2 on a setup error.
# With MUTATION_BUILD_LOCK=FILE, every configure and build step runs under `flock FILE`, so the
# script's compiles never overlap other builds on a shared machine (do not also run the whole
# script under the same lock: it would wait for itself).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# The suite's budget: the seeds and steps the raft_sim ctest entries run.
budget="$root/tests/raft/sim/CMakeLists.txt"
seeds=$(sed -nE 's/.*raft-sim --seeds ([0-9]+) .*/\1/p' "$budget" | head -1)
steps=$(sed -nE 's/.*raft-sim --seeds [0-9]+ .*--steps ([0-9]+).*/\1/p' "$budget" | head -1)
[ -n "$seeds" ] && [ -n "$steps" ] || { echo "cannot read the seed budget from $budget" >&2; exit 2; }
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--seeds N] [--steps K] [--only a,b,...]" >&2; exit 2 ;;
  esac
done

scratch=$(mktemp -d /tmp/pharos-mutants.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
cp -r "$root/CMakeLists.txt" "$root/proto" "$root/common" "$root/raft" "$root/tests" "$scratch/src/"
# Only the core and the simulation are configured and built.
sed -i -E '/^add_subdirectory\((proto|common|raft|tests)\)$/!{/^add_subdirectory\(/d}; /^add_test\(NAME clang_format/d' \
  "$scratch/src/CMakeLists.txt"
cat > "$scratch/src/tests/CMakeLists.txt" <<'CMAKE'
add_library(raft_safety_checker STATIC raft/safety_checker.cc)
target_link_libraries(raft_safety_checker PUBLIC pharos_raft)
add_subdirectory(raft/sim)
CMAKE
# shellcheck source=tests/mutation_helpers.sh
source "$root/tests/mutation_helpers.sh"
configure_scratch

declare -A describe file
describe[a]="vote granted without the up-to-date check"
file[a]=raft/node.cc
describe[b]="leader commits an earlier term's entry by counting replicas (Figure 8)"
file[b]=raft/node.cc
describe[c]="votes (and acks) sent before the Ready is durable"
file[c]=raft/node.cc
describe[d]="follower truncates on an AppendEntries whose entries it already has"
file[d]=raft/raft_log.cc
describe[e]="pre-vote raises the term"
file[e]=raft/node.cc
describe[f]="follower commits to the leader's commit, not min(it, last index matched)"
file[f]=raft/raft_log.cc
describe[g]="ReadIndex answered without the heartbeat round"
file[g]=raft/node.cc
describe[h]="config entry appended before an entry of the leader's term commits"
file[h]=raft/node.cc
describe[i]="truncated configuration entry not rolled back"
file[i]=raft/membership.cc

write_mutant() {
  case "$1" in
    a) printf '%s' '  if (can_vote && log_.IsUpToDate(m.index(), m.log_term())) {' > "$scratch/old"
       printf '%s' '  if (can_vote) {' > "$scratch/new" ;;
    b) printf '%s' '  if (!log_.MaybeCommit(quorum_index, term_)) return false;' > "$scratch/old"
       printf '%s' '  if (quorum_index <= log_.committed()) return false;
  log_.CommitTo(quorum_index);' > "$scratch/new" ;;
    c) printf '%s' '  rd.messages_after_persist.insert(rd.messages_after_persist.end(),' > "$scratch/old"
       printf '%s' '  rd.messages.insert(rd.messages.end(),' > "$scratch/new" ;;
    d) printf '%s' '  const uint64_t conflict = FindConflict(entries);' > "$scratch/old"
       printf '%s' '  const uint64_t conflict = entries.empty() ? 0 : entries.front().index();' > "$scratch/new" ;;
    e) printf '%s' '    BecomePreCandidate();
    vote_msg = raftpb::MSG_PRE_VOTE;
    // Ask for votes as if at the next term, without moving to it (thesis §9.6).
    vote_term = term_ + 1;' > "$scratch/old"
       printf '%s' '    term_ += 1;
    BecomePreCandidate();
    vote_msg = raftpb::MSG_PRE_VOTE;
    vote_term = term_;' > "$scratch/new" ;;
    # Bounded by the log, since the core refuses to commit entries it does not hold.
    f) printf '%s' '  CommitTo(std::min(leader_commit, last_new));' > "$scratch/old"
       printf '%s' '  CommitTo(std::min(leader_commit, LastIndex()));' > "$scratch/new" ;;
    g) printf '%s' '  read_only_.Add(m.context(), log_.committed(), from, config_.id);
  BcastHeartbeat();' > "$scratch/old"
       printf '%s' '  ReadIndexRequest r;
  r.context = m.context();
  r.index = log_.committed();
  r.from = from;
  ServeReads({std::move(r)});' > "$scratch/new" ;;
    h) printf '%s' '  if (!CommittedEntryInCurrentTerm()) {
    return Status::Unavailable("no entry of this leader'"'"'s term has committed yet; retry");
  }' > "$scratch/old"
       printf '%s' '' > "$scratch/new" ;;
    i) printf '%s' '  while (!changes_.empty() && changes_.back().index >= from) changes_.pop_back();' \
         > "$scratch/old"
       printf '%s' '  (void)from;' > "$scratch/new" ;;
  esac
}

survived=0
printf '%-3s %-72s %-8s %s\n' id mutant result "caught by"
for id in a b c d e f g h i; do
  if [ -n "$only" ] && [[ ",$only," != *",$id,"* ]]; then continue; fi
  cp "$root/${file[$id]}" "$scratch/src/${file[$id]}"
  write_mutant "$id"
  mutate "${file[$id]}"
  if ! locked ninja -C "$scratch/build" raft-sim >"$scratch/build.log" 2>&1; then
    echo "mutant $id did not build:" >&2; tail -20 "$scratch/build.log" >&2; exit 2
  fi
  caught=""
  for nodes in 3 5; do
    out=$("$scratch/build/tests/raft/sim/raft-sim" --seeds "$seeds" --nodes "$nodes" --steps "$steps" \
          --quiet --stop-on-failure || true)
    line=$(grep -m1 'FAILED' <<<"$out" || true)
    if [ -n "$line" ]; then
      seed=$(sed -E 's/^seed ([0-9]+).*/\1/' <<<"$line")
      check=$(sed -E 's/.* check ([A-Za-z]+):.*/\1/' <<<"$line")
      caught="$check (seed $seed, $nodes nodes)"
      break
    fi
  done
  if [ -n "$caught" ]; then
    printf '%-3s %-72s %-8s %s\n' "$id" "${describe[$id]}" caught "$caught"
  else
    printf '%-3s %-72s %-8s %s\n' "$id" "${describe[$id]}" SURVIVED "-"
    survived=$((survived + 1))
  fi
  cp "$root/${file[$id]}" "$scratch/src/${file[$id]}"
done
if [ "$survived" -gt 0 ]; then
  echo "mutation test: $survived mutant(s) survived"
  exit 1
fi
echo "mutation test: every mutant caught"
