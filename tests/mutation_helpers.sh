# Shared by the mutation scripts (tests/raft/mutation_test.sh, tests/durability_mutation_test.sh),
# sourced once $scratch holds the copied sources in $scratch/src:
#   locked CMD...      runs CMD under `flock $MUTATION_BUILD_LOCK` when that is set, so the
#                      script's compiles never overlap other builds on a shared machine
#   configure_scratch  configures $scratch/build from $scratch/src (Ninja, ccache across copies)
#   mutate FILE        replaces the text in $scratch/old with $scratch/new in $scratch/src/FILE,
#                      exactly once (an anchor found zero or several times is a setup error)
locked() {
  if [ -n "${MUTATION_BUILD_LOCK:-}" ]; then flock "$MUTATION_BUILD_LOCK" "$@"; else "$@"; fi
}

configure_scratch() {
  export CCACHE_BASEDIR="$scratch"
  locked cmake -S "$scratch/src" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >/dev/null
}

mutate() {
  python3 - "$scratch/src/$1" "$scratch/old" "$scratch/new" <<'PY'
import sys
path, old, new = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
text = open(path).read()
if text.count(old) != 1:
    sys.exit("mutation anchor not found exactly once in " + path)
open(path, "w").write(text.replace(old, new))
PY
}
