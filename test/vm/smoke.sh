#!/usr/bin/env bash
# test/vm/smoke.sh — proves the VM runner (run.sh) does what the VM test tier relies on.
#
# Usage (on the host, as root):  bash test/vm/smoke.sh [--vms N]
#   Boots N VMs at once (default 1; N=2 checks that concurrent runs do not collide), each running
#   this script with --guest, then checks on the host what only the host can check.
#
# Guest part (bash test/vm/smoke.sh --guest, run by run.sh inside the VM) checks:
#   - every IPVS scheduler module is loaded (/proc/modules), plus nf_nat, veth, bridge, dummy;
#   - in a fresh netns: ipvsadm -A/-a (NAT) and -Sn work, and a service per scheduler can be made;
#   - node runs; dmesg works; ip_forward is writable; lo is up; /tmp and /run are writable; the
#     host's / is read-only; cwd, HOME, TERM and pass-through env (IPVSD_*, CI) are as documented;
#   - it writes a result file into the share ($IPVSD_VM_SHARE);
#   and on success exits with status 3 on purpose: the host expects exactly 3, which proves that a
#   failing command's status comes back out of the VM (0 would mean it is lost; 1 = a check failed).
# Host part checks: run.sh's status is 3, and the result file written in the guest is on the host.
#
# Addresses: RFC 5737 only, inside a namespace the test makes and removes.
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
SMOKE_STATUS=3

