#!/usr/bin/env bash
# Checks the packaging without installing anything on this machine (docs/deploy.md, "Packaging
# checks"):
#   1. the .deb built by CPack: control fields and maintainer scripts (dpkg-deb --info), the file
#      list and modes (dpkg-deb --contents); unpacked into a scratch root (dpkg-deb -x) its binary
#      runs and validates the shipped configuration; the maintainer scripts pass `sh -n` and run
#      for every dpkg action with systemctl and rm replaced by stubs that only record the calls;
#   2. `systemd-analyze verify` on the unit (skipped, and said so, where it cannot run);
#   3. the Helm chart: values, the embedded connector config and every template parse as YAML
#      (template directives replaced), with the probes, ports and securityContext expected.
#   scripts/check-packaging.sh [build-dir]    (a configured build directory; default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/build.ninja" ] || { echo "check-packaging: configure $build first (cmake -S . -B $build -G Ninja)" >&2; exit 1; }
# What the package installs (the emulators ship in it for the quickstart); no-ops when built.
cmake --build "$build" -j"${SIEM_JOBS:-2}" --target siem-connector siem-emulator siem-hec-emulator >/dev/null
python=/usr/bin/python3  # Debian's, with python3-yaml (scripts/install-deps.sh)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

# ---- 1. Debian package
(cd "$build" && cpack -G DEB -B "$scratch/cpack" >"$scratch/cpack.log" 2>&1) || { cat "$scratch/cpack.log"; exit 1; }
deb=$(ls "$scratch"/cpack/siem-connector_*.deb)
dpkg-deb --info "$deb" >"$scratch/info"
dpkg-deb --contents "$deb" >"$scratch/contents"
check "control: package, version, architecture" \
  "grep -q '^ Package: siem-connector$' $scratch/info && grep -q '^ Version: [0-9]' $scratch/info && grep -q '^ Architecture: ' $scratch/info"
check "control: shared library dependencies from dpkg-shlibdeps" "grep -q '^ Depends: .*libssl3' $scratch/info && grep -q 'ca-certificates' $scratch/info"
# ICU (grapheme clusters of PIM justifications): the package must pull its runtime library.
check "control: Depends names libicu (libicu72)" "grep -q '^ Depends: .*libicu[0-9]' $scratch/info"
for f in postinst prerm postrm conffiles; do check "control: $f present" "grep -qw '$f' $scratch/info"; done
for p in ./usr/bin/siem-connector ./lib/systemd/system/siem-connector.service ./etc/siem-connector/siem-connector.yaml \
         ./etc/siem-connector/siem-connector.env ./usr/share/siem-connector/mappings/ ./usr/share/doc/siem-connector/deploy.md; do
  check "contents: $p" "grep -q ' $p\$' $scratch/contents"
done
check "contents: the env file (secrets) is 0600" "grep -q '^-rw------- .* ./etc/siem-connector/siem-connector.env$' $scratch/contents"
check "contents: nothing outside /usr, /etc, /lib" "! awk '{print \$6}' $scratch/contents | grep -v '^\./\(usr\|etc\|lib\)\(/\|$\)' | grep -qv '^\./$'"

root=$scratch/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$scratch/control"
check "unpacked binary runs" "'$root/usr/bin/siem-connector' version >/dev/null"
check "unpacked binary validates the shipped configuration" \
  "env -i PATH=/usr/bin:/bin SIEM_STATE_DIR=$scratch/state '$root/usr/bin/siem-connector' validate -c '$root/etc/siem-connector/siem-connector.yaml' >/dev/null"
check "conffiles lists the configuration and env file" \
  "grep -qx /etc/siem-connector/siem-connector.yaml $scratch/control/conffiles && grep -qx /etc/siem-connector/siem-connector.env $scratch/control/conffiles"
# Maintainer scripts: syntax, then every action with stubs (nothing on this machine is touched).
mkdir -p "$scratch/stubs"
for tool in systemctl rm deb-systemd-helper deb-systemd-invoke; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$tool" "$scratch" >"$scratch/stubs/$tool"
  chmod +x "$scratch/stubs/$tool"
done
for script in postinst prerm postrm; do
  check "$script: sh -n" "sh -n '$scratch/control/$script'"
done
run_script() { PATH="$scratch/stubs:/usr/bin:/bin" sh "$scratch/control/$1" "${@:2}"; }
: >"$scratch/calls"
check "postinst configure exits 0" "run_script postinst configure 0.0.9"
check "prerm remove and upgrade exit 0" "run_script prerm remove && run_script prerm upgrade 0.1.1"
check "postrm remove and upgrade exit 0, leaving the state" "run_script postrm remove && run_script postrm upgrade 0.1.1 && ! grep -q '^rm ' $scratch/calls"
check "postrm purge removes the state directories" "run_script postrm purge && grep -q '^rm -rf /var/lib/siem-connector /var/lib/private/siem-connector$' $scratch/calls"
check "postrm purge removes the log directories" ": >'$scratch/calls' && run_script postrm purge && grep -q '^rm -rf /var/log/siem-connector /var/log/private/siem-connector$' $scratch/calls"

# ---- 2. systemd unit
unit=$root/lib/systemd/system/siem-connector.service
if command -v systemd-analyze >/dev/null 2>&1; then
  # --root: the unit's ExecStart= binary is looked up in the unpacked package, not on this host;
  # the host's own units (the targets ours depends on) are copied beside it.
  cp -n /lib/systemd/system/*.target /lib/systemd/system/*.service /lib/systemd/system/*.socket \
        "$root/lib/systemd/system/" 2>/dev/null || true
  if out=$(systemd-analyze verify --root="$root" /lib/systemd/system/siem-connector.service 2>&1); then
    echo "ok   systemd-analyze verify"
  elif grep -qi "failed to \(connect\|initialize\)\|not been booted with systemd\|Operation not permitted" <<<"$out"; then
    echo "skip systemd-analyze verify: cannot run here: $(head -1 <<<"$out")"
  else
    echo "FAIL systemd-analyze verify"; echo "$out"; fail=1
  fi
else
  echo "skip systemd-analyze verify: systemd-analyze is not installed"
fi
check "unit: ExecStart runs the packaged binary" "grep -q '^ExecStart=/usr/bin/siem-connector run ' '$unit'"
check "unit: ExecReload validates, then sends SIGHUP" "grep -q '^ExecReload=/usr/bin/siem-connector validate ' '$unit' && grep -q '^ExecReload=/bin/kill -HUP \\\$MAINPID' '$unit'"

# ---- 3. Helm chart
if command -v helm >/dev/null 2>&1; then
  check "helm lint" "helm lint packaging/helm/siem-connector >/dev/null"
  check "helm template" "helm template t packaging/helm/siem-connector --set metrics.serviceMonitor.enabled=true >/dev/null"
else
  echo "skip helm lint/template: helm is not installed (not packaged by Debian 12); the templates are checked as YAML below"
fi
check "Helm chart: YAML, probes, ports, securityContext" "$python scripts/check-helm-chart.py packaging/helm/siem-connector"

[ $fail -eq 0 ] && echo "check-packaging: all checks passed" || echo "check-packaging: FAILED"
exit $fail
