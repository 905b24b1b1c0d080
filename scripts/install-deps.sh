#!/usr/bin/env bash
# scripts/install-deps.sh — the set-up that `npm test`, `npm run demo` and .ci/run share, so a fresh
# Debian machine needs nothing but Node.js (≥ 20, with npm) and this repository.
#
#   1. the Debian packages below, installed with apt-get when any is missing (needs root then);
#   2. the project itself (`npm ci`: dependencies and the native addon), when node_modules is missing.
#
# Cheap when everything is there (one dpkg-query), so callers run it every time.
# Usage: scripts/install-deps.sh [--debian-only]   (--debian-only: skip step 2)
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

# One list for every tier, the demo and CI. Each line says who needs the package.
DEBIAN_PACKAGES=(
  g++ make python3  # node-gyp builds the native addon during npm ci; python3 also receives sd_notify in a test
  qemu-system-x86   # the VM tier and the demo on a kernel without IPVS: Debian's kernel under TCG
  busybox-static    # the VM's initramfs
  kmod cpio         # module dependency resolution, initramfs packing
  xz-utils          # test/vm/prepare.sh unpacks the kernel once so the VM boots faster
  ipvsadm           # test oracle, the demo's view of the kernel table, benchmark reference
  keepalived        # VRRP interop peer
  iproute2          # namespaces, veth (test oracle)
  curl              # traffic through the VIP
  tcpdump           # netlink capture (nlmon) for golden bytes
  prometheus        # promtool lints the /metrics exposition
  systemd           # systemd-analyze verify|security on the unit; systemd as PID 1 in the VM test
  openssl           # self-signed certificates for the https check tests
  procps            # pkill (the demo kills a real server)
  frr bird2         # routing daemons that import ipvsd's announcements and speak BGP (N active directors)
  nftables          # nft: full NAT's source-NAT table (the ecosystem's own interface, as kube-proxy uses)
)

debian_only=0
case "${1:-}" in
  '') ;;
  --debian-only) debian_only=1 ;;
  *) echo "install-deps: unknown option '$1' (usage: scripts/install-deps.sh [--debian-only])" >&2; exit 2 ;;
esac

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-deps: run as root to install them (sudo npm test, sudo npm run demo)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ((!debian_only)) && [[ ! -d node_modules ]]; then
  echo "install-deps: installing the project (npm ci)"
  npm ci
fi
