#!/usr/bin/env bash
# test/vm/run.sh — run one command inside a throwaway VM whose kernel has IPVS.
#
# Why: this machine's kernel has no IPVS, so the VM test tier boots Debian's stock kernel under qemu
# (TCG; -enable-kvm hangs here) and runs the command in the *host's own root filesystem* (node,
# ipvsadm, keepalived, iproute2 and this repo, all as on the host). See DESIGN.md §6.
#
# Usage:
#   test/vm/run.sh [--timeout SECONDS] [--mem MB] [--smp N] -- COMMAND [ARGS...]
#
#   e.g. test/vm/run.sh -- ipvsadm -Ln
#        test/vm/run.sh --timeout 600 -- node dist/test/vm/some-suite.js
#        test/vm/run.sh -- bash test/vm/smoke.sh
#
# What the command sees:
#   - the host's / read-only (9p, cached: files the host changes *during* the run may look stale in
#     the guest; hand such files over through the share), the host's current directory as its
#     working directory;
#   - $REPO/.vm/share read-write at the same path as on the host ($IPVSD_VM_SHARE): write fixtures and
#     results there, the host reads them after run.sh returns (writes are not cached: visible at once);
#   - fresh tmpfs on /tmp, /run (/var/run), /dev/shm: the host's /tmp is NOT visible, so keep files
#     the guest must read elsewhere (e.g. in the share or the repo), and do not call run.sh from /tmp;
#   - proc, sysfs, devtmpfs, devpts; loopback up; root; a kernel with ip_vs, all schedulers, nf_nat,
#     veth, bridge, dummy, macvlan, nlmon, sctp already loaded (nothing can be autoloaded);
#     ip_forward is writable; `dmesg` works (kernel messages stay off the console: loglevel=3);
#   - stdin is /dev/null; stdout and stderr are one pipe (not a tty: output as in CI), relayed to the
#     serial console, which run.sh streams to its stdout live (CR stripped). Kernel messages of level
#     err and worse still reach the console and so may interleave: put machine-readable results in a
#     file in the share, not on stdout;
#   - when the command exits, every process it left behind is killed (SIGKILL) and the VM powers off;
#   - environment: PATH, HOME=/root, TERM=dumb, LANG=C.UTF-8, USER/LOGNAME=root, IPVSD_VM=1,
#     IPVSD_VM_SHARE, plus every IPVSD_* variable and CI from the caller's environment.
#
# Exit status: the command's own status. 124 if the timeout (default 900 s, counting boot) passed
# without the command finishing; 125 if the VM died or failed before reporting a status (the console
# log is then kept under .vm/logs/ and its path printed on stderr). The status travels on the console
# as the marker line "IPVSD_VM_EXIT=<n> <run id>" (with the run id, output that merely contains a
# marker, e.g. an old console log being printed, is not mistaken for it).
#
# Cost (measured here): `run.sh -- true` takes ≈ 4–5 s in all, boot to command ≈ 4 s; under TCG the
# first `node -e 1` takes ≈ 1.5 s (≈ 0.4 s once cached), JavaScript runs ~15–20× slower than on the
# host and console output moves at ≈ 150–200 KB/s, so batch many cases into one run and write bulky
# results to the share. Several run.sh may run at once (each run has its own id and files).
# Run as root (9p security_model=passthrough maps guest root to host root).
#
# Env: IPVSD_VM_TIMEOUT, IPVSD_VM_MEM, IPVSD_VM_SMP set the defaults of the options (timeout 0 = none);
#      IPVSD_VM_CPU=<qemu -cpu model> (default max); IPVSD_VM_VERBOSE=1 shows the boot's console on
#      stderr; IPVSD_VM_KEEP_LOG=1 keeps the console log of successful runs too (.vm/logs/).
set -euo pipefail

die() { printf 'vm/run: ERROR: %s\n' "$*" >&2; exit 125; }

