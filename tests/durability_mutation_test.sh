#!/usr/bin/env bash
# Shows the durability checks have teeth (DESIGN.md §10): applies durability bugs, one at a time,
# to a scratch copy of the sources, builds only the storage tests there, and runs the crash tests
# that go through CrashFileSystem (unsynced bytes thrown away at the simulated crash). Every mutant
# must make its check fail; the table says which. Production code carries no switch for these
# bugs: each is a textual edit of the pristine file.
#
#   tests/durability_mutation_test.sh [--only ID,...] [--process CLUSTER_TESTS]
# With --process, each mutant is also built into pharosd-crashable (pharosd with its RocksDB I/O
# through CrashFileSystem, SIGUSR2 a power cut) and the power-cut process test runs against it:
# CLUSTER_TESTS is an already built cluster_tests binary (e.g. build/tests/cluster/cluster_tests),
# pointed at the mutant through PHAROS_CRASHABLE_PHAROSD.
# Exit 0 when every mutant is caught, 1 when one survives, 2 on a setup error. With
# MUTATION_BUILD_LOCK=FILE, configure and build steps run under `flock FILE`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
only=""
process_tests=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --process) process_tests=$(realpath "$2"); shift 2 ;;
    *) echo "usage: $0 [--only ID,...] [--process CLUSTER_TESTS]" >&2; exit 2 ;;
  esac
done
if [ -n "$process_tests" ] && [ ! -x "$process_tests" ]; then
  echo "--process: $process_tests is not a built cluster_tests binary" >&2; exit 2
fi

scratch=$(mktemp -d /tmp/pharos-durability-mutants.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
cp -r "$root/CMakeLists.txt" "$root/proto" "$root/common" "$root/raft" "$root/kvstore" \
  "$root/registry" "$root/tests" "$scratch/src/"
sed -i -E '/^add_subdirectory\((proto|common|raft|kvstore|registry|tests)\)$/!{/^add_subdirectory\(/d}; /^add_test\(NAME clang_format/d' \
  "$scratch/src/CMakeLists.txt"
cat > "$scratch/src/tests/CMakeLists.txt" <<'CMAKE'
add_library(crash_file_system STATIC raft/crash_file_system.cc)
target_link_libraries(crash_file_system PUBLIC ${ROCKSDB_LIBRARY})
add_executable(durability_tests raft/log_store_durability_test.cc kvstore/kv_durability_test.cc)
target_link_libraries(durability_tests PRIVATE crash_file_system pharos_raft_logstore
                                               pharos_kvstore GTest::gtest_main)
add_executable(pharosd-crashable cluster/crashable_pharosd_main.cc)
target_link_libraries(pharosd-crashable PRIVATE pharos_registry crash_file_system)
CMAKE
targets=durability_tests
[ -n "$process_tests" ] && targets="durability_tests pharosd-crashable"
process_check=PowerCutTest.EveryAcknowledgedWriteSurvivesPowerCutsOfEveryMember
# shellcheck source=tests/mutation_helpers.sh
source "$root/tests/mutation_helpers.sh"
configure_scratch

declare -A describe file check
describe[log-unsynced]="the Raft log written with sync=false"
file[log-unsynced]=raft/log_store.cc
check[log-unsynced]=LogStoreDurabilityTest.EveryAcknowledgedEntrySurvivesACrashThatDropsUnsyncedBytes
describe[kv-split-batch]="the applied index written apart from the entry's data"
file[kv-split-batch]=kvstore/mvcc_store.cc
check[kv-split-batch]=KvDurabilityTest.RecoveryAfterACrashThatDropsUnsyncedBytesAppliesEveryDurableEntryOnce
describe[kv-no-wal]="the log compacted below KV writes not yet durable (KV writes without the WAL)"
file[kv-no-wal]=kvstore/mvcc_store.cc
check[kv-no-wal]=KvDurabilityTest.RecoveryAfterACrashThatDropsUnsyncedBytesAppliesEveryDurableEntryOnce

write_mutant() {
  case "$1" in
    log-unsynced)
      printf '%s' '    sync |= p.write.sync;' > "$scratch/old"
      printf '%s' '    // mutant: appends are never synced' > "$scratch/new" ;;
    kv-split-batch)
      printf '%s' '  batch->Put(cf_.meta, kAppliedKey, U64(index));
  batch->Put(cf_.meta, kRevisionKey, U64(static_cast<uint64_t>(revision)));' \
        > "$scratch/old"
      printf '%s' '  rocksdb::WriteOptions wo;
  rocksdb::WriteBatch applied;
  applied.Put(cf_.meta, kAppliedKey, U64(index));
  applied.Put(cf_.meta, kRevisionKey, U64(static_cast<uint64_t>(revision)));
  if (Status s = FromRocks(db_->Write(wo, &applied), "applying to kv"); !s.ok()) return s;' \
        > "$scratch/new" ;;
    kv-no-wal)
      printf '%s' '  rocksdb::WriteOptions wo;  // WAL on, not synced: the synced Raft log write carries it' \
        > "$scratch/old"
      printf '%s' '  rocksdb::WriteOptions wo;
  wo.disableWAL = true;' > "$scratch/new" ;;
  esac
}

