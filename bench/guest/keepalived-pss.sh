#!/usr/bin/env bash
# bench/guest/keepalived-pss.sh — runs INSIDE the VM (test/vm/run.sh); started by
# bench/keepalived-pss.sh on the host. keepalived's memory with the check-scale benchmark's real
# servers, as the reference beside ipvsd's (bench/check-scale/run.mjs measures ipvsd on the host;
# keepalived's checker needs IPVS, which only the VM's kernel has).
#
# keepalived (Debian's, the host's binary) with bench/check-scale/configs.mjs's keepalivedConfig:
# N real servers (default 10,000 TCP_CHECK, 100 per NAT virtual server, delay_loop 1 s) on
# 127.1.x.y:8080 and, with IPVSD_BENCH_HTTP, 127.2.x.y:8080 HTTP_GET /health. The servers: one node
# process listening on 0.0.0.0:8080 (every 127/8 address reaches it on lo), closing TCP checks at
# once and answering HTTP with 200. After a warm-up it samples, every 2 s for the window, the
# proportional set size (sum of `Pss:` in /proc/PID/smaps_rollup) of every keepalived process
# together (parent, checker, and a VRRP child if keepalived starts one), and counts the
# connections the servers accepted (keepalived's checks that reached them). Under TCG the checker
# may not keep up with 10,000 checks/s: the JSON says how many it did.
# Results: $IPVSD_VM_SHARE/keepalived-pss.json.
#
# Env: IPVSD_BENCH_SERVERS (10000 TCP), IPVSD_BENCH_HTTP (0), IPVSD_BENCH_WARMUP (30 s),
#      IPVSD_BENCH_WINDOW (20 s).
set -euo pipefail
[[ "${IPVSD_VM:-}" == 1 ]] || { echo "bench guest: not inside test/vm/run.sh's VM (IPVSD_VM unset)" >&2; exit 2; }
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd -- "$repo"
tcp=${IPVSD_BENCH_SERVERS:-10000}
http=${IPVSD_BENCH_HTTP:-0}
warmup=${IPVSD_BENCH_WARMUP:-30}
window=${IPVSD_BENCH_WINDOW:-20}
out=$IPVSD_VM_SHARE/keepalived-pss.json
work=/tmp/keepalived-pss
mkdir -p "$work"
ulimit -n 65536
log() { printf 'bench: %s\n' "$*"; }

node --input-type=module -e "
  import { writeFileSync } from 'node:fs';
  import { keepalivedConfig } from '$repo/bench/check-scale/configs.mjs';
  writeFileSync('$work/keepalived.conf', keepalivedConfig($tcp, $http));"
log "$(keepalived --version 2>&1 | head -1); $tcp TCP_CHECK + $http HTTP_GET real servers, delay_loop 1 s"

node -e '
  const net = require("net");
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    s.on("error", () => {});
    s.on("data", (d) => { if (d.includes("\r\n\r\n")) s.end("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"); });
    s.on("end", () => s.destroy());
  });
  server.listen({ host: "0.0.0.0", port: 8080, backlog: 65535 });
  setInterval(() => require("fs").writeFileSync(process.argv[1], String(n)), 1000);' "$work/accepted" &
server_pid=$!
sleep 2

keepalived -n -f "$work/keepalived.conf" -p "$work/keepalived.pid" -c "$work/checkers.pid" \
  -r "$work/vrrp.pid" >"$work/keepalived.log" 2>&1 &
keepalived_pid=$!
sleep "$warmup"
if ! kill -0 "$keepalived_pid" 2>/dev/null; then
  log "keepalived exited during the warm-up:"; tail -20 "$work/keepalived.log"; exit 1
fi
dests=$(ipvsadm -Ln | grep -c -- '->' || true)
log "after ${warmup} s: $((dests - 0)) lines of destinations in ipvsadm -Ln (header included)"

# Every process of keepalived's tree: the one started here and its children.
tree() {
  local pids=("$keepalived_pid") i p
  for ((i = 0; i < ${#pids[@]}; i++)); do
    for p in $(cat "/proc/${pids[i]}/task/"*/children 2>/dev/null); do pids+=("$p"); done
  done
  printf '%s\n' "${pids[@]}"
}
pss_kib() { local t=0 p v; for p in $(tree); do v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0); t=$((t + ${v:-0})); done; echo "$t"; }

a0=$(cat "$work/accepted"); t0=$(date +%s.%N)
max=0 samples=()
end=$(($(date +%s) + window))
while (($(date +%s) < end)); do
  v=$(pss_kib); samples+=("$v"); ((v > max)) && max=$v
  sleep 2
done
a1=$(cat "$work/accepted"); t1=$(date +%s.%N)
procs=$(tree | wc -l)
by_proc=$(for p in $(tree); do printf '%s:%s ' "$(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-40 | sed 's/ *$//')" \
  "$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")"; done)
end_pss=$(pss_kib)
rate=$(awk -v a="$a0" -v b="$a1" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.0f", (b - a) / (e - s)}')
log "keepalived: $procs processes; PSS $((end_pss / 1024)) MiB at the end, max $((max / 1024)) MiB; by process (KiB): $by_proc"
log "checks reaching the servers: $rate/s (configured: $((tcp + http))/s)"
printf '{"keepalived":"%s","tcp":%d,"http":%d,"processes":%d,"pssMiB":%.1f,"pssMaxMiB":%.1f,"byProcessKiB":"%s","checksPerS":%d,"ipvsadmLines":%d}\n' \
  "$(keepalived --version 2>&1 | head -1)" "$tcp" "$http" "$procs" "$(awk -v k="$end_pss" 'BEGIN{print k/1024}')" \
  "$(awk -v k="$max" 'BEGIN{print k/1024}')" "$by_proc" "$rate" "$dests" >"$out"
kill "$keepalived_pid" 2>/dev/null || true
wait "$keepalived_pid" 2>/dev/null || true
kill "$server_pid" 2>/dev/null || true
log "results in $out"
