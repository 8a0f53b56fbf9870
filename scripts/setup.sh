#!/usr/bin/env bash
# Installs everything Trellis and its tests need on a fresh Debian machine with Node 20:
# npm dependencies (re2 is a native addon built here) and, when running as root, the Debian
# packages the integration tests and benchmarks use. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# chromium: the console's browser tests (playwright-core drives it); prometheus: optional for
# `trellis up --prometheus` and the service graph test that reads from a real Prometheus;
# etcd-server: control-plane replicas on etcd (`--store etcd://...`) and their tests.
for pair in "redis-server:redis-server" "ip:iproute2" "iptables:iptables" "chromium:chromium" "prometheus:prometheus" "etcd:etcd-server"; do
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

# Compiled JavaScript in build/ (bin/trellis.mjs falls back to tsx when src/ is newer).
npm run --silent build

# Optional: the SO_ORIGINAL_DST addon for `trellis up --capture netns` (native/). Without it
# everything else works; its tests say they are skipped.
gyp_args=()
[ -f /usr/include/node/node_api.h ] && gyp_args+=(--nodedir=/usr)
if (cd native && ../node_modules/.bin/node-gyp rebuild "${gyp_args[@]}" >/tmp/trellis-native-build.log 2>&1); then
  echo "setup: built native/ (SO_ORIGINAL_DST addon for trellis up --capture netns)"
else
  echo "setup: could not build native/ (see /tmp/trellis-native-build.log); its SO_ORIGINAL_DST test will be skipped"
fi
