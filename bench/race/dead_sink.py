"""Dead-sink phase of the race (bench/race/run.sh --dead-sink SECONDS): the connector's resident
size while its sink takes nothing.

The connector runs (not --once) with the race's file source and a syslog TCP sink to a receiver
that accepts the connection and never reads it (`--dead-mode stalled`), or to a port nobody listens
on (`--dead-mode closed`). Its queues fill, then the pipeline stops pulling. /proc/PID/status VmRSS is
sampled every second for SECONDS; reported per format: the largest sample, the slope of a
least-squares line through the samples after the first 10 s (MiB per minute: flat is ~0), and
the range of those samples. Then SIGTERM (drain_timeout 2 s; exit status 2, events undelivered, is
the expected outcome).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time


class StalledReceiver:
    """Accepts TCP connections on 127.0.0.1 and never reads them (the peer's window fills)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.sock.accept()
            self.conns.append(conn)  # kept open, never read


def closed_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now: every connect is refused
    return port


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def slope_per_minute(samples):
    """Least-squares slope of (t, rss) in MiB per minute."""
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    return 60 * sum((t - mt) * (r - mr) for t, r in samples) / var if var else 0.0


def run_dead_sink(args, input_path, fmt, port, work):
    run_dir = os.path.join(work, f"dead-{args.dead_mode}-{fmt}")
    os.makedirs(run_dir, exist_ok=True)
    for name in ("state", "dead-letter.ndjson"):
        path = os.path.join(run_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    cfg = os.path.join(run_dir, "config.yaml")
    with open(cfg, "w") as f:
        f.write(f"state_dir: {run_dir}/state\n"
                f"dead_letter: {{path: {run_dir}/dead-letter.ndjson}}\n"
                "pipeline: {drain_timeout: 2s}\n"
                f"sources:\n  - {{name: race, type: file, path: {input_path}}}\n"
                f"sinks:\n  - {{name: out, type: syslog, format: {fmt}, host: 127.0.0.1, port: {port}, "
                "protocol: tcp, framing: lf}\n")
    log = open(os.path.join(run_dir, "stderr.log"), "wb")
    proc = subprocess.Popen([args.connector, "run", "-c", cfg], stdout=log, stderr=subprocess.STDOUT, cwd=run_dir)
    start = time.monotonic()
    samples = []
    while time.monotonic() - start < args.dead_sink and proc.poll() is None:
        time.sleep(1.0 - (time.monotonic() - start) % 1.0)
        r = rss_mib(proc.pid)
        if r is not None:
            samples.append((time.monotonic() - start, r))
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    late = [s for s in samples if s[0] >= 10]
    row = {"contender": f"connector-{fmt}", "dead_mode": args.dead_mode, "seconds": args.dead_sink,
           "samples": len(samples), "rss_max_mib": round(max((r for _, r in samples), default=0), 1),
           "rss_after_10s_min_mib": round(min((r for _, r in late), default=0), 1),
           "rss_after_10s_max_mib": round(max((r for _, r in late), default=0), 1),
           "slope_mib_per_min": round(slope_per_minute(late), 3), "exit": proc.returncode,
           "rss_series": [round(r, 1) for _, r in samples]}
    if not alive:
        row["error"] = f"the connector exited during the dead-sink phase; see {run_dir}/stderr.log"
    return row


def main_dead_sink(args, input_path, work):
    receiver = StalledReceiver() if args.dead_mode == "stalled" else None
    port = receiver.port if receiver else closed_port()
    print(f"dead sink ({args.dead_mode}, 127.0.0.1:{port}): {args.dead_sink} s per format, RSS sampled every second",
          flush=True)
    rows = []
    for fmt in ("cef", "ecs"):
        row = run_dead_sink(args, input_path, fmt, port, work)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "rss_series"}), flush=True)
    print("\n| contender | sink | seconds | peak RSS MiB | RSS after 10 s, min-max MiB | slope after 10 s, MiB/min |")
    print("|---|---|---|---|---|---|")
    for x in rows:
        print(f"| {x['contender']} | {x['dead_mode']} | {x['seconds']} | {x['rss_max_mib']} | "
              f"{x['rss_after_10s_min_mib']}-{x['rss_after_10s_max_mib']} | {x['slope_mib_per_min']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if any("error" in x for x in rows) else 0
