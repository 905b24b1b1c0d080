#!/usr/bin/env bash
# test/vm/prepare.sh — fetch a Debian kernel that has IPVS and build the initramfs the VM tier boots.
#
# Why: this machine's kernel has no IPVS (and no modules at all), so every test that needs kernel IPVS
# runs inside a qemu (TCG) VM booting Debian's stock kernel (see DESIGN.md §6). This script makes
# everything that VM needs under $REPO/.vm (git-ignored):
#
#   .vm/debs/linux-image-<ver>-amd64_*.deb   the downloaded package (apt-get download; never installed)
#   .vm/kernel/<ver>/                        its `dpkg -x` tree, plus the modules.dep we generate
#   .vm/initramfs-<ver>.cpio.gz              busybox-static + the modules + /init (below)
#   .vm/initramfs-<ver>.stamp                hash of the inputs; the initramfs is rebuilt only when it changes
#   .vm/current                              the kernel version run.sh boots
#   .vm/share/                               the directory the guest mounts read-write (same path inside)
#
# Idempotent and cheap when nothing changed (it is called by run.sh before every boot); safe to run
# concurrently (flock on .vm/prepare.lock). Needs: apt-get, dpkg, depmod (kmod), cpio, gzip,
# busybox-static, sha256sum; xz/zstd only if a future kernel ships compressed modules.
#
# Usage: test/vm/prepare.sh [--quiet]
# Env:   IPVSD_VM_KERNEL_PKG=linux-image-6.1.0-50-amd64  pin the package instead of following
#        linux-image-amd64's dependency.
set -euo pipefail

quiet=0
[[ "${1:-}" == "--quiet" ]] && quiet=1
log() { ((quiet)) || printf 'vm/prepare: %s\n' "$*" >&2; }
die() { printf 'vm/prepare: ERROR: %s\n' "$*" >&2; exit 1; }

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# The repo root is two levels up from test/vm; do not depend on git being present (CI tarballs).
repo=$(cd -- "$script_dir/../.." && pwd -P)
vm="$repo/.vm"
mkdir -p "$vm/debs" "$vm/kernel" "$vm/share"

# Two run.sh invocations may start at once: serialize the download/build, not the boots.
exec 9>"$vm/prepare.lock"
flock 9

# ---------------------------------------------------------------------------------------------------
# 1. Which kernel. linux-image-amd64 is a metapackage; its Depends names the versioned ABI package
#    (e.g. linux-image-6.1.0-50-amd64). Offline, fall back to whatever we prepared last time.
# ---------------------------------------------------------------------------------------------------
pkg="${IPVSD_VM_KERNEL_PKG:-}"
if [[ -z "$pkg" ]]; then
  # apt-cache takes ~0.7 s and run.sh calls us before every boot: remember the answer for as long as
  # the apt package lists are unchanged (their names, sizes and mtimes).
  lists_sig=$(stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [[ -s "$vm/resolved" && "$(sed -n 1p "$vm/resolved")" == "$lists_sig" ]]; then
    pkg=$(sed -n 2p "$vm/resolved")
  else
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1 || true)
    [[ -n "$pkg" ]] && printf '%s\n%s\n' "$lists_sig" "$pkg" >"$vm/resolved"
  fi
fi
if [[ -z "$pkg" ]]; then
  if [[ -s "$vm/current" ]]; then
    pkg="linux-image-$(<"$vm/current")"
    log "apt-cache has no linux-image-amd64; reusing $pkg"
  else
    die "cannot find the kernel package: 'apt-cache depends linux-image-amd64' gave nothing (run apt-get update?)"
  fi
fi
set_version() {
  ver=$1
  kroot="$vm/kernel/$ver"
  moddir="$kroot/lib/modules/$ver"
  vmlinuz="$kroot/boot/vmlinuz-$ver"
}
set_version "${pkg#linux-image-}"

