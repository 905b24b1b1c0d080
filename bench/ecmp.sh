#!/usr/bin/env bash
# bench/ecmp.sh — N active directors behind ECMP against a keepalived VRRP pair, in one VM run:
# requests/s and failed requests through 1, 2 and 3 ipvsd directors announcing the VIP over BGP
# (BIRD), then the disruption of a director's death (failed probes, broken streams) with three
# active directors and with keepalived's VRRP takeover on the same topology. What it measures:
# bench/ecmp-driver.ts. A benchmark, not a test: it fails only when the setup breaks.
#
# Usage (on the host, as root):  npm run bench:ecmp      (or: bash bench/ecmp.sh)
#
# Results: bench/results/ecmp-<time>.json and .txt (the summary, printed at the end). Under qemu TCG
# JavaScript runs ~15–20× slower than natively and the VM shares this machine's CPUs: compare the
# rows of one run, not runs with each other.
#
# Env: IPVSD_BENCH_REQUESTS (300), IPVSD_BENCH_CONCURRENCY (8), IPVSD_BENCH_STREAMS (12),
#      IPVSD_BENCH_PROBE_MS (50), IPVSD_BENCH_TIMEOUT (3600 s, boot included).
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
repo=$(pwd -P)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
share="$repo/.vm/share"
out="$share/bench-ecmp-$stamp-$$.json"
export IPVSD_BENCH_OUT=$out

npm run --silent build
npx tsc -p bench/ecmp.tsconfig.json
mkdir -p "$share" bench/results
load=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
rc=0
bash test/vm/run.sh --timeout "${IPVSD_BENCH_TIMEOUT:-3600}" --mem 3072 -- node dist/bench/ecmp-driver.js || rc=$?
echo "bench: VM run took $(($(date +%s) - start)) s (exit status $rc); host load average at start $load," \
  "at end $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -s "$out" ]]; then
  mv -- "$out" "bench/results/ecmp-$stamp.json"
  mv -- "${out%.json}.txt" "bench/results/ecmp-$stamp.txt"
  echo "bench: results in bench/results/ecmp-$stamp.{json,txt}"
  cat "bench/results/ecmp-$stamp.txt"
fi
exit "$rc"
