#!/usr/bin/env bash
# Builds siem-connector and runs the whole test suite (unit, component and heavy tests; ctest).
# Installs what is missing first (Debian packages, via scripts/install-deps.sh). Idempotent: the
# second run only rebuilds what changed (ccache + Ninja).
#   SIEM_SANITIZE=1 scripts/test.sh   ASan + UBSan build in build-asan/
#   SIEM_FUZZ_SECONDS=N               how long each fuzz target runs (default 20; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

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
