#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang + ASan/UBSan in build-fuzz/ and runs each
# for a bounded time on a fresh copy of its seed corpus. Exits non-zero when any target finds a
# crash, leak, timeout or out-of-memory, printing the reproducer path.
#   scripts/fuzz.sh [SECONDS]          seconds per target (default 20)
#   SIEM_FUZZ_TARGETS="fuzz_cef_encoder"   run only these targets (default: all)
#   SIEM_JOBS=N                        build parallelism (default 2)
# Reproduce a finding: build-fuzz/tests/fuzz/<target> <reproducer file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
case "$seconds" in
  ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac
jobs=${SIEM_JOBS:-2}
build=build-fuzz
all_targets=(fuzz_record_reader fuzz_cef_encoder fuzz_config fuzz_syslog_format fuzz_mapping_override fuzz_page_reader)
read -r -a targets <<<"${SIEM_FUZZ_TARGETS:-${all_targets[*]}}"

scripts/install-deps.sh  # clang and libclang-rt (libFuzzer, sanitizer runtimes) are listed there

# Only the fuzz targets and the libraries they link are built (not the app, sinks or tools).
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSIEM_FUZZ=ON -DSIEM_TESTS=OFF -DSIEM_BENCH=OFF -DSIEM_WERROR=ON >/dev/null
cmake --build "$build" --target "${targets[@]}" -j"$jobs"

runs="$build/fuzz-runs"
failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  seeds="tests/fuzz/corpus/$t"
  work="$runs/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  [ -d "$seeds" ] && cp -R "$seeds/." "$work/corpus/"
  echo "fuzz: $t for ${seconds}s (seeds: $(find "$work/corpus" -type f | wc -l))"
  status=0
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    echo "fuzz: $t FAILED (exit $status); last lines of $work/log:" >&2
    tail -n 40 "$work/log" >&2
    for a in "$work"/artifacts/*; do
      [ -e "$a" ] && echo "fuzz: reproducer: $a   (rerun: $bin $a)" >&2
    done
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/log" | sed "s/^/fuzz: $t /" || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no findings"
