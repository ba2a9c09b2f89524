#!/usr/bin/env python3
"""Side-by-side race: siem-connector against syslog-ng (and rsyslog) on the same input.

Every contender reads the same generated file (the realistic mix of siem-load) and sends one
line per record to the same counting TCP receiver on 127.0.0.1 (or writes a file), A B A B in
one run. syslog-ng and rsyslog parse each record as JSON and fill a 15-field CEF template; the
connector runs its full mapping and privileged-access enrichment (CEF and ECS). Reported per
contender and run: events per CPU-second (user+sys of the contender's process, from wait4),
wall events/s (launch to last event received), peak RSS; then, per round, each connector
format's ratio to syslog-ng, and the median over rounds. Peak RSS is wait4's ru_maxrss, which also
counts the memory of the process a child was started from (this one: ~14 MiB), so the race keeps
nothing large in memory.

Modes: `--baseline BINARY` races another build of the connector too (baseline-cef/-ecs);
`--source eventhub_kafka` reads the envelopes through librdkafka's mock cluster (eventhub_leg.py);
`--dead-sink SECONDS` measures RSS while the sink takes nothing, instead of racing (dead_sink.py).

Run through bench/race/run.sh, which builds what is needed and unpacks syslog-ng if it is not
installed (it conflicts with rsyslog as a Debian package). See docs/performance.md.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# The 15 fields of the syslog-ng / rsyslog CEF template: the same record fields the connector's
# CEF mapping reads for the commonest kinds (Graph sign-ins and audits, ARM and Event Hubs records).
TEMPLATE_FIELDS = [
    "id", "createdDateTime", "userPrincipalName", "ipAddress", "appDisplayName", "activityDisplayName",
    "category", "operationName", "correlationId", "resultType", "callerIpAddress", "time",
    "properties.id", "properties.userPrincipalName", "properties.ipAddress",
]


class Receiver:
    """Counts LF-terminated lines arriving on any TCP connection to 127.0.0.1:port."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.lines = 0
        self.last_at = 0.0
        self.done = threading.Event()
        self.target = None
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self, target):
        with self.lock:
            self.lines = 0
            self.last_at = 0.0
            self.target = target
            self.done.clear()

    def _accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        with conn:
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    return
                n = data.count(b"\n")
                if n:
                    with self.lock:
                        self.lines += n
                        self.last_at = time.monotonic()
                        if self.target is not None and self.lines >= self.target:
                            self.done.set()


