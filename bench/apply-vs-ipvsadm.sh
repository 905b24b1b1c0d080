#!/usr/bin/env bash
# bench/apply-vs-ipvsadm.sh — how long `ipvsctl apply` takes to build a big IPVS table, against
# `ipvsadm -R` building the same table, and how long a no-op re-apply takes. A benchmark, not a test:
# it fails (exit 1) only when the setup breaks, an ipvsctl run fails, the two tools build different
# tables or the no-op re-apply plans operations; never because of a timing.
#
# Usage (on the host, as root):  npm run bench:apply      (or: bash bench/apply-vs-ipvsadm.sh)
#
# Builds dist/ (of this tree only), boots the VM tier's kernel ONCE (test/vm/run.sh: this machine's kernel has no IPVS)
# and runs bench/guest/apply-vs-ipvsadm.sh inside it (what it measures and how: see its header),
# then prints the summary of $REPO/.vm/share/bench-apply.json (bench/print-summary.mjs) and where the
# step-by-step profile run spent its CPU (bench-apply.cpuprofile, bench/cpuprof-top.mjs).
# All timings are under qemu TCG: JavaScript runs ~15–20× slower there than on this host, and so does
# the kernel; both tools are timed as whole processes, node's startup included.
#
# Env: IPVSD_BENCH_REPS (3), IPVSD_BENCH_SERVICES (1000), IPVSD_BENCH_DESTS (10), passed to the guest;
#      IPVSD_BENCH_TIMEOUT (1800 s, VM boot included); IPVSD_BENCH_PROJECT (tree to measure, default
#      this one; not built by this script); IPVSD_BENCH_OUT (results file, under .vm/share/, default
#      .vm/share/bench-apply.json).
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
repo=$(pwd -P)
out=${IPVSD_BENCH_OUT:-$repo/.vm/share/bench-apply.json}
[[ "$out" == "$repo/.vm/share/"* ]] || { echo "bench: IPVSD_BENCH_OUT must be under $repo/.vm/share/ (the guest writes it)" >&2; exit 2; }
export IPVSD_BENCH_OUT=$out
project=$(cd -- "${IPVSD_BENCH_PROJECT:-$repo}" && pwd -P)
export IPVSD_BENCH_PROJECT=$project
mkdir -p "$repo/.vm/share"

if [[ "$project" == "$repo" ]]; then
  npm run --silent build
else
  [[ -f "$project/dist/src/bin/ipvsctl.js" ]] || { echo "bench: $project is not built (no dist/src/bin/ipvsctl.js)" >&2; exit 2; }
fi
rm -f -- "$out" "${out%.json}.cpuprofile"
# The VM shares this machine's CPUs: a busy host slows both tools (the per-repetition ratios cancel
# most of it). Recorded so that a noisy run can be recognised.
IPVSD_BENCH_HOST_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
export IPVSD_BENCH_HOST_LOAD
start=$(date +%s)
rc=0
bash test/vm/run.sh --timeout "${IPVSD_BENCH_TIMEOUT:-1800}" -- bash bench/guest/apply-vs-ipvsadm.sh || rc=$?
echo "bench: VM run took $(($(date +%s) - start)) s (exit status $rc); host load average" \
  "at start $IPVSD_BENCH_HOST_LOAD, at end $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -s "$out" ]]; then
  node bench/print-summary.mjs "$out"
  if [[ -s "${out%.json}.cpuprofile" ]]; then
    echo
    echo "CPU profile of that step-by-step run (node --cpu-prof; self time; bench/cpuprof-top.mjs):"
    node bench/cpuprof-top.mjs "${out%.json}.cpuprofile" "$out" --top 5 --min-ms 1000 || true
  fi
else
  echo "bench: no results ($out missing)" >&2
  ((rc != 0)) || rc=1
fi
exit "$rc"
