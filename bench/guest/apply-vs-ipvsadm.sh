#!/usr/bin/env bash
# bench/guest/apply-vs-ipvsadm.sh — runs INSIDE the VM (test/vm/run.sh); started by
# bench/apply-vs-ipvsadm.sh on the host. A benchmark, not a test: timings never fail it; a broken
# setup, a wrong table (the two tools disagree) or a failed ipvsctl run is reported and exits 1.
#
# Same table (gen-table.mjs: 1000 TCP services × 10 NAT destinations, RFC 5737 addresses) two ways,
# each case in its own fresh network namespace (lo up, dummy link with 198.51.100.254/24 so the NAT
# destinations route), whole-process wall time measured inside the namespace with bash's
# $EPOCHREALTIME right around the command (so `ip netns exec` itself is not counted; /usr/bin/time
# also records the process's user/sys CPU and max RSS):
#   adm    ipvsadm -R < table.rules                         (empty table)
#   ctl    ipvsctl apply table.yaml, installed on local storage (empty table; text output to a file)
#   noop   the same ipvsctl apply again on ctl's namespace  (must print "no changes")
#   ctl9p  ipvsctl apply table.yaml run from the project tree over 9p (secondary figure)
# Installed on local storage: before timing, the project's runtime files (dist/src, package.json, the
# production dependencies from node_modules, build/Release/*.node) are copied once to the guest's
# tmpfs, and ctl/noop run `node <copy>/dist/src/bin/ipvsctl.js`. Why: the guest reaches the project
# only through a 9p mount of the host's /, where every file node opens costs a round trip to the host
# under TCG; a build that loads ~120 module files then pays for the mount, not for its own work, and
# a build with a one-file bundle does not. A real director runs ipvsctl from its local disk, and
# ipvsadm is a binary already in the page cache, so the local copy is the fair comparison. ctl9p
# (the same apply straight from the 9p tree) stays as a secondary column, for what the mount costs.
# The project measured is $IPVSD_BENCH_PROJECT (default: this tree), e.g. an older checkout, built,
# so that the same script times before and after; the table generator is always this tree's.
# Interleaved per repetition (adm first on odd ones, ctl first on even ones; the ratio is also taken
# per repetition, which cancels slow drift of the host's load). Context, measured once or a few times:
# `node -e 0`; `ipvsctl --version` (startup + the CLI's imports) from the copy and from 9p;
# `ipvsadm -Sn` of the full table; the yaml library alone on the file, cold (bench/yaml-floor.mjs: the
# floor under the config half of ipvsctl's time); and, only when measuring this tree, a step-by-step profile
# (bench/profile-apply.mjs, which imports this tree's modules) run under `node --cpu-prof`, whose
# profile lands next to the results (bench-apply.cpuprofile).
# Each repetition checks that `ipvsadm -Sn` (sorted) of the three namespaces is identical and holds
# 1000 services / 10000 destinations. Results: $IPVSD_VM_SHARE/bench-apply.json.
#
# Env: IPVSD_BENCH_REPS (default 3), IPVSD_BENCH_SERVICES (1000), IPVSD_BENCH_DESTS (10),
#      IPVSD_BENCH_PROJECT (project tree to measure, built; default this tree),
#      IPVSD_BENCH_OUT (default $IPVSD_VM_SHARE/bench-apply.json), IPVSD_BENCH_HOST_LOAD (host's
#      /proc/loadavg at the start, recorded as is).
set -euo pipefail

[[ "${IPVSD_VM:-}" == 1 ]] || { echo "bench guest: not inside test/vm/run.sh's VM (IPVSD_VM unset)" >&2; exit 2; }
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd -- "$repo"

reps=${IPVSD_BENCH_REPS:-3}
n_svc=${IPVSD_BENCH_SERVICES:-1000}
n_dst=${IPVSD_BENCH_DESTS:-10}
out_json=${IPVSD_BENCH_OUT:-$IPVSD_VM_SHARE/bench-apply.json}
project=$(cd -- "${IPVSD_BENCH_PROJECT:-$repo}" && pwd -P)
node_bin=$(command -v node)
ipvsctl_9p=("$node_bin" "$project/dist/src/bin/ipvsctl.js")
work=/tmp/ipvsd-bench
mkdir -p "$work"
failures=()
fail() { printf 'bench: FAIL %s\n' "$*"; failures+=("$*"); }
log() { printf 'bench: %s\n' "$*"; }
timebin=/usr/bin/time
[[ -x "$timebin" ]] || timebin=

