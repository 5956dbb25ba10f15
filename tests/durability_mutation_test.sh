#!/usr/bin/env bash
# Shows the durability checks have teeth (DESIGN.md §10): applies durability bugs, one at a time,
# to a scratch copy of the sources, builds only the storage tests there, and runs the crash tests
# that go through CrashFileSystem (unsynced bytes thrown away at the simulated crash). Every mutant
# must make its check fail; the table says which. Production code carries no switch for these
# bugs: each is a textual edit of the pristine file.
#
#   tests/durability_mutation_test.sh [--only ID,...]
# Exit 0 when every mutant is caught, 1 when one survives, 2 on a setup error. With
# MUTATION_BUILD_LOCK=FILE, configure and build steps run under `flock FILE`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--only ID,...]" >&2; exit 2 ;;
  esac
done

scratch=$(mktemp -d /tmp/pharos-durability-mutants.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
cp -r "$root/CMakeLists.txt" "$root/proto" "$root/common" "$root/raft" "$root/kvstore" \
  "$root/tests" "$scratch/src/"
sed -i -E '/^add_subdirectory\((proto|common|raft|kvstore|tests)\)$/!{/^add_subdirectory\(/d}; /^add_test\(NAME clang_format/d' \
  "$scratch/src/CMakeLists.txt"
cat > "$scratch/src/tests/CMakeLists.txt" <<'CMAKE'
add_executable(durability_tests raft/log_store_durability_test.cc kvstore/kv_durability_test.cc
                                raft/crash_file_system.cc)
target_link_libraries(durability_tests PRIVATE pharos_raft_logstore pharos_kvstore
                                               GTest::gtest_main)
CMAKE
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
      printf '%s' '  for (const Pending& p : batch) wo.sync |= p.write.sync || p.compact.has_value();' \
        > "$scratch/old"
      printf '%s' '  // mutant: nothing is synced' > "$scratch/new" ;;
    kv-split-batch)
      printf '%s' '  batch->Put(cf_.meta, kAppliedKey, U64(index));
  batch->Put(cf_.meta, kRevisionKey, U64(static_cast<uint64_t>(revision)));
  rocksdb::WriteOptions wo;  // WAL on, not synced: the synced Raft log write carries it' \
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
if ! locked ninja -C "$scratch/build" durability_tests >"$scratch/build.log" 2>&1; then
  echo "the pristine tree did not build:" >&2; tail -20 "$scratch/build.log" >&2; exit 2
fi
if ! "$scratch/build/tests/durability_tests" >"$scratch/pristine.log" 2>&1; then
  echo "the pristine tree fails its durability tests:" >&2; tail -20 "$scratch/pristine.log" >&2
  exit 2
fi

survived=0
printf '%-14s %-75s %-9s %s\n' id mutant result "caught by"
for id in log-unsynced kv-split-batch kv-no-wal; do
  if [ -n "$only" ] && [[ ",$only," != *",$id,"* ]]; then continue; fi
  cp "$root/${file[$id]}" "$scratch/src/${file[$id]}"
  write_mutant "$id"
  mutate "${file[$id]}"
  if ! locked ninja -C "$scratch/build" durability_tests >"$scratch/build.log" 2>&1; then
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
  cp "$root/${file[$id]}" "$scratch/src/${file[$id]}"
done
exit $survived
