#!/usr/bin/python3
"""The progress display of `siem-connector map` and `run --once`.
    progress_test.py BINARY CASE
map's second and third inputs are FIFOs the test holds open: the command waits on the first with
the first file's records counted, so the display is seen at a known count without depending on
speed; the test then writes it (one malformed record among them) and closes it, waits for the
status line to be drawn again after the error line, and writes the third, so the status line is
on the screen when the command ends. Every wait is bounded."""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

BINARY, CASE = sys.argv[1], sys.argv[2]
CLEAR = b"\r\x1b[K"
FIRST = 1000  # records of the regular file


def record(i):
    return json.dumps({"id": f"Directory_progress_{i}", "category": "UserManagement",
                       "activityDisplayName": "Update user", "activityDateTime": "2026-03-04T10:15:30Z",
                       "loggedByService": "Core Directory", "result": "success",
                       "initiatedBy": {"user": {"userPrincipalName": "alice@contoso.example"}},
                       "targetResources": []})


def fail(msg, output=b""):
    print("FAIL:", msg, file=sys.stderr)
    print(repr(output[-3000:]), file=sys.stderr)
    sys.exit(1)


class Output:
    """Collects what the child writes to stderr (a pty master, or a file)."""

    def __init__(self, master=None, path=None):
        self.master, self.path, self.data, self.eof = master, path, b"", False

    def pump(self, timeout=0.2):
        if self.master is not None:
            if self.eof:
                return
            ready, _, _ = select.select([self.master], [], [], timeout)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                self.eof = not chunk
                self.data += chunk
        else:
            time.sleep(timeout)
            with open(self.path, "rb") as f:
                self.data = f.read()

    def wait_for(self, pattern, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if re.search(pattern, self.data):
                return
            self.pump()
        fail(f"no {pattern!r} within {seconds} s", self.data)


def run_map(tmp, terminal, extra_args=()):
    first = os.path.join(tmp, "first.ndjson")
    with open(first, "w") as f:
        f.write("".join(record(i) + "\n" for i in range(FIRST)))
    fifo = os.path.join(tmp, "second.fifo")
    os.mkfifo(fifo)
    os.mkfifo(os.path.join(tmp, "third.fifo"))
    out_path = os.path.join(tmp, "out.ndjson")
    if terminal:
        master, slave = pty.openpty()
        err, output = slave, Output(master=master)
    else:
        err_path = os.path.join(tmp, "stderr")
        err = open(err_path, "wb")
        output = Output(path=err_path)
    with open(out_path, "wb") as out:
        child = subprocess.Popen([BINARY, *extra_args, "map", "--format", "ecs", first, fifo,
                                  os.path.join(tmp, "third.fifo")],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    if terminal:
        os.close(slave)
    else:
        err.close()
    return child, output, fifo, out_path


def finish_map(child, output, fifo, out_path, redrawn_after_error=None):
    with open(fifo, "w") as f:  # blocks until map opens it (it does after the first file)
        f.write("".join(record(i) + "\n" for i in range(FIRST, FIRST + 499)))
        f.write('{"id": "broken"\n')
        f.write("".join(record(i) + "\n" for i in range(FIRST + 499, 2 * FIRST)))
    if redrawn_after_error:
        output.wait_for(redrawn_after_error)
    with open(fifo.replace("second", "third"), "w") as f:
        f.write("".join(record(i) + "\n" for i in range(2 * FIRST, 2 * FIRST + 500)))
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        output.pump()
    if child.poll() is None:
        child.kill()
        fail("map did not end within 60 s", output.data)
    for _ in range(50):
        output.pump(0.05)
    if child.returncode != 1:  # one malformed record
        fail(f"exit status {child.returncode}", output.data)
    with open(out_path, "rb") as f:
        lines = f.read().splitlines()
    if len(lines) != 2 * FIRST + 500:
        fail(f"{len(lines)} mapped lines on stdout, expected {2 * FIRST + 500}")
    for line in lines:
        json.loads(line)  # stdout holds the mapped records only
    if not re.search(rb"second\.fifo:500: ", output.data):
        fail("the malformed record was not reported", output.data)


def map_on_terminal(tmp):
    child, output, fifo, out_path = run_map(tmp, terminal=True)
    # Waiting on the FIFO with the first file done: the status line shows its records.
    output.wait_for(re.escape(CLEAR) + rb"map: 1,000 records, [0-9,]+/s")
    finish_map(child, output, fifo, out_path,
               redrawn_after_error=rb":500: invalid JSON[^\n]*\n" + re.escape(CLEAR) + rb"map: 2,000 records")
    data = output.data
    # The error line is written on a cleared line, never after the status text.
    err_at = data.find(fifo.encode() + b":500: ")
    if not data[:err_at].endswith(CLEAR):
        fail("the error line does not start on a cleared line", data)
    # Cleared at exit (the status line was on the screen): the last thing written is the clear.
    if not data.endswith(CLEAR):
        fail("the status line is not cleared at exit", data)
    # In place: no status line ends with a newline.
    if re.search(rb"map: [0-9,]+ records[^\r]*\n", data):
        fail("a status line was ended with a newline", data)


def assert_no_status_line(data):
    if b"\r" in data.replace(b"\r\n", b"") or b"\x1b[" in data:
        fail("terminal control sequences written", data)


def map_not_a_terminal(tmp):
    child, output, fifo, out_path = run_map(tmp, terminal=False)
    # A periodic info line instead (every 10 s).
    output.wait_for(rb"info  progress: map: 1,000 records", seconds=60)
    finish_map(child, output, fifo, out_path)
    assert_no_status_line(output.data)


def map_json_logs(tmp):
    child, output, fifo, out_path = run_map(tmp, terminal=True, extra_args=("--log-format", "json"))
    output.wait_for(rb'"msg":"progress: map: 1,000 records', seconds=60)
    finish_map(child, output, fifo, out_path)
    assert_no_status_line(output.data)
    for line in output.data.replace(b"\r\n", b"\n").splitlines():
        if line.startswith(b"{"):
            json.loads(line)


def run_once_on_terminal(tmp):
    count = 60000
    with open(os.path.join(tmp, "in.ndjson"), "w") as f:
        f.write("".join(record(i) + "\n" for i in range(count)))
    with open(os.path.join(tmp, "config.yaml"), "w") as f:
        f.write(f"state_dir: {tmp}/state\nsources:\n  - {{name: audit, type: file, path: {tmp}/in.ndjson}}\n"
                f"sinks:\n  - {{name: out, type: file, format: ecs, path: {tmp}/out.ndjson}}\n")
    master, slave = pty.openpty()
    child = subprocess.Popen([BINARY, "run", "--once", "-c", os.path.join(tmp, "config.yaml")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    output = Output(master=master)
    deadline = time.monotonic() + 100
    while child.poll() is None and time.monotonic() < deadline:
        output.pump()
    if child.poll() is None:
        child.kill()
        fail("run --once did not end within 100 s", output.data)
    while not output.eof:
        output.pump(0.05)
    data = output.data
    if child.returncode != 0:
        fail(f"exit status {child.returncode}", data)
    # Whether or not the status line was drawn on this machine, every log line and the summary
    # start at the beginning of a line: after a newline or a clear.
    for m in re.finditer(rb"\d{4}-\d\d-\d\dT[0-9:.]+Z (info|warn|error)|summary: ", data):
        before = data[:m.start()]
        if before and not (before.endswith(b"\n") or before.endswith(CLEAR)):
            fail("a log line does not start on its own line", data)
    if re.search(rb"catching up: [^\r\n]*$", data):
        fail("the status line is left at exit", data)
    if f"read {count:>8}".encode() not in data:
        fail("the summary does not show every record read", data)


def main():
    tmp = tempfile.mkdtemp(prefix=f"siem-progress-{CASE}-")
    try:
        globals()[CASE](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok", CASE)


main()
