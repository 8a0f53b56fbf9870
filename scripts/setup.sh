#!/usr/bin/env bash
# Installs everything Trellis and its tests need on a fresh Debian machine with Node 20:
# npm dependencies (re2 is a native addon built here) and, when running as root, the Debian
# packages the integration tests and benchmarks use. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in "redis-server:redis-server"; do
  bin="${pair%%:*}"; pkg="${pair##*:}"
  command -v "$bin" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} from Debian's packages"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing ${need_apt[*]}; tests that need them will say so (install with apt-get)"
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci (builds the re2 native addon; takes a minute or two the first time)"
  npm ci --no-fund --no-audit
fi