def wait_child(proc, timeout):
    """wait4 with a deadline: (status, rusage) or None when it did not exit in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = status
            return status, usage
        time.sleep(0.02)
    return None


def stop_child(proc):
    # os.kill, not Popen.send_signal: that one polls (and so reaps) the child first, and its
    # rusage would be lost to wait4.
    os.kill(proc.pid, signal.SIGTERM)
    got = wait_child(proc, 20)
    if got is None:
        os.kill(proc.pid, signal.SIGKILL)
        got = wait_child(proc, 10)
    return got


class LineCounter:
    """Counts the lines of a growing file, reading only what was appended since the last call."""

    def __init__(self, path):
        self.path, self.offset, self.lines = path, 0, 0

    def count(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    self.lines += chunk.count(b"\n")
                    self.offset += len(chunk)
        except FileNotFoundError:
            pass
        return self.lines


class Race:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work)
        self.receiver = Receiver()
        self.kafka = None  # eventhub_leg.MockCluster with --source eventhub_kafka

    # -- inputs --------------------------------------------------------------------------------
    def make_input(self):
        os.makedirs(self.work, exist_ok=True)
        subprocess.run([self.args.load, "--generate-only", "--records", str(self.args.records), "--dir", self.work],
                       check=True, stdout=subprocess.DEVNULL)
        lines_path = os.path.join(self.work, "in.ndjson")
        if self.args.shape == "lines":
            return lines_path, self.args.records
        # Event Hubs shape: the diagnostic-settings records of the mix, 50 per {"records":[...]} line.
        path = os.path.join(self.work, "envelopes.json")
        n = 0
        with open(lines_path, "rb") as src, open(path, "wb") as out:
            batch = []
            for line in src:
                if b'"category"' not in line:
                    continue
                batch.append(line.rstrip(b"\n"))
                n += 1
                if len(batch) == 50:
                    out.write(b'{"records":[' + b",".join(batch) + b"]}\n")
                    batch = []
            if batch:
                out.write(b'{"records":[' + b",".join(batch) + b"]}\n")
        return path, n

    # -- contenders ----------------------------------------------------------------------------
    def connector_cmd(self, fmt, input_path, run_dir, binary):
        out = os.path.join(run_dir, "out.txt")
        sink = (f"  - {{name: out, type: syslog, format: {fmt}, host: 127.0.0.1, port: {self.receiver.port}, "
                f"protocol: tcp, framing: lf}}\n") if self.args.dest == "tcp" else \
               f"  - {{name: out, type: file, format: {fmt}, path: {out}}}\n"
        cfg = os.path.join(run_dir, "config.yaml")
        with open(cfg, "w") as f:
            f.write(f"state_dir: {run_dir}/state\n"
                    f"dead_letter: {{path: {run_dir}/dead-letter.ndjson}}\n"
                    "sources:\n" + (self.kafka.source_line(f"race-{os.path.basename(run_dir)}",
                                                                          self.args.kafka_properties) if self.kafka else
                                     f"  - {{name: race, type: file, path: {input_path}}}\n") +
                    f"sinks:\n{sink}")
        return [binary, "run", "-c", cfg, "--once"], out, True

    def syslog_ng_cmd(self, input_path, run_dir):
        out = os.path.join(run_dir, "out.txt")
        fields = " ".join(f"{name}=${{.j.{name}}}" for name in TEMPLATE_FIELDS)
        template = "CEF:0|Microsoft|Entra ID|1.0|${.j.operationName}|${.j.activityDisplayName}|5|" + fields + "\\n"
        dest = (f'network("127.0.0.1" port({self.receiver.port}) transport("tcp") template("{template}"))'
                if self.args.dest == "tcp" else f'file("{out}" template("{template}"))')
        cfg = os.path.join(run_dir, "syslog-ng.conf")
        with open(cfg, "w") as f:
            f.write('@version: 3.38\n'
                    'options { stats-freq(0); log-msg-size(4194304); keep-hostname(yes); threaded(yes); };\n'
                    f'source s_in {{ file("{input_path}" flags(no-parse) follow-freq(1) log-fetch-limit(1000) '
                    'log-iw-size(10000)); };\n'
                    'parser p_json { json-parser(prefix(".j.")); };\n'
                    f'destination d_out {{ {dest}; }};\n'
                    'log { source(s_in); parser(p_json); destination(d_out); };\n')
        root = self.args.syslog_ng
        env_lib = os.path.join(root, "usr/lib/syslog-ng")
        cmd = [os.path.join(root, "usr/sbin/syslog-ng"), "-F", "-f", cfg, "--no-caps",
               f"--module-path={os.path.join(env_lib, '3.38')}",
               f"--persist-file={run_dir}/syslog-ng.persist", f"--pidfile={run_dir}/syslog-ng.pid",
               f"--control={run_dir}/syslog-ng.ctl"]
        return cmd, out, False, {"LD_LIBRARY_PATH": env_lib}

    def rsyslog_cmd(self, input_path, run_dir):
        out = os.path.join(run_dir, "out.txt")
        fields = " ".join(f'constant(value="{name}=") property(name="$!{name.replace(".", "!")}") constant(value=" ")'
                          for name in TEMPLATE_FIELDS)
        cfg = os.path.join(run_dir, "rsyslog.conf")
        dest = (f'action(type="omfwd" target="127.0.0.1" port="{self.receiver.port}" protocol="tcp" '
                'template="cef" TCP_Framing="traditional")' if self.args.dest == "tcp" else
                f'action(type="omfile" file="{out}" template="cef")')
        with open(cfg, "w") as f:
            f.write(f'global(workDirectory="{run_dir}" maxMessageSize="4m")\n'
                    'module(load="imfile" mode="polling" PollingInterval="1")\n'
                    'module(load="mmjsonparse")\n'
                    'template(name="cef" type="list") {\n'
                    '  constant(value="CEF:0|Microsoft|Entra ID|1.0|") property(name="$!operationName")\n'
                    '  constant(value="|") property(name="$!activityDisplayName") constant(value="|5|")\n'
                    f'  {fields}\n  constant(value="\\n")\n}}\n'
                    f'input(type="imfile" File="{input_path}" Tag="race" ruleset="race")\n'
                    'ruleset(name="race") {\n  action(type="mmjsonparse" cookie="")\n'
                    f'  {dest}\n}}\n')
        return ["rsyslogd", "-n", "-f", cfg, "-i", f"{run_dir}/rsyslog.pid"], out, False, {}

    def run_one(self, name, input_path, expected, round_no):
        run_dir = os.path.join(self.work, f"{round_no:02d}-{name}")
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        extra_env = {}
        if name.startswith(("connector-", "baseline-")):
            binary = self.args.connector if name.startswith("connector-") else self.args.baseline
            cmd, out, exits, = self.connector_cmd(name.split("-", 1)[1], input_path, run_dir, binary)
        elif name == "syslog-ng":
            cmd, out, exits, extra_env = self.syslog_ng_cmd(input_path, run_dir)
        else:
            cmd, out, exits, extra_env = self.rsyslog_cmd(input_path, run_dir)
        self.receiver.reset(expected)
        env = dict(os.environ, **extra_env)
        log = open(os.path.join(run_dir, "stderr.log"), "wb")
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=run_dir)
        deadline = start + self.args.timeout
        counter = LineCounter(out)
        delivered = 0
        got = None
        while time.monotonic() < deadline:
            if got is None:
                got = wait_child(proc, 0.05 if self.args.dest == "tcp" else 0.5)
            if self.args.dest == "tcp":
                delivered = self.receiver.lines
            elif got is not None or not exits:
                delivered = counter.count()
            if delivered >= expected:
                break
            if got is not None:  # exited before everything arrived, or the receiver is still reading
                if self.args.dest == "tcp":
                    self.receiver.done.wait(2)
                    delivered = self.receiver.lines
                break
        finished = self.receiver.last_at if self.args.dest == "tcp" and self.receiver.last_at else time.monotonic()
        if got is None:
            got = stop_child(proc) if not exits else (wait_child(proc, self.args.timeout) or stop_child(proc))
        log.close()
        status, usage = got
        cpu = usage.ru_utime + usage.ru_stime
        wall = max(finished - start, 1e-9)
        row = {"round": round_no, "contender": name, "delivered": delivered, "expected": expected,
               "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
               "events_per_cpu_s": round(delivered / cpu) if cpu else 0,
               "events_per_wall_s": round(delivered / wall), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
               "exit": os.waitstatus_to_exitcode(status)}
        if delivered < expected:
            row["error"] = f"delivered {delivered} of {expected}; see {run_dir}/stderr.log"
        return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connector", required=True)
    ap.add_argument("--baseline", default="", help="another siem-connector binary, raced as baseline-cef/-ecs")
    ap.add_argument("--load", required=True, help="siem-load, used to generate the input")
    ap.add_argument("--syslog-ng", default="", help="root of an unpacked syslog-ng-core (usr/sbin/syslog-ng)")
    ap.add_argument("--rsyslog", action="store_true", help="also race rsyslogd (when installed)")
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shape", choices=["lines", "envelopes"], default="lines")
    ap.add_argument("--source", choices=["file", "eventhub_kafka"], default="file",
                    help="eventhub_kafka: the envelopes through librdkafka's mock cluster (eventhub_leg.py)")
    ap.add_argument("--mock-kafka", default="", help="siem-mock-kafka, for --source eventhub_kafka")
    ap.add_argument("--kafka-properties", default="",
                    help="more librdkafka properties of that source, YAML flow entries: 'fetch.max.bytes: 1048576'")
    ap.add_argument("--dest", choices=["tcp", "file"], default="tcp")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--work", default="build/race")
    ap.add_argument("--json", help="write the rows here as JSON")
    ap.add_argument("--dead-sink", type=float, metavar="SECONDS",
                    help="instead of the race: run the connector this long against a sink that takes nothing, "
                         "sampling its RSS every second (dead_sink.py)")
    ap.add_argument("--dead-mode", choices=["stalled", "closed"], default="stalled",
                    help="stalled: a receiver that accepts and never reads; closed: a port nobody listens on")
    args = ap.parse_args()
    args.connector, args.load = os.path.abspath(args.connector), os.path.abspath(args.load)
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
    if args.syslog_ng:
        args.syslog_ng = os.path.abspath(args.syslog_ng)

    if args.source == "eventhub_kafka":
        args.shape = "envelopes"  # the daemons cannot consume Event Hubs: the connector races alone
    race = Race(args)
    input_path, expected = race.make_input()
    if args.source == "eventhub_kafka":
        sys.dont_write_bytecode = True  # no __pycache__ in the source tree
        sys.path.insert(0, HERE)
        from eventhub_leg import MockCluster
        race.kafka = MockCluster(os.path.abspath(args.mock_kafka), input_path, race.work)
        race.kafka.produce()
    if args.dead_sink:
        sys.dont_write_bytecode = True  # no __pycache__ in the source tree
        sys.path.insert(0, HERE)
        from dead_sink import main_dead_sink
        return main_dead_sink(args, input_path, race.work)
    contenders = []
    if args.syslog_ng and args.shape == "lines":
        contenders.append("syslog-ng")
    if args.rsyslog and args.shape == "lines" and shutil.which("rsyslogd"):
        contenders.append("rsyslog")
    contenders += ["connector-cef", "connector-ecs"]
    if args.baseline:  # another build of the connector, A B A B with this one
        contenders += ["baseline-cef", "baseline-ecs"]
    print(f"race: {expected} records from {input_path}{f' via eventhub_kafka ({race.kafka.partitions} partitions)' if race.kafka else ''} -> {args.dest}; contenders: {', '.join(contenders)}; "
          f"{args.rounds} rounds", flush=True)
    rows = []
    for r in range(1, args.rounds + 1):
        for name in contenders:
            row = race.run_one(name, input_path, expected, r)
            rows.append(row)
            print(json.dumps(row), flush=True)

    print(f"\n| contender | events per CPU-second (median) | wall events/s (median) | peak RSS MiB (max) |")
    print("|---|---|---|---|")
    for name in contenders:
        mine = [x for x in rows if x["contender"] == name]
        print(f"| {name} | {statistics.median(x['events_per_cpu_s'] for x in mine):,.0f} | "
              f"{statistics.median(x['events_per_wall_s'] for x in mine):,.0f} | "
              f"{max(x['peak_rss_mib'] for x in mine)} |")
    if "syslog-ng" in contenders:
        print("\n| ratio to syslog-ng per CPU-second | " + " | ".join(f"round {r}" for r in range(1, args.rounds + 1)) +
              " | median |")
        print("|---|" + "---|" * (args.rounds + 1))
        for name in [c for c in contenders if c.startswith(("connector-", "baseline-"))]:
            ratios = []
            for r in range(1, args.rounds + 1):
                base = next(x for x in rows if x["round"] == r and x["contender"] == "syslog-ng")
                mine = next(x for x in rows if x["round"] == r and x["contender"] == name)
                ratios.append(mine["events_per_cpu_s"] / base["events_per_cpu_s"] if base["events_per_cpu_s"] else 0)
            print(f"| {name} | " + " | ".join(f"{x:.2f}" for x in ratios) + f" | {statistics.median(ratios):.2f} |")
    if race.kafka:
        race.kafka.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    failed = [x for x in rows if "error" in x]
    for x in failed:
        print(f"race: {x['contender']} round {x['round']}: {x['error']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
