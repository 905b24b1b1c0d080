#!/usr/bin/env bash
# bench/keepalived-pss.sh — keepalived's memory (PSS of all its processes) with the check-scale
# benchmark's 10,000 real servers, the reference for ipvsd's memory row (bench/check-scale/run.mjs).
# keepalived's checker needs IPVS, which this machine's kernel lacks, so this boots the VM tier's
# kernel (test/vm/run.sh) and runs bench/guest/keepalived-pss.sh there (see its header).
# Usage (root): bash bench/keepalived-pss.sh   Env: see the guest script; IPVSD_BENCH_TIMEOUT (900 s).
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
rm -f .vm/share/keepalived-pss.json
echo "bench: host load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
bash test/vm/run.sh --timeout "${IPVSD_BENCH_TIMEOUT:-900}" -- bash bench/guest/keepalived-pss.sh || rc=$?
[[ -s .vm/share/keepalived-pss.json ]] && cat .vm/share/keepalived-pss.json
exit "$rc"
