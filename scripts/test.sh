#!/usr/bin/env bash
# Builds siem-connector and runs the whole test suite (unit, component and heavy tests; ctest),
# then builds the Release type too (warnings as errors; what a packager builds). Installs what is
# missing first (Debian packages, via scripts/install-deps.sh). Idempotent: the second run only
# rebuilds what changed (ccache + Ninja).
#   SIEM_SANITIZE=1 scripts/test.sh   ASan + UBSan build in build-asan/
#   SIEM_FUZZ_SECONDS=N               how long each fuzz target runs (default 20; 0 skips fuzzing)
#   scripts/test.sh --matrix          also the Debug and clang sanitizer builds (scripts/build-matrix.sh)
#   scripts/test.sh --mutation        also the mutation harness (scripts/mutation.sh, ~25 min)
set -euo pipefail
cd "$(dirname "$0")/.."
matrix=0
mutation=0
for a in "$@"; do
  case "$a" in
    --matrix) matrix=1 ;;
    --mutation) mutation=1 ;;
    *) echo "usage: scripts/test.sh [--matrix] [--mutation]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh

build=build
extra=()
if [ "${SIEM_SANITIZE:-0}" = "1" ]; then
  build=build-asan
  extra+=(-DSIEM_SANITIZE=ON)
fi
jobs=${SIEM_JOBS:-2}

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIEM_WERROR=ON "${extra[@]}" >/dev/null
cmake --build "$build" -j"$jobs"
(cd "$build" && ctest --output-on-failure -j"$jobs" --timeout 300)
# The .deb, its maintainer scripts, the systemd unit and the Helm chart (a few seconds).
if [ "${SIEM_SANITIZE:-0}" != "1" ]; then
  scripts/check-packaging.sh "$build"
fi

fuzz_seconds=${SIEM_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" != "0" ] && [ "${SIEM_SANITIZE:-0}" != "1" ] && [ -x scripts/fuzz.sh ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi

if [ "${SIEM_SANITIZE:-0}" != "1" ]; then
  if [ $matrix = 1 ]; then scripts/build-matrix.sh release debug asan; else scripts/build-matrix.sh release; fi
fi
if [ $mutation = 1 ]; then
  scripts/mutation.sh
fi
