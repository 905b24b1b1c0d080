#!/usr/bin/env bash
# demo/run.sh — `npm run demo [-- --keep]`: a NAT director pair doing its job (see demo/demo.ts).
#
# As root on Debian. Where this kernel has IPVS the demo runs in namespaces right here; where it
# has not (e.g. a container host, or this project's dev machine) it runs in the VM tier's throwaway
# VM (Debian's kernel under qemu, test/vm/run.sh). A fresh checkout is set up first (Debian packages,
# then npm ci: scripts/install-deps.sh). Either way it leaves nothing behind, unless --keep: then the
# site stays up until Ctrl-C, and `npm run demo:exec -- NODE COMMAND…` runs commands in it from
# another terminal.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option '$arg' (usage: npm run demo [-- --keep])" >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "demo: run as root (it makes network namespaces and programs IPVS)" >&2; exit 2; }
# The Debian packages (qemu and friends for a kernel without IPVS; ip, ipvsadm, curl, pkill for the
# demo itself) and, on a fresh checkout, the project (npm ci): the same set-up as `npm test`.
bash scripts/install-deps.sh

echo "demo: building"
npm run --silent build
npx tsc -p demo/tsconfig.json

if modprobe -q ip_vs 2>/dev/null && [[ -e /proc/net/ip_vs ]]; then
  echo "demo: this kernel has IPVS: running in network namespaces here"
  exec node dist/demo/demo.js "$@"
fi
echo "demo: this kernel has no IPVS: running in a VM with Debian's kernel (qemu; first use downloads it)"
bash test/vm/prepare.sh --quiet
timeout=600
((keep)) && timeout=0
# The --keep request directory lives in the VM's share: gone with the demo, so demo:exec never
# mistakes a finished demo for a running one.
trap 'rm -rf .vm/share/ipvsd-demo' EXIT
rm -rf .vm/share/ipvsd-demo
bash test/vm/run.sh --timeout "$timeout" --mem 3072 -- node dist/demo/demo.js "$@"
