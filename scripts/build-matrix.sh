#!/usr/bin/env bash
# Builds siem-connector in the other build types, every target (tests and benchmarks included),
# with warnings as errors, so that no build type a packager or a developer picks is broken:
#   release   GCC, -DCMAKE_BUILD_TYPE=Release (-O3)          in build-release/
#   debug     GCC, -DCMAKE_BUILD_TYPE=Debug (-O0 -g)         in build-debug/
#   asan      clang, -DSIEM_SANITIZE=ON (ASan + UBSan)       in build-asan-clang/
# RelWithDebInfo is scripts/test.sh's own build (SIEM_SANITIZE=1 scripts/test.sh runs the suite
# sanitized with the default compiler). Compiles and links only. ccache makes a second run cheap.
#   scripts/build-matrix.sh              release debug asan
#   scripts/build-matrix.sh release      only the named ones
#   SIEM_JOBS=N (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SIEM_JOBS:-2}
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(release debug asan)

for t in "${types[@]}"; do
  case "$t" in
    release) dir=build-release; env=(); flags=(-DCMAKE_BUILD_TYPE=Release) ;;
    debug) dir=build-debug; env=(); flags=(-DCMAKE_BUILD_TYPE=Debug) ;;
    asan) dir=build-asan-clang; env=(CC=clang CXX=clang++); flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIEM_SANITIZE=ON) ;;
    *) echo "build-matrix: unknown build '$t' (release, debug, asan)" >&2; exit 2 ;;
  esac
  echo "build-matrix: $t in $dir"
  start=$(date +%s)
  env "${env[@]}" cmake -S . -B "$dir" -G Ninja -DSIEM_WERROR=ON "${flags[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs"
  echo "build-matrix: $t built in $(( $(date +%s) - start )) s"
done