# The pristine tree must pass, or a "caught" mutant proves nothing.
if ! locked ninja -C "$scratch/build" $targets >"$scratch/build.log" 2>&1; then
  echo "the pristine tree did not build:" >&2; tail -20 "$scratch/build.log" >&2; exit 2
fi
if ! "$scratch/build/tests/durability_tests" >"$scratch/pristine.log" 2>&1; then
  echo "the pristine tree fails its durability tests:" >&2; tail -20 "$scratch/pristine.log" >&2
  exit 2
fi
# The power-cut test against a mutant build; prints caught / SURVIVED.
process_result() {
  if PHAROS_CRASHABLE_PHAROSD="$scratch/build/tests/pharosd-crashable" "$process_tests" \
       --gtest_filter="*${process_check}*" >"$scratch/process.log" 2>&1; then
    echo SURVIVED
  else
    echo caught
  fi
}
if [ -n "$process_tests" ] && [ "$(process_result)" != SURVIVED ]; then
  echo "the pristine tree fails the power-cut process test:" >&2
  grep -m5 -B2 -A8 Failure "$scratch/process.log" >&2; exit 2
fi

survived=0
printf '%-14s %-75s %-9s %s\n' id mutant result "caught by"
for id in log-unsynced kv-split-batch kv-no-wal; do
  if [ -n "$only" ] && [[ ",$only," != *",$id,"* ]]; then continue; fi
  cp "$root/${file[$id]}" "$scratch/src/${file[$id]}"
  write_mutant "$id"
  mutate "${file[$id]}"
  if ! locked ninja -C "$scratch/build" $targets >"$scratch/build.log" 2>&1; then
    echo "mutant $id did not build:" >&2; tail -20 "$scratch/build.log" >&2; exit 2
  fi
  if "$scratch/build/tests/durability_tests" --gtest_filter="${check[$id]}" \
       >"$scratch/run.log" 2>&1; then
    printf '%-14s %-75s %-9s %s\n' "$id" "${describe[$id]}" SURVIVED "-"
    survived=1
  else
    # The first assertion that failed, in the test's own words.
    why=$(grep -m1 -A3 'Failure' "$scratch/run.log" | grep -m1 -E 'round|lost|Expected|compacted' \
          | cut -c1-90 || true)
    printf '%-14s %-75s %-9s %s\n' "$id" "${describe[$id]}" caught "${check[$id]%%.*}: $why"
  fi
  if [ -n "$process_tests" ]; then
    result=$(process_result)
    why=$(grep -m1 -A3 'Failure' "$scratch/process.log" | grep -m1 -E 'gone|went back|holds|revision' \
          | cut -c1-90 || true)
    printf '%-14s %-75s %-9s %s\n' "" "  the same bug in pharosd, power cuts of every member" \
      "$result" "${process_check%%.*}${why:+: $why}"
  fi
  cp "$root/${file[$id]}" "$scratch/src/${file[$id]}"
done
exit $survived
