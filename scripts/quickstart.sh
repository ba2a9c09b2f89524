#!/usr/bin/env bash
# Builds siem-connector and runs the main job once on the bundled quickstart configuration:
# realistic Entra ID / Azure privileged-access activity, mapped to CEF on the terminal and to ECS
# in build/quickstart/events.ecs.ndjson, then a summary (events per source, detection and sink).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${SIEM_JOBS:-2}" --target siem-connector

# Every quickstart run starts from scratch so it always shows the whole data set.
rm -rf build/quickstart
mkdir -p build/quickstart

emulator_pid=""
cleanup() { [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true; }
trap cleanup EXIT
if grep -q 'siem-emulator' config/quickstart.yaml && [ -x build/siem-emulator ]; then
  build/siem-emulator --listen 127.0.0.1:0 --port-file build/quickstart/emulator.port \
    --pki-dir build/quickstart/pki &
  emulator_pid=$!
  for _ in $(seq 1 100); do [ -s build/quickstart/emulator.port ] && break; sleep 0.1; done
  export SIEM_EMULATOR_URL="https://127.0.0.1:$(cat build/quickstart/emulator.port)"
fi

status=0
build/siem-connector run -c config/quickstart.yaml --once || status=$?
echo
echo "ECS events written to build/quickstart/events.ecs.ndjson ($(wc -l < build/quickstart/events.ecs.ndjson 2>/dev/null || echo 0) lines)"
# Exit status 3 means "done, some records were dead-lettered": the quickstart data has none.
exit "$status"