# ------------------------------------------------------------------------------------------- guest
guest() {
  local failed=0 ns="ipvsd-smoke-$$" out sched missing=()
  ok() { printf 'ok   %s\n' "$*"; }
  bad() { printf 'FAIL %s\n' "$*"; failed=1; }
  check() { # check DESCRIPTION COMMAND... : runs the command, reports, keeps going
    local what=$1
    shift
    if out=$("$@" 2>&1); then ok "$what"; else bad "$what: $out"; fi
  }

  [[ "${IPVSD_VM:-}" == 1 ]] || { echo "smoke --guest: not inside run.sh's VM (IPVSD_VM unset)"; exit 1; }
  printf 'kernel %s\n' "$(uname -r)"

  # Modules: all loaded up front by the initramfs (nothing can autoload through the chroot).
  local mods
  mods=$(cut -d' ' -f1 /proc/modules)
  for sched in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
    grep -qx "ip_vs_$sched" <<<"$mods" || missing+=("ip_vs_$sched")
  done
  for m in ip_vs nf_conntrack nf_nat veth bridge dummy; do
    grep -qx "$m" <<<"$mods" || missing+=("$m")
  done
  if ((${#missing[@]})); then bad "modules loaded: missing ${missing[*]}"; else ok "modules loaded (all schedulers, nf_nat, veth, bridge, dummy)"; fi

  # Environment as run.sh documents it.
  [[ "$PWD" == "${IPVSD_SMOKE_CWD:-}" ]] && ok "cwd is the host's cwd ($PWD)" || bad "cwd $PWD != ${IPVSD_SMOKE_CWD:-?}"
  [[ "$HOME" == /root && "$TERM" == dumb ]] && ok "HOME=/root TERM=dumb" || bad "HOME=$HOME TERM=$TERM"
  [[ -n "${IPVSD_SMOKE_TOKEN:-}" && "${CI:-unset}" == "${IPVSD_SMOKE_CI:-unset}" ]] &&
    ok "IPVSD_* and CI passed through" || bad "env pass-through: token=${IPVSD_SMOKE_TOKEN:-} CI=${CI:-unset}"
  [[ -d "${IPVSD_VM_SHARE:-/nonexistent}" ]] && ok "IPVSD_VM_SHARE=$IPVSD_VM_SHARE" || bad "no IPVSD_VM_SHARE"

  # Filesystems.
  check "/tmp writable" bash -c 'echo x >/tmp/smoke && rm /tmp/smoke'
  check "/run writable" bash -c 'echo x >/run/smoke && rm /run/smoke'
  if touch "$script_dir/.smoke-rw-probe" 2>/dev/null; then
    rm -f "$script_dir/.smoke-rw-probe"
    bad "the host's / is writable from the guest"
  else
    ok "the host's / is read-only"
  fi

  # Kernel interfaces.
  check "lo is up" bash -c 'ip -o link show lo | grep -q "[<,]UP[,>]"'
  check "ip_forward writable" bash -c 'echo 1 >/proc/sys/net/ipv4/ip_forward && [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]'
  check "dmesg shows the IPVS module" bash -c 'dmesg | grep -q "IPVS: ipvs loaded"'

  # IPVS in a fresh network namespace. NAT needs the real server's network routable (else EINVAL):
  # give the namespace a dummy link on 198.51.100.0/24.
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  check "ip netns add" ip netns add "$ns"
  check "netns links" bash -c "ip -n $ns link set lo up &&
    ip -n $ns link add d0 type dummy && ip -n $ns addr add 198.51.100.254/24 dev d0 && ip -n $ns link set d0 up &&
    ip -n $ns link add v0 type veth peer name v1 && ip -n $ns link add br0 type bridge"
  check "ipvsadm -A (rr)" ip netns exec "$ns" ipvsadm -A -t 192.0.2.1:80 -s rr
  check "ipvsadm -a (NAT)" ip netns exec "$ns" ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.1:80 -m
  out=$(ip netns exec "$ns" ipvsadm -Sn 2>&1) || true
  printf '%s\n' "$out" | sed 's/^/     | /'
  if grep -qx -- '-A -t 192.0.2.1:80 -s rr' <<<"$out" && grep -q -- '^-a -t 192.0.2.1:80 -r 198.51.100.1:80 -m' <<<"$out"; then
    ok "ipvsadm -Sn shows the service and the NAT destination"
  else
    bad "ipvsadm -Sn output"
  fi
  local port=8000 scheds_ok=1
  for sched in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
    port=$((port + 1))
    ip netns exec "$ns" ipvsadm -A -t "192.0.2.1:$port" -s "$sched" 2>&1 || { bad "scheduler $sched"; scheds_ok=0; }
  done
  ((scheds_ok)) && ok "a service per scheduler ($(ip netns exec "$ns" ipvsadm -Ln | grep -c '^TCP') services)"
  [[ "$(ipvsadm -Sn | wc -l)" == 0 ]] && ok "the root netns has no IPVS services (namespaced)" || bad "root netns has services"
  check "ip netns del" ip netns del "$ns"
  trap - EXIT

  # Node (the tests' runtime) starts; time it, as a calibration point for timeouts.
  local t0 t1 nv
  t0=$(date +%s%N)
  if nv=$(node -e 'console.log(process.version)' 2>&1); then
    t1=$(date +%s%N)
    ok "node $nv runs (startup $(((t1 - t0) / 1000000)) ms)"
  else
    bad "node: $nv"
  fi

  # A result file for the host to find after the VM is gone.
  {
    printf 'token=%s\n' "${IPVSD_SMOKE_TOKEN:-}"
    printf 'kernel=%s\n' "$(uname -r)"
    printf 'node=%s\n' "${nv:-}"
  } >"$IPVSD_VM_SHARE/smoke-${IPVSD_SMOKE_TOKEN:-none}.txt" && ok "wrote the share file" || bad "cannot write the share"

  if ((failed)); then echo "guest checks: FAILED"; exit 1; fi
  echo "guest checks: all passed; exiting $SMOKE_STATUS on purpose"
  exit "$SMOKE_STATUS"
}

if [[ "${1:-}" == "--guest" ]]; then
  guest
fi

# -------------------------------------------------------------------------------------------- host
vms=1
if [[ "${1:-}" == "--vms" ]]; then vms=${2:?--vms needs a number}; fi
[[ "$vms" =~ ^[1-9][0-9]*$ ]] || { echo "usage: smoke.sh [--vms N]" >&2; exit 2; }
share="$(cd -- "$script_dir/../.." && pwd -P)/.vm/share"
cd -- "$script_dir/../.."

declare -a pids=() tokens=() logs=()
start=$(date +%s%N)
for ((i = 0; i < vms; i++)); do
  token="t$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  tokens+=("$token")
  log=$(mktemp)
  logs+=("$log")
  # Each VM's output goes to its own file when several run at once; one VM streams live.
  if ((vms == 1)); then
    IPVSD_SMOKE_TOKEN=$token IPVSD_SMOKE_CWD=$PWD IPVSD_SMOKE_CI=${CI:-unset} \
      bash "$script_dir/run.sh" --timeout 300 -- bash "$script_dir/smoke.sh" --guest &
  else
    IPVSD_SMOKE_TOKEN=$token IPVSD_SMOKE_CWD=$PWD IPVSD_SMOKE_CI=${CI:-unset} \
      bash "$script_dir/run.sh" --timeout 300 -- bash "$script_dir/smoke.sh" --guest >"$log" 2>&1 &
  fi
  pids+=($!)
done

failed=0
for ((i = 0; i < vms; i++)); do
  set +e
  wait "${pids[i]}"
  rc=$?
  set -e
  ((vms > 1)) && sed "s/^/[vm$i] /" "${logs[i]}"
  rm -f -- "${logs[i]}"
  if ((rc == SMOKE_STATUS)); then
    echo "ok   [vm$i] run.sh returned the guest's status $rc"
  else
    echo "FAIL [vm$i] run.sh returned $rc, expected $SMOKE_STATUS (1 = a guest check failed, 0 = status lost, 124/125 = VM)"
    failed=1
  fi
  f="$share/smoke-${tokens[i]}.txt"
  if [[ -f "$f" ]] && grep -qx "token=${tokens[i]}" "$f"; then
    echo "ok   [vm$i] the guest's share file is on the host: $(tr '\n' ' ' <"$f")"
  else
    echo "FAIL [vm$i] no share file $f with the guest's token"
    failed=1
  fi
  rm -f -- "$f"
done
printf 'elapsed %d ms for %d VM(s)\n' "$((($(date +%s%N) - start) / 1000000))" "$vms"
if ((failed)); then echo "smoke: FAILED"; exit 1; fi
echo "smoke: all passed"
