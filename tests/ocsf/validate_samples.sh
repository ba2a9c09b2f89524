#!/bin/sh
# Maps every record of the sample files (tests/data/*.json, *.ndjson) to OCSF and validates each
# event against the vendored schema. Usage: validate_samples.sh SIEM_CONNECTOR DATA_DIR SCHEMA_DIR OUT
set -eu
bin=$1 data=$2 schema=$3 out=$4
: >"$out"
files=0
for f in "$data"/*.json "$data"/*.ndjson; do
  [ -f "$f" ] || continue
  if ! "$bin" map --format ocsf "$f" >>"$out"; then
    echo "validate_samples: $f did not map" >&2
    exit 1
  fi
  files=$((files + 1))
done
[ "$files" -gt 0 ] || { echo "validate_samples: no sample in $data" >&2; exit 1; }
exec python3 "$(dirname "$0")/ocsf_validate.py" "$schema" "$out"
