#!/usr/bin/env bash
# demo/run.sh — `npm run demo [-- --keep]`: a NAT director pair doing its job (see demo/demo.ts).
#
# As root on Debian. Where this kernel has IPVS the demo runs in namespaces right here; where it
# has not (e.g. a container host, or this project's dev machine) it runs in the VM tier's throwaway
# VM (Debian's kernel under qemu, test/vm/run.sh), installing qemu and friends with apt-get first if
# they are missing. Either way it leaves nothing behind, unless --keep: then the site stays up until
# Ctrl-C, and `npm run demo:exec -- NODE COMMAND…` runs commands in it from another terminal.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option '$arg' (usage: npm run demo [-- --keep])" >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "demo: run as root (it makes network namespaces and programs IPVS)" >&2; exit 2; }
[[ -d node_modules ]] || { echo "demo: run 'npm ci' first" >&2; exit 2; }

echo "demo: building"
npm run --silent build
npx tsc -p demo/tsconfig.json

# The demo's own tools: ip, ipvsadm (the demo shows the kernel table with it), curl, node.
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ipvsadm >/dev/null || need+=(ipvsadm)
command -v curl >/dev/null || need+=(curl)
command -v pkill >/dev/null || need+=(procps)

if modprobe -q ip_vs 2>/dev/null && [[ -e /proc/net/ip_vs ]]; then
  mode=host
else
  mode=vm
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  [[ -x /bin/busybox ]] || need+=(busybox-static)
  command -v cpio >/dev/null || need+=(cpio)
  command -v modinfo >/dev/null || need+=(kmod)
  command -v xz >/dev/null || need+=(xz-utils)
fi
if ((${#need[@]})); then
  echo "demo: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi

if [[ $mode == host ]]; then
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
