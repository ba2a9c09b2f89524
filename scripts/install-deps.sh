#!/usr/bin/env bash
# Installs the Debian packages siem-connector needs to build, test and run.
# Idempotent: packages already present are skipped, and apt is not touched at all when
# nothing is missing, so the second run costs a few dpkg queries.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates openssl
  libboost-dev libboost-system-dev libboost-program-options-dev
  libssl-dev zlib1g-dev libjemalloc-dev
  librdkafka-dev kcat
  # libicu-dev: ICU counts a PIM justification's user-perceived characters (grapheme clusters).
  libicu-dev
  nlohmann-json3-dev libsimdjson-dev libyaml-cpp-dev libyaml-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  rsyslog rsyslog-openssl
  python3
  # The Prometheus reference parser for the /metrics tests (Debian has no prometheus-cpp; the
  # exposition is written by connector/core/metrics.cc), and YAML parsing of the Helm chart in
  # scripts/check-packaging.sh.
  python3-prometheus-client python3-yaml
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# rsyslog is used by the tests as a private receiver on loopback, never as the system logger.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now rsyslog >/dev/null 2>&1 || true
fi
