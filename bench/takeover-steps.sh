#!/usr/bin/env bash
# bench/takeover-steps.sh — times a VRRP takeover's kernel steps one by one (bench/takeover-steps.mjs
# says which) inside the VM tier, in a namespace made for it with one veth. Needs a built dist/ and
# native addon; run as root on the host:  bash bench/takeover-steps.sh   (IPVSD_BENCH_RUNS: 7)
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
if [[ "${IPVSD_VM:-}" != 1 ]]; then
  exec bash test/vm/run.sh --timeout 900 -- bash bench/takeover-steps.sh
fi
ns=tksteps
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link add eth0 type veth peer name eth9
ip -n "$ns" link set lo up
ip -n "$ns" link set eth0 up
ip -n "$ns" link set eth9 up
ip -n "$ns" addr add 192.0.2.2/24 dev eth0
ip -n "$ns" route add default via 192.0.2.1
ip netns exec "$ns" node bench/takeover-steps.mjs
