#!/usr/bin/env bash
# Builds siem-connector and the Graph/ARM emulator, starts the emulator on 127.0.0.1 (HTTPS, with a
# CA generated into build/quickstart/pki, seeded with the privileged-access scenario of
# config/quickstart-data), and runs the main job once on config/quickstart.yaml: it pulls directory
# audits, every sign-in type, PIM requests and roster, the Azure Activity Log and the security
# alerts (Graph alerts_v2, Defender for Cloud) from the emulator,
# prints CEF to the terminal, writes ECS to build/quickstart/events.ecs.ndjson, and ends with a
# summary (events per source, detection and sink). The emulator is stopped on exit. Every run
# starts from an empty build/quickstart (checkpoints included), so a second run shows the same.
#   SIEM_JOBS=N                  build parallelism (default 2)
#   SIEM_QUICKSTART_TIMEOUT=S    upper bound for the run in seconds (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${SIEM_JOBS:-2}" --target siem-connector siem-emulator

# Every quickstart run starts from scratch so it always shows the whole data set.
rm -rf build/quickstart
mkdir -p build/quickstart

emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if grep -q 'SIEM_EMULATOR_URL\|siem-emulator' config/quickstart.yaml; then
  if [ ! -x build/siem-emulator ]; then
    echo "quickstart: config/quickstart.yaml needs build/siem-emulator, which was not built" >&2
    exit 1
  fi
  # A fresh client secret per run; the connector reads it from SIEM_EMULATOR_SECRET.
  SIEM_EMULATOR_SECRET="qs-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  export SIEM_EMULATOR_SECRET
  build/siem-emulator --listen 127.0.0.1:0 --port-file build/quickstart/emulator.port \
    --pki-dir build/quickstart/pki --client-secret "$SIEM_EMULATOR_SECRET" \
    --subscription dfa2a084-766f-4003-8ae1-c4aeb893a99f \
    --seed-file config/quickstart-data/privileged-scenario.ndjson \
    --seed-file config/quickstart-data/graph-directory-audits.json \
    --seed-file config/quickstart-data/graph-signins.json \
    --seed-file config/quickstart-data/graph-pim-requests.json \
    --seed-file config/quickstart-data/arm-activity.json \
    >build/quickstart/emulator.log 2>&1 &
  emulator_pid=$!
  for _ in $(seq 1 100); do
    [ -s build/quickstart/emulator.port ] && break
    kill -0 "$emulator_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -s build/quickstart/emulator.port ]; then
    echo "quickstart: the emulator did not start within 10s; its log:" >&2
    cat build/quickstart/emulator.log >&2 || true
    exit 1
  fi
  SIEM_EMULATOR_URL="https://127.0.0.1:$(cat build/quickstart/emulator.port)"
  # Relative paths in the config are resolved against the config file's directory.
  SIEM_EMULATOR_CA=../build/quickstart/pki/ca.pem
  export SIEM_EMULATOR_URL SIEM_EMULATOR_CA
  echo "quickstart: emulator listening on $SIEM_EMULATOR_URL" >&2
fi

status=0
timeout --kill-after=30 "${SIEM_QUICKSTART_TIMEOUT:-300}" \
  build/siem-connector run -c config/quickstart.yaml --once || status=$?
if [ "$status" -eq 124 ]; then
  echo "quickstart: the run did not finish within ${SIEM_QUICKSTART_TIMEOUT:-300}s" >&2
fi
echo
echo "ECS events written to build/quickstart/events.ecs.ndjson ($(wc -l < build/quickstart/events.ecs.ndjson 2>/dev/null || echo 0) lines)"
# Exit status 3 means "done, some records were dead-lettered": the quickstart data has none.
exit "$status"
