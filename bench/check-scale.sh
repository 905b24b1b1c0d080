#!/usr/bin/env bash
# Check-scale benchmark: ipvsd's health checks next to HAProxy's, same real servers on loopback,
# interval 1 s; then ipvsd's memory (PSS of all its processes) with 10,000 real servers. See
# bench/check-scale/run.mjs and bench/README.md.
# Needs: root for apt-get (only if haproxy is missing) and for raising the open-files limit.
# Usage: [CHECK_SCALE_NICE=-10] bash bench/check-scale.sh [run.mjs options, e.g. --window 60 --cpu-prof]
# (npm run bench:checks -- --window 60 passes options through npm)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v haproxy >/dev/null 2>&1; then
  echo "[check-scale] haproxy not found: installing Debian's package" >&2
  if [ "$(id -u)" -ne 0 ]; then echo "[check-scale] run as root or install haproxy first" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q haproxy >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q haproxy >/dev/null; }
fi

# 10,000 listening sockets (one per real server) plus the checkers' sockets: more than the usual 1024.
want=200000
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want" ]; then ulimit -Hn "$want" 2>/dev/null || true; fi
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
echo "[check-scale] open files limit: $(ulimit -n)" >&2

[ -f dist/src/check/monitor.js ] && [ "${CHECK_SCALE_BUILD:-1}" = 0 ] || npm run -s build

# On a shared machine other load steals the CPU the checkers need, and a starved event loop looks like a
# slow checker. CHECK_SCALE_NICE=-10 (root only) runs every benchmark process (servers, ipvsd, haproxy)
# at that priority, in a session of its own whose autogroup gets the same nice value: with
# kernel.sched_autogroup_enabled=1, a plain `nice` only ranks processes within one session and does
# nothing against other sessions' load. Both checkers get the same priority: the comparison stays fair.
if [ -n "${CHECK_SCALE_NICE:-}" ]; then
  exec setsid --wait bash -c 'echo "$1" > /proc/self/autogroup 2>/dev/null || true; shift; exec nice -n "$CHECK_SCALE_NICE" node bench/check-scale/run.mjs "$@"' _ "$CHECK_SCALE_NICE" "$@"
fi
exec node bench/check-scale/run.mjs "$@"
