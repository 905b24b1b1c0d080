#!/usr/bin/env bash
# bench/takeover.sh — the VRRP takeover gap of ipvsd against keepalived in the same NAT pair: the
# master's links go down and its daemon is killed; the gap ends with the first successful request
# through the backup. VRRPv2 at 1 s adverts and VRRPv3 at 100 ms, several runs each, medians and
# the ipvsd/keepalived ratio. A benchmark, not a test: it fails only when the setup breaks or a run
# never recovers, never because of a timing.
#
# Usage (on the host, as root):  npm run bench:takeover      (or: bash bench/takeover.sh)
#
# Builds dist/ and the driver (bench/takeover-driver.ts with test/support/nat-pair.ts, compiled by
# bench/takeover.tsconfig.json), boots the VM tier's kernel ONCE (test/vm/run.sh) and runs the
# driver inside (what it measures: see its header). Results: bench/results/takeover-<time>.json
# (every run) and .txt (the summary, printed at the end). Under qemu TCG JavaScript runs ~15–20×
# slower than natively and the VM shares this machine's CPUs with whatever else runs: compare the
# two daemons within one run, not runs with each other.
#
# Env: IPVSD_BENCH_RUNS (5), IPVSD_BENCH_SETTINGS (v2-1s,v3-100ms), IPVSD_BENCH_TOOLS
#      (ipvsd,keepalived), IPVSD_BENCH_PROBE_MS (20), IPVSD_BENCH_TIMEOUT (3600 s, boot included).
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
repo=$(pwd -P)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
share="$repo/.vm/share"
out="$share/bench-takeover-$stamp-$$.json"
export IPVSD_BENCH_OUT=$out

npm run --silent build
npx tsc -p bench/takeover.tsconfig.json
mkdir -p "$share" bench/results
IPVSD_BENCH_HOST_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
rc=0
bash test/vm/run.sh --timeout "${IPVSD_BENCH_TIMEOUT:-3600}" --mem 3072 -- node dist/bench/takeover-driver.js || rc=$?
echo "bench: VM run took $(($(date +%s) - start)) s (exit status $rc); host load average" \
  "at start $IPVSD_BENCH_HOST_LOAD, at end $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -s "$out" ]]; then
  mv -- "$out" "bench/results/takeover-$stamp.json"
  mv -- "${out%.json}.txt" "bench/results/takeover-$stamp.txt"
  echo "bench: results in bench/results/takeover-$stamp.{json,txt}"
  cat "bench/results/takeover-$stamp.txt"
else
  echo "bench: no results ($out missing)" >&2
  ((rc != 0)) || rc=1
fi
exit "$rc"
