#!/usr/bin/env bash
# Mutation harness: proves the tests notice when a guarantee breaks. Each tests/mutation/*.patch is
# one small deliberate bug (a unified diff against the source tree) with a header naming it:
#   # behaviour: <the guarantee it breaks>
#   # tests: <ctest -R regex of the tests that must catch it>
#   # targets: <the build targets those tests need, space-separated>
# The harness copies the working tree to a scratch directory (build-mutation/src; the checkout is
# never modified), builds and runs every mutant's tests once unmutated (they must pass), then per
# mutant: applies it, rebuilds its targets, runs its tests, restores the file(s). A mutant is
# "killed" when a test fails, "SURVIVED" when they all pass, "NO-BUILD"/"NO-APPLY" otherwise.
# Prints a table and writes it to build-mutation/mutation-report.md; exits 1 unless all are killed.
#   scripts/mutation.sh                 every mutant
#   scripts/mutation.sh ack retry       only mutants whose file name contains one of the words
#   scripts/mutation.sh --list          the mutants and what they break
#   SIEM_JOBS=N (default 2)  SIEM_MUTATION_DIR (default build-mutation)  SIEM_MUTATION_TEST_TIMEOUT (s, default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${SIEM_JOBS:-2}
work=${SIEM_MUTATION_DIR:-$root/build-mutation}
test_timeout=${SIEM_MUTATION_TEST_TIMEOUT:-300}

header() { sed -n "s/^# $2: *//p" "$1" | head -n1; }

mutants=()
list=0
filters=()
for a in "$@"; do
  if [ "$a" = "--list" ]; then list=1; else filters+=("$a"); fi
done
for p in tests/mutation/*.patch; do
  name=$(basename "$p" .patch)
  if [ ${#filters[@]} -gt 0 ]; then
    keep=0
    for f in "${filters[@]}"; do [[ "$name" == *"$f"* ]] && keep=1; done
    [ $keep = 1 ] || continue
  fi
  for h in behaviour tests targets; do
    if [ -z "$(header "$p" $h)" ]; then echo "mutation: $p has no '# $h:' line" >&2; exit 2; fi
  done
  mutants+=("$p")
done
if [ ${#mutants[@]} -eq 0 ]; then echo "mutation: no mutant matches" >&2; exit 2; fi
if [ $list = 1 ]; then
  for p in "${mutants[@]}"; do printf '%-40s %s\n' "$(basename "$p" .patch)" "$(header "$p" behaviour)"; done
  exit 0
fi

# Scratch copy of the working tree (tracked and untracked files, not ignored ones such as build/),
# built in src/build: the same layout as build/ in the checkout, so ccache (base_dir) reuses the
# checkout's objects and only mutated files compile.
src=$work/src
bld=$src/build
mkdir -p "$src"
find "$src" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$src"
cmake -S "$src" -B "$bld" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIEM_WERROR=ON -DSIEM_BENCH=OFF >"$work/configure.log"

run_tests() {  # regex -> 0 when every matching test passed (and at least one ran)
  local out
  out=$(cd "$bld" && ctest -R "$1" --timeout "$test_timeout" -j"$jobs" 2>&1) && status=0 || status=$?
  echo "$out" >"$work/last-ctest.log"
  if echo "$out" | grep -q "No tests were found"; then return 2; fi
  return $status
}

# Baseline: unmutated, every mutant's tests build and pass.
all_targets=$(for p in "${mutants[@]}"; do header "$p" targets; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
echo "mutation: baseline build ($all_targets)"
cmake --build "$bld" -j"$jobs" --target $all_targets >"$work/baseline-build.log" 2>&1 ||
  { echo "mutation: baseline build failed, see $work/baseline-build.log" >&2; exit 2; }
echo "mutation: baseline tests"
# One ctest run per distinct regex (ctest's regular expressions cannot hold the union).
while IFS= read -r regex; do
  if ! run_tests "$regex"; then
    echo "mutation: '$regex' fails (or matches nothing) without any mutant; see $work/last-ctest.log" >&2
    exit 2
  fi
done < <(for p in "${mutants[@]}"; do header "$p" tests; done | sort -u)

report=$work/mutation-report.md
start_all=$(date +%s)
{
  echo "| mutant | behaviour it breaks | tests | result | time |"
  echo "|---|---|---|---|---|"
} >"$report"
failed=0
for p in "${mutants[@]}"; do
  name=$(basename "$p" .patch)
  behaviour=$(header "$p" behaviour)
  tests=$(header "$p" tests)
  targets=$(header "$p" targets)
  t0=$(date +%s)
  result=killed
  if ! (cd "$src" && git apply "$root/$p" 2>"$work/$name.apply.log"); then
    result=NO-APPLY
  else
    if ! cmake --build "$bld" -j"$jobs" --target $targets >"$work/$name.build.log" 2>&1; then
      result=NO-BUILD
    else
      if run_tests "$tests"; then result=SURVIVED; else
        rc=$?
        [ $rc = 2 ] && result=NO-TESTS
        cp "$work/last-ctest.log" "$work/$name.ctest.log"
      fi
    fi
    (cd "$src" && git apply -R "$root/$p")
  fi
  secs=$(( $(date +%s) - t0 ))
  [ "$result" = killed ] || failed=1
  printf '%-44s %-9s %4ss  %s\n' "$name" "$result" "$secs" "$behaviour"
  echo "| $name | ${behaviour//|/\\|} | \`${tests//|/\\|}\` | $result | ${secs} s |" >>"$report"
done
# Leave the scratch build unmutated (the restored sources rebuilt) for the next run.
cmake --build "$bld" -j"$jobs" --target $all_targets >"$work/restore-build.log" 2>&1 || true
total=$(( $(date +%s) - start_all ))
echo "" >>"$report"
echo "${#mutants[@]} mutant(s) in ${total} s (after the baseline)" >>"$report"
echo "mutation: ${#mutants[@]} mutant(s) in ${total} s; table in $report"
exit $failed