extract_vmlinux() { # BZIMAGE OUT: the kernel's own scripts/extract-vmlinux, for xz/zstd/gzip payloads
  local in=$1 out=$2 magic tool off
  for magic in xz zstd gzip; do
    case $magic in
      xz) tool='xz -dc'; off=$(LC_ALL=C grep -abo $'\xfd7zXZ\x00' "$in" | head -n1 | cut -d: -f1 || true) ;;
      zstd) tool='zstd -qdc'; off=$(LC_ALL=C grep -abo $'\x28\xb5\x2f\xfd' "$in" | head -n1 | cut -d: -f1 || true) ;;
      gzip) tool='gzip -dc'; off=$(LC_ALL=C grep -abo $'\x1f\x8b\x08' "$in" | head -n1 | cut -d: -f1 || true) ;;
    esac
    [[ -n "$off" ]] || continue
    command -v "${tool%% *}" >/dev/null || continue
    # The payload is followed by other data: the decompressor complains about trailing garbage.
    tail -c +$((off + 1)) -- "$in" | $tool 2>/dev/null >"$out" || true
    if [[ "$(head -c 4 -- "$out" 2>/dev/null | od -An -c | tr -d ' ')" == '177ELF' ]]; then
      return 0
    fi
  done
  rm -f -- "$out"
  return 1
}

# ---------------------------------------------------------------------------------------------------
# 2. Download and unpack (only once per version). dpkg -x needs no root and touches no dpkg database.
#    Unpack into a temp dir and rename, so an interrupted run never leaves a half tree that looks done.
# ---------------------------------------------------------------------------------------------------
deb=
if [[ ! -f "$vmlinuz" || ! -f "$moddir/modules.dep" ]]; then
  deb=$(ls -1 "$vm/debs/${pkg}_"*_amd64.deb 2>/dev/null | tail -n1 || true)
  if [[ -z "$deb" ]]; then
    log "downloading $pkg"
    # apt-get download writes into the cwd; as root it warns that _apt cannot write there (harmless).
    (cd "$vm/debs" && apt-get download -q "$pkg" 2>&1 | grep -v 'Download is performed unsandboxed' >&2) ||
      true
    deb=$(ls -1 "$vm/debs/${pkg}_"*_amd64.deb 2>/dev/null | tail -n1 || true)
  fi
fi
if [[ ! -f "$vmlinuz" || ! -f "$moddir/modules.dep" ]] && [[ -z "$deb" ]]; then
  # No network, or the mirror dropped that ABI: keep booting the kernel prepared last time, if any.
  prev=$(cat "$vm/current" 2>/dev/null || true)
  if [[ -n "$prev" && -f "$vm/kernel/$prev/lib/modules/$prev/modules.dep" ]]; then
    log "apt-get download $pkg failed; keeping the kernel prepared before ($prev)"
    set_version "$prev"
  else
    die "apt-get download $pkg failed"
  fi
fi
if [[ ! -f "$vmlinuz" || ! -f "$moddir/modules.dep" ]]; then
  log "unpacking $(basename -- "$deb")"
  tmp="$vm/kernel/.$ver.tmp.$$"
  rm -rf -- "$vm/kernel/.$ver.tmp."* # leftovers of interrupted runs (we hold the lock)
  dpkg -x "$deb" "$tmp"
  # The package ships no modules.dep (its postinst runs depmod); generate it inside the unpacked tree.
  depmod -b "$tmp" "$ver"
  rm -rf -- "$kroot"
  mv -- "$tmp" "$kroot"
fi
[[ -f "$vmlinuz" ]] || die "no $vmlinuz"

# Boot the uncompressed ELF vmlinux instead of the bzImage: qemu then enters it through its PVH note
# (CONFIG_PVH), which skips the real-mode setup and, above all, the xz decompression, ~3 s under TCG.
# run.sh falls back to the bzImage when there is no vmlinux.
vmlinux="$kroot/boot/vmlinux-$ver"
if [[ ! -f "$vmlinux" && ! -f "$kroot/boot/.no-vmlinux" ]]; then
  if grep -qx 'CONFIG_PVH=y' "$kroot/boot/config-$ver" 2>/dev/null &&
    extract_vmlinux "$vmlinuz" "$vmlinux.tmp"; then
    mv -f -- "$vmlinux.tmp" "$vmlinux"
  else
    log "no PVH-bootable vmlinux could be extracted; booting the bzImage (~3 s slower)"
    touch "$kroot/boot/.no-vmlinux"
  fi
