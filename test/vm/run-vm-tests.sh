#!/usr/bin/env bash
# The VM tier: build on the host, boot Debian's kernel (which has IPVS) once, run every vm test in it.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run --silent build
bash test/vm/prepare.sh
exec bash test/vm/run.sh --timeout "${IPVSD_VM_TIMEOUT:-1500}" -- node node_modules/vitest/vitest.mjs run --configLoader runner --project vm "$@"
