#!/usr/bin/env bash
# Runs the chaos soak (tests/soak/chaos, docs/testing.md "Chaos soak") against the real
# siem-connector binary, the Graph and HEC emulators, a real rsyslogd and librdkafka's mock cluster.
#   scripts/soak.sh                 the short form (the one ctest runs: ~3000 records, 3 SIGKILLs)
#   scripts/soak.sh --long          the release form: 50 000 records, 10 SIGKILLs, HEC dead 10 min on
#                                   its disk buffer (then the disk-buffer-full variant: Soak.DiskBufferFull*)
#   SIEM_SOAK_SEED=N scripts/soak.sh [--long]    replay a run (the seed is printed at the start)
# Any SIEM_SOAK_* variable set in the environment wins over the form's value (see tests/soak/chaos/soak_chaos_test.cc).
# The figures are printed at the end ("[soak] ..." lines); the whole log is kept in
# build/soak/last-<form>.log. Exits non-zero when the soak fails.
set -euo pipefail
cd "$(dirname "$0")/.."

form=short
case "${1:-}" in
  --long) form=long ;;
  ''|--short) ;;
  *) echo "usage: scripts/soak.sh [--short|--long]" >&2; exit 2 ;;
esac
jobs=${SIEM_JOBS:-2}

if [ "$form" = long ]; then
  export SIEM_SOAK_FILE_RECORDS=${SIEM_SOAK_FILE_RECORDS:-40000}
  export SIEM_SOAK_GRAPH_RECORDS=${SIEM_SOAK_GRAPH_RECORDS:-10000}
  export SIEM_SOAK_WRITE_SECONDS=${SIEM_SOAK_WRITE_SECONDS:-900}
  export SIEM_SOAK_KILLS=${SIEM_SOAK_KILLS:-10}
  export SIEM_SOAK_DEAD_SECONDS=${SIEM_SOAK_DEAD_SECONDS:-600}
  export SIEM_SOAK_DRAIN_SECONDS=${SIEM_SOAK_DRAIN_SECONDS:-600}
  export SIEM_SOAK_HEC_BUFFER_MB=${SIEM_SOAK_HEC_BUFFER_MB:-256}   # holds the 10-minute outage (~100 MiB)
  limit=5400   # the whole run is bounded: 90 minutes
else
  limit=300
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIEM_WERROR=ON >/dev/null
cmake --build build --target siem-connector soak_test -j"$jobs"

# The run uses copies of the binaries: a rebuild in build/ during a long run changes nothing under test.
bin=build/soak/bin-$form
rm -rf "$bin" && mkdir -p "$bin"
cp build/siem-connector build/tests/soak/chaos/soak_test "$bin"/
export SIEM_CONNECTOR_BINARY=$PWD/$bin/siem-connector
log=build/soak/last-$form.log
echo "scripts/soak.sh${1:+ $1}: log in $log (binaries of $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
status=0
timeout -k 30 "$limit" "$bin"/soak_test 2>&1 | tee "$log" || status=$?
grep '^\[soak\]' "$log" | sed -n '/figures/,$p' || true
exit "$status"