fi

# ---------------------------------------------------------------------------------------------------
# 3. Modules, in load order. The guest's /init loads them all with busybox insmod before it chroots
#    into the host's root: the host has no /lib/modules/<guest ver>, so nothing can autoload later
#    (not schedulers, not conntrack). Entries that are built in (modules.builtin) or absent in this
#    kernel are skipped; entries marked ! must exist. Dependencies come from modules.dep.
#    crc32c_generic comes first: libcrc32c (needed by nf_conntrack, ip_vs, sctp) only has a *soft*
#    dependency on "crc32c", which modules.dep does not list, and fails to load without it.
# ---------------------------------------------------------------------------------------------------
modules=(
  # 9p root over virtio-pci
  '!virtio_pci' '!9pnet_virtio' '!9p'
  virtio_rng # entropy for getrandom() early in boot (qemu -device virtio-rng-pci)
  # crypto for libcrc32c, then netfilter and IPVS
  '!crc32c_generic' '!libcrc32c'
  '!nf_defrag_ipv4' nf_defrag_ipv6 '!nf_conntrack' '!nf_nat'
  '!ip_vs'
  '!ip_vs_rr' '!ip_vs_wrr' '!ip_vs_lc' '!ip_vs_wlc' '!ip_vs_lblc' '!ip_vs_lblcr' '!ip_vs_dh'
  '!ip_vs_sh' '!ip_vs_sed' '!ip_vs_nq' ip_vs_fo ip_vs_ovf ip_vs_mh ip_vs_twos
  # nftables for full NAT (src/nat: a nat chain with ct matches and snat; masquerade for tests)
  '!nf_tables' '!nft_ct' '!nft_nat' '!nft_chain_nat' nft_masq
  # links the tests build
  '!veth' bridge dummy nlmon macvlan
  # real SCTP sockets (IPVS' own SCTP support is built into ip_vs); cheap
  sctp
)
# Built-in ones need no loading (Debian could turn one into =y some day).
declare -A builtin=()
while IFS= read -r p; do
  b=${p##*/}; b=${b%%.ko*}; builtin[${b//-/_}]=1
done <"$moddir/modules.builtin"

# name (with '-' folded to '_') -> path relative to $moddir, and path -> its deps, from modules.dep
declare -A mpath=() mdeps=()
while IFS= read -r line; do
  p=${line%%:*}
  b=${p##*/}; b=${b%%.ko*}
  mpath[${b//-/_}]=$p
  mdeps[$p]=${line#*:}
done <"$moddir/modules.dep"

declare -A seen=()
order=()
add_path() { # depth-first: every dependency before the module itself
  local p=$1 d
  [[ -n "${seen[$p]:-}" ]] && return 0
  seen[$p]=1
  for d in ${mdeps[$p]}; do add_path "$d"; done
  order+=("$p")
}
for m in "${modules[@]}"; do
  req=0
  [[ $m == '!'* ]] && { req=1; m=${m#!}; }
  if [[ -n "${mpath[$m]:-}" ]]; then
    add_path "${mpath[$m]}"
  elif [[ -n "${builtin[$m]:-}" ]]; then
    :
  elif ((req)); then
    die "kernel $ver has no module $m (and it is not built in)"
  else
    log "kernel $ver has no $m; skipped"
  fi
done

busybox=$(command -v busybox || true)
[[ -x /bin/busybox ]] && busybox=/bin/busybox
[[ -n "$busybox" ]] || die "busybox not found (apt-get install busybox-static)"
# The initramfs has no libc: busybox must be the static build.
if LC_ALL=C file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked'; then
  die "$busybox is dynamically linked; install busybox-static"
fi

# ---------------------------------------------------------------------------------------------------
# 4. Rebuild only if an input changed: this script (it contains /init), busybox, the module list and
#    the kernel files we use.
# ---------------------------------------------------------------------------------------------------
initrd="$vm/initramfs-$ver.cpio.gz"
stampf="$vm/initramfs-$ver.stamp"
stamp=$(
  {
    sha256sum "${BASH_SOURCE[0]}" "$busybox" | cut -d' ' -f1
    stat -c '%n %s %Y' "$vmlinuz"
    printf '%s\n' "${order[@]}"
    (cd "$moddir" && stat -c '%n %s %Y' "${order[@]}")
  } | sha256sum | cut -d' ' -f1
)
if [[ -f "$initrd" && -f "$stampf" && "$(<"$stampf")" == "$stamp" ]]; then
  log "initramfs for $ver is up to date"
  printf '%s\n' "$ver" >"$vm/current.tmp" && mv -f "$vm/current.tmp" "$vm/current"
  exit 0
fi

log "building initramfs for $ver (${#order[@]} modules)"
stage=$(mktemp -d "$vm/.initramfs.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,share,modules}
cp -- "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
# The kernel opens /dev/console for init's stdio before /init can mount devtmpfs. The kernel's
# built-in initramfs normally has it, but do not rely on that (needs root to mknod; skip otherwise).
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

# Debian signs its modules, and checking 41 RSA signatures under TCG doubles the time insmod takes
# (~2 s -> ~1 s). The kernel does not enforce signatures (no module.sig_enforce, no lockdown), so cut
# them off: the kernel then notes "module verification failed ... tainting kernel" once in dmesg
# (taint flag E), which is harmless here. Layout of the tail: <sig> <struct module_signature, 12 bytes,
# sig_len big-endian in its last 4> "~Module signature appended~\n" (28 bytes).
strip_signature() {
  local f=$1 size siglen
  [[ "$(tail -c 28 -- "$f")" == '~Module signature appended~' ]] || return 0
  size=$(stat -c %s -- "$f")
  siglen=$(tail -c 40 -- "$f" | head -c 12 | od -An -tu1 | awk '{ print (($9 * 256 + $10) * 256 + $11) * 256 + $12 }')
  ((siglen > 0 && siglen + 40 < size)) || return 0
  truncate -s $((size - 40 - siglen)) -- "$f"
}

i=0
: >"$stage/modules/order"
for p in "${order[@]}"; do
  b=${p##*/}; b=${b%%.ko*}
  dst=$(printf '%02d-%s.ko' "$i" "$b")
  # busybox insmod passes the file to init_module(2) as is, and this kernel may lack
  # CONFIG_MODULE_DECOMPRESS: always decompress on the host.
  case "$p" in
    *.ko) cp -- "$moddir/$p" "$stage/modules/$dst" ;;
    *.ko.xz) xz -dc -- "$moddir/$p" >"$stage/modules/$dst" ;;
    *.ko.zst) zstd -qdc -- "$moddir/$p" >"$stage/modules/$dst" ;;
    *.ko.gz) gzip -dc -- "$moddir/$p" >"$stage/modules/$dst" ;;
    *) die "unknown module format: $p" ;;
  esac
  strip_signature "$stage/modules/$dst"
  printf '%s\n' "$dst" >>"$stage/modules/order"
  i=$((i + 1))
done

# ---------------------------------------------------------------------------------------------------
# /init (busybox sh, PID 1). Contract with run.sh:
#   kernel cmdline  ipvsd.run=<ID>              (nothing else: the cmdline is size-limited)
#   9p tag hostroot the host's /, read-only     -> /newroot
#   9p tag vmshare  $REPO/.vm/share, read-write -> /newroot<same host path>
#   /share/<ID>.mnt   host path of the share (one line)
#   /share/<ID>.sh    bash script run as `chroot /newroot /bin/bash <share path>/<ID>.sh`
#   console         IPVSD_VM_START <ID>, the command's output, IPVSD_VM_EXIT=<status> <ID>, power off.
#                   Errors before the command runs print IPVSD_VM_ERROR=... and power off without
#                   an exit marker.
# ---------------------------------------------------------------------------------------------------
cat >"$stage/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

halt_now() {
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 60
}
fail() {
  echo "IPVSD_VM_ERROR=$*"
  halt_now
}

failed_mods=
for m in $(cat /modules/order); do
  insmod "/modules/$m" || failed_mods="$failed_mods $m"
done

id=
for arg in $(cat /proc/cmdline); do
  case "$arg" in ipvsd.run=*) id=${arg#ipvsd.run=} ;; esac
done
[ -n "$id" ] || fail "no ipvsd.run= on the kernel command line"

# msize: bigger 9p messages = fewer round trips (the default 8 KiB makes node's startup crawl).
# Root is read-only, and cache=loose makes it fast (node's first start 1.5 s instead of 3 s, loading
# typescript 7 s instead of 15 s); the price: files the host changes during a run may look stale.
# The share uses cache=none so every write reaches the host at once (host reads it after poweroff,
# or even while the VM runs).
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /newroot ||
  fail "cannot mount the host root over 9p"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none vmshare /share ||
  fail "cannot mount the share over 9p"
[ -f "/share/$id.mnt" ] || fail "no /share/$id.mnt"
read -r sharepath <"/share/$id.mnt"
[ -d "/newroot$sharepath" ] || fail "the share's mount point $sharepath does not exist in the host root"
mount -o move /share "/newroot$sharepath" || fail "cannot move the share to $sharepath"

mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm 2>/dev/null
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
# /tmp and /run must be writable (ip netns add, keepalived pid files, node's tmpdir). This hides the
# host's /tmp and /run: the guest never sees files the host put there.
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
# /var/run is a symlink to /run on Debian, so it is covered; if it were a real directory, it would
# stay read-only: give it its own tmpfs then.
[ -L /newroot/var/run ] || mount -t tmpfs -o mode=0755 tmpfs /newroot/var/run
mkdir -p /newroot/run/lock /newroot/run/netns
mount -t debugfs debugfs /newroot/sys/kernel/debug 2>/dev/null || true

hostname ipvsd-vm
ip link set lo up

# stdin is /dev/null: nothing may wait for console input. stdout and stderr are one pipe (a FIFO that
# cat relays to the console), not the console tty: programs then behave as in CI (no TTY reporters
# redrawing lines, no colours, no tty line discipline), and the order of the two streams is kept.
# The START line tells run.sh that what follows is the command's output (before it: firmware noise).
mkfifo /cmd-out
cat /cmd-out &
relay=$!
echo "IPVSD_VM_START $id"
[ -z "$failed_mods" ] || echo "vm/run: WARNING: these modules failed to load:$failed_mods (see dmesg)"
chroot /newroot /bin/bash "$sharepath/$id.sh" </dev/null >/cmd-out 2>&1
rc=$?
# Anything the command left running (a daemon, a server started with &) still holds the FIFO open, so
# the relay would never see EOF: kill every process but us and the relay (poweroff would anyway), then
# let the relay drain what they wrote. The watchdog only guards against an unkillable (D state) one.
for p in /proc/[0-9]*; do
  p=${p#/proc/}
  [ "$p" = 1 ] || [ "$p" = "$relay" ] || kill -KILL "$p" 2>/dev/null
done
(sleep 5; kill -KILL "$relay" 2>/dev/null) &
watchdog=$!
wait "$relay"
kill -KILL "$watchdog" 2>/dev/null
sync
echo "IPVSD_VM_EXIT=$rc $id"
halt_now
INIT
chmod 755 "$stage/init"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
  gzip -1 >"$initrd.tmp"
mv -f "$initrd.tmp" "$initrd"
printf '%s\n' "$stamp" >"$stampf"
printf '%s\n' "$ver" >"$vm/current.tmp" && mv -f "$vm/current.tmp" "$vm/current"
log "wrote $initrd ($(du -h "$initrd" | cut -f1))"
