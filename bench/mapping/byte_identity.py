#!/usr/bin/env python3
"""Byte-identity check of the mapping outputs between two builds (docs/performance.md, "Mapping").

Runs `siem-connector map --format ecs|cef|ocsf|raw` of both binaries over every record sample of
tests/data and every golden input of mappings/tests (input_file, inline input / input_json /
inputs, with --source where a case names one) and compares stdout, stderr and exit status. Only
the wall clock is masked: a millisecond time or an ISO time inside the run's window (event.created,
and the time of records without one: @timestamp, OCSF time, CEF rt).

Usage: bench/mapping/byte_identity.py BASE_BINARY NEW_BINARY [REPO]   (exit 1 when any output differs)
"""
import datetime
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import yaml


def inputs_of(repo, work):
    found = [(f, None) for f in sorted(glob.glob(os.path.join(repo, 'tests/data/*.json')) +
                                       glob.glob(os.path.join(repo, 'tests/data/*.ndjson')))]
    n = 0
    for path in sorted(glob.glob(os.path.join(repo, 'mappings/tests/**/*.yaml'), recursive=True)):
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
        for case in doc.get('cases', []) or []:
            source = case.get('source')
            if 'input_file' in case:
                found.append((os.path.normpath(os.path.join(os.path.dirname(path), case['input_file'])), source))
                continue
            texts = []
            if 'input' in case:
                texts.append(case['input'] if isinstance(case['input'], str) else json.dumps(case['input']))
            if 'input_json' in case:
                texts.append(json.dumps(case['input_json']))
            for i in case.get('inputs', []) or []:
                texts.append(i if isinstance(i, str) else json.dumps(i))
            for text in texts:
                n += 1
                p = os.path.join(work, f'case{n:04d}.json')
                with open(p, 'w') as f:
                    f.write(text if text.endswith('\n') else text + '\n')
                found.append((p, source))
    return found


def masked(data, start_ms, end_ms):
    s = data.decode('utf-8', 'surrogateescape')
    s = re.sub(r'\b1[78]\d{11}\b', lambda m: '<MS>' if start_ms <= int(m.group()) <= end_ms else m.group(), s)

    def iso(m):
        try:
            t = datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return m.group()
        return '<ISO>' if start_ms - 1000 <= t.timestamp() * 1000 <= end_ms else m.group()

    return re.sub(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z', iso, s)


def main():
    base, new = sys.argv[1], sys.argv[2]
    repo = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
    start_ms = int(time.time() * 1000) - 3_600_000
    differ = runs = 0
    with tempfile.TemporaryDirectory() as work:
        inputs = inputs_of(repo, work)
        for fmt in ['ecs', 'cef', 'ocsf', 'raw']:
            for path, source in inputs:
                args = ['map', '--format', fmt] + (['--source', source] if source else []) + [path]
                a = subprocess.run([base] + args, capture_output=True, timeout=120)
                b = subprocess.run([new] + args, capture_output=True, timeout=120)
                end_ms = int(time.time() * 1000) + 3_600_000
                runs += 1
                if a.returncode == b.returncode and a.stderr == b.stderr and \
                        masked(a.stdout, start_ms, end_ms) == masked(b.stdout, start_ms, end_ms):
                    continue
                differ += 1
                if differ <= 5:
                    print(f'DIFFER {fmt} {path} source={source} status {a.returncode}/{b.returncode}')
                    for x, y in zip(masked(a.stdout, start_ms, end_ms).splitlines(), masked(b.stdout, start_ms, end_ms).splitlines()):
                        if x != y:
                            print('  base:', x[:600])
                            print('  new: ', y[:600])
                            break
    print(f'{len(inputs)} inputs x 4 formats = {runs} runs, {differ} differ')
    return 1 if differ else 0


if __name__ == '__main__':
    sys.exit(main())
