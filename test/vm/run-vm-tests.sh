#!/usr/bin/env bash
# The VM tier: build on the host, boot Debian's kernel (which has IPVS) once, run every vm test in it.
set -euo pipefail
cd "$(dirname "$0")/../.."
# qemu, busybox-static, kmod, cpio…: installed when missing, as `npm test` does before every tier.
bash scripts/install-deps.sh
npm run --silent build
bash test/vm/prepare.sh
# One vitest process per test file, all in one boot: in a single long vitest run the file loaded last
# has twice failed to load (ENOENT on a Vite temp file under /tmp, gone by then), while it passes on
# its own. Every file runs even when one fails; the status is 1 if any did.
files=("$@")
if ((${#files[@]} == 0)); then files=(test/vm/*.test.ts); fi
exec bash test/vm/run.sh --timeout "${IPVSD_VM_TIMEOUT:-1500}" -- bash -c '
  rc=0
  for f in "$@"; do node node_modules/vitest/vitest.mjs run --configLoader runner --project vm "$f" || rc=1; done
  exit $rc' run-vm-tests "${files[@]}"