timeout_s=${IPVSD_VM_TIMEOUT:-900}
mem=${IPVSD_VM_MEM:-2048}
smp=${IPVSD_VM_SMP:-2}
while (($#)); do
  case "$1" in
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    --timeout=*) timeout_s=${1#*=}; shift ;;
    --mem) mem=${2:?--mem needs a value}; shift 2 ;;
    --mem=*) mem=${1#*=}; shift ;;
    --smp) smp=${2:?--smp needs a value}; shift 2 ;;
    --smp=*) smp=${1#*=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (usage: run.sh [--timeout S] [--mem MB] [--smp N] -- COMMAND [ARGS...])" ;;
  esac
done
(($#)) || die "no command (usage: run.sh [--timeout S] [--mem MB] [--smp N] -- COMMAND [ARGS...])"
[[ "$timeout_s" =~ ^[0-9]+$ && "$mem" =~ ^[0-9]+$ && "$smp" =~ ^[0-9]+$ ]] ||
  die "--timeout, --mem and --smp take whole numbers"

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd -- "$script_dir/../.." && pwd -P)
vm="$repo/.vm"
share="$vm/share"

# The guest sees the host's / but with its own tmpfs on these: a cwd there would not exist inside.
cwd=$(pwd -P)
case "$cwd/" in
  /tmp/* | /run/* | /var/run/* | /proc/* | /sys/* | /dev/*)
    die "the current directory $cwd is hidden inside the VM (tmpfs/proc/sys/dev there); cd elsewhere" ;;
esac

case "$repo/" in
  /tmp/* | /run/* | /var/run/*) die "the repo $repo is under a directory the VM hides with a tmpfs; move it" ;;
esac

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"

# Idempotent and quick when nothing changed; downloads the kernel on first use.
bash "$script_dir/prepare.sh" --quiet || die "prepare.sh failed"
ver=$(<"$vm/current")
kernel="$vm/kernel/$ver/boot/vmlinuz-$ver"
# prepare.sh extracts the uncompressed vmlinux when it can: booting it (PVH) saves ~3 s under TCG.
[[ -f "$vm/kernel/$ver/boot/vmlinux-$ver" ]] && kernel="$vm/kernel/$ver/boot/vmlinux-$ver"
initrd="$vm/initramfs-$ver.cpio.gz"
[[ -f "$kernel" && -f "$initrd" ]] || die "missing $kernel or $initrd"

# One id per run: names this run's files in the share and its exit marker, so concurrent VMs (they
# share .vm/share) never collide and the command cannot fake the marker.
id="r$(date +%s)-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
rundir="$vm/run/$id"
mkdir -p "$rundir" "$share"
log="$rundir/console.log"
qpid=
rpid=
cleanup() {
  local rc=$?
  if [[ -n "$qpid" ]] && kill -0 "$qpid" 2>/dev/null; then
    kill -TERM "$qpid" 2>/dev/null || true # timeout(1) forwards it to qemu
    wait "$qpid" 2>/dev/null || true
  fi
  if [[ -n "$rpid" ]]; then kill -TERM "$rpid" 2>/dev/null || true; fi
  rm -f -- "$share/$id.sh" "$share/$id.mnt"
  rm -rf -- "$rundir"
  return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The command goes in a script file in the share (the kernel command line is limited to 2 KiB and
# mangles quoting). printf %q quotes for bash; the guest runs it with the host's /bin/bash.
{
  printf '# ipvsd VM run %s, written by test/vm/run.sh\n' "$id"
  printf 'cd -- %q || { echo "vm/run: cannot cd to %q inside the VM" >&2; exit 125; }\n' "$cwd" "$cwd"
  printf 'exec env -i'
  printf ' %q' \
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "HOME=/root" "TERM=dumb" "LANG=C.UTF-8" "USER=root" "LOGNAME=root" \
    "IPVSD_VM=1" "IPVSD_VM_SHARE=$share" "IPVSD_VM_RUN_ID=$id"
  while IFS= read -r -d '' kv; do
    case "$kv" in
      IPVSD_VM=* | IPVSD_VM_SHARE=* | IPVSD_VM_RUN_ID=*) ;;
      IPVSD_*=* | CI=*) printf ' %q' "$kv" ;;
    esac
  done < <(env -0)
  # (no `--`: env(1) takes it as the command name; a COMMAND containing '=' cannot be run directly)
  printf ' %q' "$@"
  printf '\n'
} >"$share/$id.sh"
printf '%s\n' "$share" >"$share/$id.mnt"

# qemu: TCG only (-enable-kvm hangs in the firmware here). -no-reboot turns the guest's poweroff,
# a kernel panic (panic=-1 reboots at once) and a triple fault into a qemu exit. -nographic puts the
# serial console on stdio; stdin is /dev/null so qemu never touches the caller's terminal.
# -cpu max: every feature TCG can emulate, so no host binary dies of SIGILL (the default qemu64 model
# boots ~0.3 s faster; IPVSD_VM_CPU=qemu64 picks it). A comma in a qemu option value is written ",,".
# no_timer_check: on a busy host TCG runs the guest so slowly that the kernel's IO-APIC timer check
# fails and it panics ("IO-APIC + timer doesn't work!"); the check proves nothing under emulation.
# Two 9p shares: the host's / read-only (multidevs=remap: the host / spans several filesystems, whose
# inode numbers would otherwise collide) and the run share read-write.
qemu=(
  qemu-system-x86_64 -accel tcg -cpu "${IPVSD_VM_CPU:-max}" -smp "$smp" -m "$mem"
  -nographic -no-reboot -net none -monitor none
  -kernel "$kernel" -initrd "$initrd"
  -append "console=ttyS0 quiet loglevel=3 panic=-1 no_timer_check ipvsd.run=$id"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap"
  -virtfs "local,path=${share//,/,,},mount_tag=vmshare,security_model=passthrough,multidevs=remap"
  -device virtio-rng-pci
)

# The console stream is filtered live (perl: part of every Debian system, and it does unbuffered
# per-line I/O; sed/awk buffering differs between implementations):
#   - everything, raw but for CRs, goes to $log;
#   - before the guest's "IPVSD_VM_START <id>" line: firmware/kernel noise (SeaBIOS banner, terminal
#     escapes, "Booting from ROM.." without a newline), kept out of stdout; IPVSD_VM_VERBOSE=1 shows it
#     on stderr. If the command never starts, its tail is printed on stderr below;
#   - between START and "IPVSD_VM_EXIT=<n> <id>": the command's output, to stdout, live;
#   - after EXIT: the kernel's "reboot: Power down", log only.
# shellcheck disable=SC2016
filter='
  use strict; use warnings;
  my ($id, $log, $verbose) = @ARGV; @ARGV = ();
  open(my $lf, ">", $log) or die "vm/run: $log: $!\n";
  $lf->autoflush(1); STDOUT->autoflush(1); STDERR->autoflush(1);
  my $state = 0;
  while (my $line = <STDIN>) {
    $line =~ s/\r+\n\z/\n/; $line =~ s/\r+\z//;
    print $lf $line;
    if ($state == 0) {
      if ($line =~ /IPVSD_VM_START \Q$id\E$/) { $state = 1; next }
      if ($verbose) { (my $l = $line) =~ s/\e(?:\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z]|[A-Za-z])//g; print STDERR $l }
    } elsif ($state == 1) {
      if ($line =~ /^(.*)IPVSD_VM_EXIT=\d+ \Q$id\E$/) { print STDOUT "$1\n" if length $1; $state = 2; next }
      print STDOUT $line;
    }
  }
'

# qemu writes the serial console into a FIFO read by the filter (qemu's own messages go to stderr).
# Both run in the background and run.sh waits with the `wait` builtin, which a signal interrupts: the
# traps above then stop the VM (cleanup) instead of leaving an orphan qemu. timeout(1) puts qemu in
# its own process group and forwards TERM to it.
mkfifo "$rundir/console"
timeout --kill-after=10 "$timeout_s" "${qemu[@]}" </dev/null >"$rundir/console" &
qpid=$!
perl -e "$filter" "$id" "$log" "${IPVSD_VM_VERBOSE:-}" <"$rundir/console" &
rpid=$!
set +e
wait "$qpid"
qrc=$?
wait "$rpid"
set -e
qpid=
rpid=

status=$(sed -n "s/.*IPVSD_VM_EXIT=\([0-9]\{1,3\}\) $id\$/\1/p" "$log" | tail -n1)
if [[ -n "$status" ]]; then
  if [[ "${IPVSD_VM_KEEP_LOG:-}" == 1 ]]; then
    mkdir -p "$vm/logs"
    cp -- "$log" "$vm/logs/$id.log"
  fi
  exit "$status"
fi

mkdir -p "$vm/logs"
cp -- "$log" "$vm/logs/$id.log"
# Keep the 20 newest logs.
find "$vm/logs" -maxdepth 1 -name '*.log' -printf '%T@ %p\n' | sort -rn | tail -n +21 | cut -d' ' -f2- |
  xargs -r rm -f --
if ! grep -q "IPVSD_VM_START $id\$" "$log"; then
  # The command never ran: show what the boot printed (kernel panic, 9p mount failure, qemu error).
  printf 'vm/run: the VM console before the command started (last 40 lines):\n' >&2
  tail -n 40 -- "$log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[A-Za-z]//g; s/^/  | /' >&2
fi
if ((qrc == 124 || qrc == 137)); then
  printf 'vm/run: ERROR: timed out after %s s without the command finishing (console log: %s)\n' \
    "$timeout_s" "$vm/logs/$id.log" >&2
  exit 124
fi
err=$(sed -n 's/.*IPVSD_VM_ERROR=//p' "$log" | tail -n1)
printf 'vm/run: ERROR: the VM stopped (qemu status %s) without reporting an exit status%s (console log: %s)\n' \
  "$qrc" "${err:+: $err}" "$vm/logs/$id.log" >&2
exit 125
