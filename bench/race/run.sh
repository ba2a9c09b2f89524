#!/usr/bin/env bash
# The side-by-side race of docs/performance.md ("Race against syslog-ng"): builds the connector and
# the input generator, makes syslog-ng available without installing it (Debian's syslog-ng-core
# conflicts with the rsyslog the tests use, so its package is unpacked under build/race), and runs
# bench/race/race.py. Arguments go to race.py, e.g.:
#   bench/race/run.sh --records 200000 --rounds 3 --rsyslog
#   bench/race/run.sh --shape envelopes --rounds 3
#   bench/race/run.sh --source eventhub_kafka --rounds 3   (the envelopes through the mock cluster)
#   bench/race/run.sh --dead-sink 120                      (RSS while the sink takes nothing)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${SIEM_BUILD_DIR:-build}
root="$build/race/syslog-ng-root"

if [[ ! -x "$root/usr/sbin/syslog-ng" ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    # syslog-ng's own libraries (none of them conflicts with rsyslog).
    dpkg -s libivykis0 libnet1 libwrap0 libjson-c5 >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq libivykis0 libnet1 libwrap0 libjson-c5 >/dev/null; }
  fi
  mkdir -p "$build/race/deb"
  (cd "$build/race/deb" && apt-get download syslog-ng-core 2>/dev/null)
  dpkg -x "$build"/race/deb/syslog-ng-core_*.deb "$root"
fi

cmake --build "$build" -j2 --target siem-connector siem-load siem-mock-kafka >/dev/null
exec python3 bench/race/race.py --connector "$build/siem-connector" --load "$build/bench/load/siem-load" \
  --syslog-ng "$root" --mock-kafka "$build/bench/race/siem-mock-kafka" --work "$build/race/work" "$@"
