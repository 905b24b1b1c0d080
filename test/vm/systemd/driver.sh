#!/bin/bash
# Runs as a oneshot unit under systemd as PID 1 (test/vm/systemd-unit.test.ts): drives ipvsd.service
# through start, watchdog, reload, a missed watchdog, stop, saving `systemctl show` at each step in
# $OUT, then makes the container's systemd exit.
set -u
show() { systemctl show ipvsd.service -p ActiveState -p SubState -p Result -p StatusText -p NRestarts -p WatchdogUSec >"$OUT/$1.txt" 2>&1; }
systemctl start ipvsd.service >"$OUT/start.log" 2>&1
echo "$?" >"$OUT/start.rc"
show started
cp /run/ipvsd/probe.json "$OUT/probe.json" 2>/dev/null
sleep 13 # longer than WatchdogSec=10s: only the pings keep it alive
show watchdog
# Wait on the state rather than sleeping a fixed time: under TCG the stand-in can take well over a
# second to handle SIGHUP. It holds RELOADING for 6 s, so the window is easy to catch.
status_text() { systemctl show ipvsd.service -p StatusText --value; }
wait_status() { for _ in $(seq 1 150); do [ "$(status_text)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
systemctl reload --no-block ipvsd.service
wait_status reloading
show reloading
wait_status reloaded
show reloaded
# A blocking reload returns only after READY=1 (the stand-in sends it 6 s after RELOADING=1).
# ExecReload (kill -HUP) returns at once; systemd then waits for READY=1 only if RELOADING=1 came in
# before the kill exited. Under TCG the stand-in can be slower than that, so try up to three times:
# the test asserts that systemd waited at least once.
for _ in 1 2 3; do
  start=$(date +%s%N)
  systemctl reload ipvsd.service
  ms=$((($(date +%s%N) - start) / 1000000))
  echo "$ms" >"$OUT/reload-ms.txt"
  [ "$ms" -ge 5900 ] && break
  wait_status reloading # the late RELOADING=1 of this attempt, then its READY=1
  wait_status reloaded
done
systemctl kill -s USR1 --kill-whom=main ipvsd.service # the pings stop: systemd must restart it
sleep 16
show restarted
systemctl stop ipvsd.service
show stopped
touch "$OUT/done"
systemctl exit 0