# ------------------------------------------------------------------------------------------ helpers
namespaces=()
cleanup() {
  local ns
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

new_ns() { # new_ns NAME: fresh namespace, lo up, dummy rs0 with 198.51.100.254/24
  local ns=$1
  ip netns add "$ns"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
  ip -n "$ns" link add rs0 type dummy
  ip -n "$ns" addr add 198.51.100.254/24 dev rs0
  ip -n "$ns" link set rs0 up
}

# Empties the table first (synchronous), so the kernel's asynchronous netns cleanup has little left to
# do while the next measurement runs, then lets the machine settle.
drop_ns() {
  local ns=$1 keep=() n
  ip netns exec "$ns" ipvsadm -C || true
  ip netns del "$ns"
  for n in "${namespaces[@]}"; do [[ "$n" == "$ns" ]] || keep+=("$n"); done
  namespaces=("${keep[@]}")
  sleep 1
}

# timed NS STDIN STDOUT CMD...: runs CMD in NS (NS "-": here), prints
# "<exit status> <wall µs> <user s> <sys s> <max RSS KB>"; CMD's stderr goes to STDOUT.err.
timed() {
  local ns=$1 in=$2 out=$3 enter=()
  shift 3
  [[ "$ns" == - ]] || enter=(ip netns exec "$ns")
  "${enter[@]}" bash -c '
    timebin=$1 in=$2 out=$3; shift 3
    if [[ -n "$timebin" ]]; then set -- "$timebin" -f "%U %S %M" -o "$out.time" "$@"; else echo "0 0 0" >"$out.time"; fi
    s=$EPOCHREALTIME
    "$@" <"$in" >"$out" 2>"$out.err"; rc=$?
    e=$EPOCHREALTIME
    printf "%d %d %s\n" "$rc" "$(( ${e/./} - ${s/./} ))" "$(tail -n 1 "$out.time")"' _ "$timebin" "$in" "$out" "$@"
}

median() { # median N...: of numbers
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u/1000}'; }
list() { local IFS=,; printf '[%s]' "$*"; } # list NUMBER...: a JSON list
ms_list() { local u out=(); for u; do out+=("$(ms "$u")"); done; list "${out[@]}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }

# `ipvsadm -Sn`, sorted: every -a line names its service, so this compares tables built in any order.
sorted_save() { ip netns exec "$1" ipvsadm -Sn | LC_ALL=C sort; }

# ------------------------------------------------------------------------------------------ setup
log "kernel $(uname -r), $(nproc) CPUs, node $(node --version), $(ipvsadm --version 2>&1 | head -1)"
log "host load at start: ${IPVSD_BENCH_HOST_LOAD:-unknown}"
log "project measured: $project ($(git -C "$project" rev-parse --short HEAD 2>/dev/null || echo '?'))"
[[ -f "$project/dist/src/bin/ipvsctl.js" ]] || { echo "bench: $project/dist/ is missing: run npm run build there on the host" >&2; exit 2; }
node bench/gen-table.mjs "$work" --services "$n_svc" --dests "$n_dst" >/dev/null
rules="$work/table.rules"
cfg="$work/table.yaml"
log "table: $n_svc services × $n_dst destinations; $(wc -c <"$rules") B of ipvsadm rules, $(wc -c <"$cfg") B of YAML"

# ipvsctl installed on local storage: a copy of the project's runtime files on the guest's tmpfs
# (see the header). The CLI is timed from here; the 9p tree is the secondary figure.
copy=/tmp/ipvsd-copy
rm -rf "$copy"
mkdir -p "$copy/dist" "$copy/node_modules"
cp -r "$project/dist/src" "$copy/dist/"
cp "$project/package.json" "$copy/"
if compgen -G "$project/build/Release/*.node" >/dev/null; then
  mkdir -p "$copy/build/Release"
  cp "$project"/build/Release/*.node "$copy/build/Release/"
fi
(cd -- "$project" && node -e '
  const fs = require("fs"), path = require("path");
  const seen = new Set(), queue = Object.keys(require("./package.json").dependencies ?? {});
  while (queue.length) {
    const name = queue.pop();
    const pj = path.join("node_modules", name, "package.json");
    if (seen.has(name) || !fs.existsSync(pj)) continue;
    seen.add(name);
    const j = JSON.parse(fs.readFileSync(pj, "utf8"));
    queue.push(...Object.keys(j.dependencies ?? {}), ...Object.keys(j.optionalDependencies ?? {}));
  }
  console.log([...seen].join("\n"));') | while IFS= read -r dep; do
  mkdir -p "$copy/node_modules/$(dirname -- "$dep")"
  cp -r "$project/node_modules/$dep" "$copy/node_modules/$dep"
done
ipvsctl=("$node_bin" "$copy/dist/src/bin/ipvsctl.js")
log "installed copy: $(find "$copy" -type f | wc -l) files, $(du -sh "$copy" | cut -f1) on tmpfs;" \
  "$(find "$copy/dist/src" -name '*.js' -o -name '*.cjs' | wc -l) JS files under dist/src"

# Warm the page cache and the binaries for both tools (first node start under TCG is ≈3× slower).
new_ns bench-warm
node -e 0
"${ipvsctl[@]}" --version >/dev/null
"${ipvsctl_9p[@]}" --version >/dev/null
ip netns exec bench-warm "${ipvsctl[@]}" apply "$cfg" --dry-run >/dev/null
ip netns exec bench-warm "${ipvsctl_9p[@]}" apply "$cfg" --dry-run >/dev/null
ip netns exec bench-warm ipvsadm -A -t 203.0.113.250:80 -s rr
ip netns exec bench-warm ipvsadm -Sn >/dev/null
drop_ns bench-warm

# Context: bare node startup, and the CLI's startup + imports (ipvsctl --version), from tmpfs and 9p.
node_us=() ver_us=() ver9p_us=()
for i in 1 2 3 4 5; do
  read -r rc us _ <<<"$(timed - /dev/null "$work/node.out" node -e 0)"
  ((rc == 0)) || fail "node -e 0 exited $rc"
  node_us+=("$us")
  read -r rc us _ <<<"$(timed - /dev/null "$work/ver.out" "${ipvsctl[@]}" --version)"
  ((rc == 0)) || fail "ipvsctl --version exited $rc"
  ver_us+=("$us")
  read -r rc us _ <<<"$(timed - /dev/null "$work/ver.out" "${ipvsctl_9p[@]}" --version)"
  ((rc == 0)) || fail "ipvsctl --version (9p) exited $rc"
  ver9p_us+=("$us")
done
log "node -e 0: median $(ms "$(median "${node_us[@]}")") ms; ipvsctl --version: median $(ms "$(median "${ver_us[@]}")") ms" \
  "(from 9p: $(ms "$(median "${ver9p_us[@]}")") ms)"

# The floor under the config half: the yaml library alone (import, Lexer, Parser, Composer) on the
# same file, cold, in fresh processes (bench/yaml-floor.mjs; medians of 3), from the local copy.
floor_runs=()
for i in 1 2 3; do
  if line=$(node bench/yaml-floor.mjs "$cfg" "$copy"); then floor_runs+=("$line"); else fail "yaml-floor.mjs exited $?"; fi
done
yaml_floor=$(printf '%s\n' "${floor_runs[@]}" | node -e '
  const runs = require("fs").readFileSync(0, "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
  const med = (k) => { const v = runs.map((r) => r[k]).sort((a, b) => a - b); return v.length ? v[(v.length - 1) >> 1] : null; };
  const out = {};
  for (const k of ["importYamlMs", "lexerMs", "lexerParserMs", "composerMs", "lexemes"]) out[k] = med(k);
  out.runs = runs.length;
  process.stdout.write(JSON.stringify(out));' || echo null)
log "yaml alone, cold (median of 3): $yaml_floor"

# ------------------------------------------------------------------------------------ repetitions
adm_us=() adm_cpu=() adm_rss=() ctl_us=() ctl_cpu=() ctl_rss=() noop_us=() noop_cpu=() save_us=()
p9_us=() p9_cpu=() rep_ratio=() rep_9p_ratio=() rep_noop_ratio=() identical=true noop_failed=0 apply_failed=0
expected_ops=$((n_svc + n_svc * n_dst))
for ((r = 1; r <= reps; r++)); do
  A="bench-adm-$r" C="bench-ctl-$r" P="bench-9p-$r"
  if ((r % 2)); then order=(adm ctl); else order=(ctl adm); fi
  for which in "${order[@]}"; do
    if [[ "$which" == adm ]]; then
      new_ns "$A"
      read -r rc us u s rss <<<"$(timed "$A" "$rules" "$work/adm.out" ipvsadm -R)"
      ((rc == 0)) || fail "rep $r: ipvsadm -R exited $rc: $(head -c 300 "$work/adm.out.err")"
      adm_us+=("$us") adm_cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')") adm_rss+=("$rss")
      a_us=$us
      log "rep $r: ipvsadm -R              $(ms "$us") ms (user ${u} s, sys ${s} s, max RSS $((rss / 1024)) MB)"
    else
      new_ns "$C"
      read -r rc us u s rss <<<"$(timed "$C" /dev/null "$work/ctl.out" "${ipvsctl[@]}" apply "$cfg")"
      last=$(tail -n 1 "$work/ctl.out")
      if ((rc != 0)) || [[ "$last" != "$expected_ops of $expected_ops operations applied" ]]; then
        apply_failed=$((apply_failed + 1))
        fail "rep $r: ipvsctl apply exited $rc, last line '$last': $(head -c 300 "$work/ctl.out.err")"
      fi
      ctl_us+=("$us") ctl_cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')") ctl_rss+=("$rss")
      c_us=$us
      log "rep $r: ipvsctl apply           $(ms "$us") ms (user ${u} s, sys ${s} s, max RSS $((rss / 1024)) MB)"
    fi
  done
  rep_ratio+=("$(ratio "$c_us" "$a_us")")

  # No-op re-apply on ctl's namespace: must plan nothing.
  read -r rc us u s rss <<<"$(timed "$C" /dev/null "$work/noop.out" "${ipvsctl[@]}" apply "$cfg")"
  if ((rc != 0)) || [[ "$(cat "$work/noop.out")" != "no changes: the kernel table already matches" ]]; then
    noop_failed=$((noop_failed + 1))
    fail "rep $r: no-op ipvsctl apply exited $rc, printed '$(head -c 200 "$work/noop.out")': $(head -c 300 "$work/noop.out.err")"
  fi
  noop_us+=("$us") noop_cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
  rep_noop_ratio+=("$(ratio "$us" "$c_us")")
  log "rep $r: ipvsctl apply (no-op)   $(ms "$us") ms (user ${u} s, sys ${s} s); ratios ctl/adm ${rep_ratio[-1]}, no-op/apply ${rep_noop_ratio[-1]}"

  # Context: ipvsadm's own dump of the full table (the no-op's kernel work is a dump too).
  read -r rc us _ <<<"$(timed "$A" /dev/null "$work/save.out" ipvsadm -Sn)"
  ((rc == 0)) || fail "rep $r: ipvsadm -Sn exited $rc"
  save_us+=("$us")

  # Secondary: the same apply straight from the project tree over 9p, in a namespace of its own.
  new_ns "$P"
  read -r rc us u s rss <<<"$(timed "$P" /dev/null "$work/p9.out" "${ipvsctl_9p[@]}" apply "$cfg")"
  last=$(tail -n 1 "$work/p9.out")
  if ((rc != 0)) || [[ "$last" != "$expected_ops of $expected_ops operations applied" ]]; then
    apply_failed=$((apply_failed + 1))
    fail "rep $r: ipvsctl apply (9p) exited $rc, last line '$last': $(head -c 300 "$work/p9.out.err")"
  fi
  p9_us+=("$us") p9_cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
  rep_9p_ratio+=("$(ratio "$us" "$a_us")")
  log "rep $r: ipvsctl apply (9p)      $(ms "$us") ms (user ${u} s, sys ${s} s); ratio 9p/adm ${rep_9p_ratio[-1]}"

  # Correctness: the same table, of the expected size.
  sorted_save "$A" >"$work/adm.save"
  sorted_save "$C" >"$work/ctl.save"
  sorted_save "$P" >"$work/p9.save"
  if ! cmp -s "$work/adm.save" "$work/ctl.save"; then
    identical=false
    fail "rep $r: ipvsadm -Sn differs between ipvsadm -R and ipvsctl apply:"
    diff "$work/adm.save" "$work/ctl.save" | head -20 || true
  fi
  if ! cmp -s "$work/adm.save" "$work/p9.save"; then
    identical=false
    fail "rep $r: ipvsadm -Sn differs between ipvsadm -R and ipvsctl apply (9p):"
    diff "$work/adm.save" "$work/p9.save" | head -20 || true
  fi
  n_A=$(grep -c '^-A ' "$work/ctl.save" || true)
  n_a=$(grep -c '^-a ' "$work/ctl.save" || true)
  if ((n_A != n_svc || n_a != n_svc * n_dst)); then
    identical=false
    fail "rep $r: the table has $n_A services / $n_a destinations, expected $n_svc / $((n_svc * n_dst))"
  fi

  if ((r == reps)); then
    # Once: the JSON form of the no-op must be exactly {"operations":[]}.
    read -r rc us _ <<<"$(timed "$C" /dev/null "$work/noop.json" "${ipvsctl[@]}" apply "$cfg" --json)"
    noop_json_us=$us
    if [[ "$rc" != 0 || "$(cat "$work/noop.json")" != '{"operations":[]}' ]]; then
      noop_failed=$((noop_failed + 1))
      fail "no-op --json: exit $rc, printed '$(head -c 200 "$work/noop.json")': $(head -c 300 "$work/noop.json.err")"
    fi
  fi
  drop_ns "$A"
  drop_ns "$C"
  drop_ns "$P"
done

# ------------------------------------------------------------------------------- context + profile
echo 'null' >"$work/profile.json"
if [[ "$project" == "$repo" ]]; then
  new_ns bench-prof
  prof_rc=0
  rm -rf "$work/cpuprof"
  ip netns exec bench-prof node --cpu-prof --cpu-prof-dir="$work/cpuprof" bench/profile-apply.mjs "$cfg" \
    "$work/profile.json" || prof_rc=$?
  ((prof_rc == 0)) || fail "profile-apply.mjs exited $prof_rc (see its FAILED steps)"
  [[ -s "$work/profile.json" ]] || echo 'null' >"$work/profile.json"
  # Its CPU profile, for bench/cpuprof-top.mjs on the host (split by step with the JSON's clock marks).
  prof_file=$(ls "$work/cpuprof"/*.cpuprofile 2>/dev/null | head -n 1 || true)
  [[ -n "$prof_file" ]] && cp -- "$prof_file" "${out_json%.json}.cpuprofile"
  drop_ns bench-prof
fi

# ------------------------------------------------------------------------------------------ results
adm_med=$(median "${adm_us[@]}")
ctl_med=$(median "${ctl_us[@]}")
noop_med=$(median "${noop_us[@]}")
{
  printf '{\n'
  printf '  "kernel": "%s", "cpus": %d, "node": "%s", "ipvsadm": "%s", "hostLoadAtStart": "%s",\n' \
    "$(uname -r)" "$(nproc)" "$(node --version)" "$(ipvsadm --version 2>&1 | head -1 | tr -d '"')" \
    "${IPVSD_BENCH_HOST_LOAD:-}"
  printf '  "project": "%s", "commit": "%s", "ipvsctlRunFrom": "tmpfs copy (local storage); 9p tree as secondary",\n' \
    "$project" "$(git -C "$project" rev-parse --short HEAD 2>/dev/null || echo '?')"
  printf '  "services": %d, "destinations": %d, "repetitions": %d,\n' "$n_svc" $((n_svc * n_dst)) "$reps"
  printf '  "rulesBytes": %d, "yamlBytes": %d,\n' "$(wc -c <"$rules")" "$(wc -c <"$cfg")"
  printf '  "units": "wall ms (medians; per repetition in *SamplesMs); cpu = user+sys s; rss KB",\n'
  printf '  "ipvsadmRestoreMs": %s, "ipvsadmRestoreSamplesMs": %s, "ipvsadmRestoreCpuS": %s, "ipvsadmRestoreRssKb": %s,\n' \
    "$(ms "$adm_med")" "$(ms_list "${adm_us[@]}")" "$(list "${adm_cpu[@]}")" "$(list "${adm_rss[@]}")"
  printf '  "ipvsctlApplyMs": %s, "ipvsctlApplySamplesMs": %s, "ipvsctlApplyCpuS": %s, "ipvsctlApplyRssKb": %s,\n' \
    "$(ms "$ctl_med")" "$(ms_list "${ctl_us[@]}")" "$(list "${ctl_cpu[@]}")" "$(list "${ctl_rss[@]}")"
  printf '  "ipvsctlNoopMs": %s, "ipvsctlNoopSamplesMs": %s, "ipvsctlNoopCpuS": %s, "ipvsctlNoopJsonMs": %s,\n' \
    "$(ms "$noop_med")" "$(ms_list "${noop_us[@]}")" "$(list "${noop_cpu[@]}")" "$(ms "${noop_json_us:-0}")"
  printf '  "ipvsctlApplyFailed": %d, "ipvsctlNoopFailed": %d,\n' "$apply_failed" "$noop_failed"
  printf '  "ratioApplyCtlOverAdm": %s, "ratioApplyCtlOverAdmPerRep": %s, "ratioApplyCtlOverAdmMedianPerRep": %s,\n' \
    "$(ratio "$ctl_med" "$adm_med")" "$(list "${rep_ratio[@]}")" "$(median "${rep_ratio[@]}")"
  printf '  "ratioNoopOverApply": %s, "ratioNoopOverApplyPerRep": %s,\n' \
    "$(ratio "$noop_med" "$ctl_med")" "$(list "${rep_noop_ratio[@]}")"
  printf '  "ipvsctlApply9pMs": %s, "ipvsctlApply9pSamplesMs": %s, "ipvsctlApply9pCpuS": %s,\n' \
    "$(ms "$(median "${p9_us[@]}")")" "$(ms_list "${p9_us[@]}")" "$(list "${p9_cpu[@]}")"
  printf '  "ratioApply9pOverAdmPerRep": %s, "ratioApply9pOverAdmMedianPerRep": %s,\n' \
    "$(list "${rep_9p_ratio[@]}")" "$(median "${rep_9p_ratio[@]}")"
  printf '  "nodeStartupMs": %s, "ipvsctlVersionMs": %s, "ipvsctlVersion9pMs": %s,\n' \
    "$(ms "$(median "${node_us[@]}")")" "$(ms "$(median "${ver_us[@]}")")" "$(ms "$(median "${ver9p_us[@]}")")"
  printf '  "ipvsadmSaveMs": %s,\n' "$(ms "$(median "${save_us[@]}")")"
  printf '  "yamlFloor": %s,\n' "${yaml_floor:-null}"
  printf '  "tablesIdentical": %s, "failures": %d,\n' "$identical" "${#failures[@]}"
  printf '  "profile": %s\n' "$(cat "$work/profile.json")"
  printf '}\n'
} >"$out_json.tmp"
if node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$out_json.tmp"; then
  mv -f "$out_json.tmp" "$out_json"
  log "results in $out_json"
else
  fail "the results JSON is malformed (kept as $out_json.tmp)"
fi

if ((${#failures[@]})); then
  printf 'bench: %d problem(s):\n' "${#failures[@]}"
  printf '  - %s\n' "${failures[@]}"
  exit 1
fi
log "done"
