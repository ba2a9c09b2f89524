#!/usr/bin/env bash
# Regenerates the key tables of docs/configuration.md (the regions between `<!-- keys: ID -->` and
# `<!-- /keys -->`) from the key tables the code declares (connector/config/schema.h), with
# `siem-connector describe --format markdown --splice`. Build siem-connector first.
#   scripts/gen-config-docs.sh [BINARY]           rewrite docs/configuration.md
#   scripts/gen-config-docs.sh --check [BINARY]   exit 1 if it differs (ctest: config.docs_generated)
# BINARY defaults to build/siem-connector.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
bin=${1:-$root/build/siem-connector}
doc=$root/docs/configuration.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if ! "$bin" describe --format markdown --splice "$doc" > "$tmp"; then
  echo "gen-config-docs: the key tables cannot be generated (see above)" >&2
  exit 1
fi
if [ $check = 1 ]; then
  if ! diff -u "$doc" "$tmp"; then
    echo "docs/configuration.md differs from what the key tables in the code generate (diff above)." >&2
    echo "Regenerate it with: scripts/gen-config-docs.sh  (after building siem-connector), and commit the result." >&2
    exit 1
  fi
  exit 0
fi
cp "$tmp" "$doc"
echo "docs/configuration.md: key tables regenerated"
