#!/usr/bin/env bash
# Runs INSIDE the VM (test/vm/run.sh): records what ipvsadm and the kernel exchange over netlink
# (an nlmon interface and tcpdump), step by step, into "$1" (a JSON file of hex datagrams).
# Re-run with `bash test/vm/capture-golden.sh` on the host; the unit tests decode these bytes.
set -euo pipefail
out="$1"
work=$(mktemp -d)
ip netns add golden
cleanup() { ip netns del golden 2>/dev/null || true; }
trap cleanup EXIT
in_ns() { ip netns exec golden "$@"; }
in_ns ip link set lo up
in_ns ip link add nlmon0 type nlmon
in_ns ip link set nlmon0 up

steps=(
  "new-service-tcp|ipvsadm -A -t 192.0.2.1:80 -s wrr"
  "new-dest-nat|ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.1:8080 -m -w 3"
  "set-service-persistent|ipvsadm -E -t 192.0.2.1:80 -s rr -p 300 -M 255.255.255.0"
  "set-dest-thresholds|ipvsadm -e -t 192.0.2.1:80 -r 198.51.100.1:8080 -m -w 5 -x 100 -y 10"
  "new-dest-dr|ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.2 -g -w 1"
  "new-service-udp6-flags|ipvsadm -A -u [2001:db8::1]:53 -s sh -b sh-fallback,sh-port"
  "new-dest6|ipvsadm -a -u [2001:db8::1]:53 -r [2001:db8:1::5]:5353 -m -w 2"
  "new-service-fwmark|ipvsadm -A -f 7 -s rr -p 60"
  "new-dest-fwmark|ipvsadm -a -f 7 -r 198.51.100.3:0 -m -w 1"
  "new-service-sctp|ipvsadm -A --sctp-service 192.0.2.2:9 -s lc"
  "list|ipvsadm -Ln"
  "set-config|ipvsadm --set 901 121 301"
  "get-config|ipvsadm -L --timeout"
  "new-daemon|ipvsadm --start-daemon master --mcast-interface lo --syncid 5"
  "get-daemon|ipvsadm -L --daemon"
  "del-daemon|ipvsadm --stop-daemon master"
  "del-dest|ipvsadm -d -t 192.0.2.1:80 -r 198.51.100.2"
  "del-service|ipvsadm -D --sctp-service 192.0.2.2:9"
  "zero|ipvsadm -Z"
  "flush|ipvsadm -C"
)
echo '{' > "$out"
first=1
for step in "${steps[@]}"; do
  name=${step%%|*}
  cmd=${step#*|}
  pcap="$work/$name.pcap"
  # Not through in_ns: $! must be tcpdump itself (ip netns exec execs it) so the INT reaches it.
  ip netns exec golden tcpdump -Z root -i nlmon0 -U -w "$pcap" >/dev/null 2>&1 &
  dump=$!
  sleep 1
  in_ns $cmd > "$work/$name.txt"
  sleep 1
  kill -INT "$dump"; wait "$dump" || true
  [ $first -eq 1 ] || echo ',' >> "$out"
  first=0
  node "$(dirname "$0")/pcap-to-json.mjs" "$name" "$cmd" "$pcap" "$work/$name.txt" >> "$out"
done
echo '}' >> "$out"
echo "captured ${#steps[@]} steps into $out"
