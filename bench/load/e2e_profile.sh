#!/usr/bin/env bash
# End-to-end cost per event of the real binary, by stage (docs/performance.md, "End to end"):
# `siem-connector run --once` with a file source over INPUT (e.g. siem-load --generate-only) and a
# syslog TCP sink (a receiver on 127.0.0.1 keeps the bytes in WORK/out.txt) or a file sink.
#
#   bench/load/e2e_profile.sh callgrind CONNECTOR ecs|cef tcp|tcp-octet|file INPUT WORK
#       instructions per event of the whole run, without start-up (build_pipeline), and per thread
#   bench/load/e2e_profile.sh cpu CONNECTOR ecs|cef tcp|tcp-octet|file INPUT WORK
#       the run's user and system CPU seconds (GNU time), events per CPU-second and peak RSS
#   bench/load/e2e_profile.sh perf CONNECTOR ecs|cef tcp|tcp-octet|file INPUT WORK
#       a `perf record -e cpu-clock --call-graph dwarf` profile of the run, kernel included, in WORK/perf.data
#       and each thread's share of the samples with the parts docs/performance.md tabulates
#       (read it further with `perf report -i WORK/perf.data --no-children --sort dso,sym`)
set -euo pipefail
mode=$1 connector=$(realpath "$2") format=$3 dest=$4 input=$(realpath "$5") work=$(realpath -m "$6")
records=$(grep -c '' "$input")
rm -rf "$work" && mkdir -p "$work"

port=0
if [[ $dest != file ]]; then
  # Accepts connections one after another, appends their bytes to out.txt, and ends after the first
  # one that sent data closes (the connector's sink stops at the end of --once); 120 s idle at most.
  python3 - "$work/port" "$work/out.txt" <<'EOF' &
import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4); s.settimeout(120)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
with open(sys.argv[2], "wb") as f:
    while True:
        c, _ = s.accept(); got = 0
        while (d := c.recv(1 << 20)):
            f.write(d); got += len(d)
        c.close()
        if got: break
EOF
  receiver=$!
  for _ in $(seq 100); do [[ -f $work/port ]] && break; sleep 0.05; done
  port=$(cat "$work/port")
fi
case $dest in
  tcp) sink="{name: out, type: syslog, format: $format, host: 127.0.0.1, port: $port, protocol: tcp, framing: lf}" ;;
  tcp-octet) sink="{name: out, type: syslog, format: $format, host: 127.0.0.1, port: $port, protocol: tcp, framing: octet_counting}" ;;
  file) sink="{name: out, type: file, format: $format, path: $work/out.txt}" ;;
  *) echo "destination is tcp, tcp-octet or file" >&2; exit 2 ;;
esac
printf 'state_dir: %s/state\ndead_letter: {path: %s/dead-letter.ndjson}\nsources:\n  - {name: in, type: file, path: %s}\nsinks:\n  - %s\n' \
  "$work" "$work" "$input" "$sink" >"$work/config.yaml"

wrapper=()
[[ $mode == callgrind ]] && wrapper=(valgrind --tool=callgrind "--callgrind-out-file=$work/callgrind.out")
[[ $mode == perf ]] && wrapper=(perf record -q -e cpu-clock -F 10000 --call-graph dwarf,16384 -o "$work/perf.data" --)
status=0
/usr/bin/time -f "%U %S %M" -o "$work/time.txt" "${wrapper[@]}" "$connector" run -c "$work/config.yaml" --once \
  >"$work/stdout" 2>"$work/stderr" || status=$?
[[ $dest != file ]] && wait "$receiver"
[[ $status -eq 0 ]] || { echo "the connector exited with $status; see $work/stderr" >&2; exit 1; }

if [[ $mode == cpu || $mode == perf ]]; then
  read -r user sys rss <"$work/time.txt"
  awk -v u="$user" -v s="$sys" -v m="$rss" -v n="$records" \
    'BEGIN { printf "%d records: user %.2f s, sys %.2f s, %.0f events per CPU-second, peak RSS %.1f MiB\n", n, u, s, n / (u + s), m / 1024 }'
  [[ $mode == perf ]] || exit 0
  # A sample belongs to the thread whose loop is under it; a part, to the frames it contains.
  perf script -i "$work/perf.data" -F ip,sym --no-inline 2>/dev/null | python3 -c '
import sys
samples, cur = [], []
for line in sys.stdin:
    parts = line.split(None, 1)
    if not parts:
        if cur: samples.append(cur)
        cur = []
    elif len(parts) == 2: cur.append(parts[1].strip())
if cur: samples.append(cur)
total = len(samples) or 1
threads = {"mapping": "Pipeline::processing_loop", "sink": "SinkRunner::run", "source": "Pipeline::source_loop"}
parts = {"mapping": {"parse": ["parse_into_document"], "string growth": ["_M_mutate"], "memmove (self)": [None]},
         "sink": {"tcp_sendmsg": ["tcp_sendmsg"], "framing": ["append_message"], "event free": ["_M_dispose"]},
         "source": {"pread": ["pread"], "record copies": ["RecordSlice"]}}
rest = total
for name, loop in threads.items():
    mine = [s for s in samples if any(loop in f for f in s)]
    rest -= len(mine)
    line = f"  {name} thread {100 * len(mine) / total:.1f} %:"
    for part, keys in parts[name].items():
        n = sum(1 for s in mine if (s[0].startswith("__memmove") if keys == [None] else any(k in f for f in s for k in keys)))
        line += f" {part} {100 * n / total:.1f} %,"
    print(line.rstrip(","))
print(f"  start-up, checkpoint commits, other {100 * rest / total:.1f} % ({total} samples)")
'
  exit 0
fi
total=$(grep -o 'Collected : [0-9]*' "$work/stderr" | awk '{print $3}')
annotated=$(callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null)
inclusive() { echo "$annotated" | grep -m1 -F "$1" | awk '{gsub(",", "", $1); print $1 + 0}'; }
awk -v n="$records" -v t="$total" -v s="$(inclusive 'build_pipeline(')" -v src="$(inclusive 'FileSource::poll(')" \
  -v p="$(inclusive 'Pipeline::processing_loop()')" -v m="$(( $(inclusive 'MapperImpl::prepare(') + $(inclusive 'ReloadableMapper::enrich(') + $(inclusive 'MapperImpl::finish(') ))" \
  -v k="$(inclusive 'SinkRunner::run()')" 'BEGIN {
    printf "%d records: %.1f k instructions per event, %.1f k without start-up (%.0f M once)\n", n, t/n/1e3, (t-s)/n/1e3, s/1e6
    printf "  source thread %.1f k, mapping thread %.1f k (prepare + enrich + finish %.1f k), sink thread %.1f k\n", src/n/1e3, p/n/1e3, m/n/1e3, k/n/1e3 }'
