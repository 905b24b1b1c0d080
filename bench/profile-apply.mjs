#!/usr/bin/env node
/**
 * Where `ipvsctl apply` spends its time: the same steps as src/cli/apply.ts, each timed, using the
 * compiled modules in dist/ (run `npm run build` first). Run it as root inside a network namespace
 * whose IPVS table is EMPTY and whose 198.51.100.0/24 routes (NAT destinations), e.g. from
 * bench/guest/apply-vs-ipvsadm.sh. It fills the table, then times the no-op path (dump + diff) on it,
 * with the CLI's dump (native, on a worker thread) and, for comparison, the same dump through the
 * event-loop socket written here (bench only): one destination dump after the other, as ipvsadm does.
 *
 * Usage: node [--cpu-prof --cpu-prof-dir=DIR] bench/profile-apply.mjs CONFIG.yaml [OUT.json]
 * Prints the breakdown as a table on stderr, and as JSON on stdout (or into OUT.json). A step that
 * throws is recorded with its error and the rest still run; the exit status is then 1. Each step
 * carries its start and end on the monotonic clock (µs), so a CPU profile of the run can be split by
 * step with bench/cpuprof-top.mjs.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

const [file, outFile] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile-apply.mjs CONFIG.yaml [OUT.json]\n');
  process.exit(2);
}
const dist = (p) => new URL(`../dist/src/${p}`, import.meta.url).href;

/** Process start to now: what node's own startup cost before this script's first line. */
const bootMs = performance.now();
const steps = [];
let errors = 0;
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
/** Runs one step; t0Us/t1Us are on the clock of `node --cpu-prof` (see bench/cpuprof-top.mjs). */
const time = async (name, fn) => {
  const t0 = performance.now();
  const t0Us = nowUs();
  const done = (extra) => {
    steps.push({ step: name, ms: +(performance.now() - t0).toFixed(1), t0Us, t1Us: nowUs(), ...extra });
  };
  try {
    const value = await fn();
    done({});
    return value;
  } catch (err) {
    errors++;
    done({ error: String(err?.message ?? err) });
    return undefined;
  }
};

// Module loading, in the order the CLI needs them (yaml comes in with the config loader).
await time('import yaml', () => import('yaml'));
const { parseConfig } = await time(
  'import config/load.js (+ validators)',
  () => import(dist('config/load.js')),
);
const { desiredServices } = await time('import config/desired.js', () => import(dist('config/desired.js')));
const { diff } = await time('import director/diff.js', () => import(dist('director/diff.js')));
const { createCommandBackend } = await time(
  'import ipvs/command-backend.js (+ native addon, lazily)',
  () => import(dist('ipvs/command-backend.js')),
);
const codec = await time('import ipvs/codec.js', () => import(dist('ipvs/codec.js')));
const { createGenlSocket } = await import(dist('sys/genl-socket.js'));
const { operationJson, operationText } = await time(
  'import cli/format-operations.js',
  () => import(dist('cli/format-operations.js')),
);
await time('import commander', () => import('commander'));

// Apply from an empty table, step by step.
const text = await time('read config file', () => readFile(file, 'utf8'));
const parsed = await time('parseConfig (YAML + validation)', () => parseConfig(text, file));
const config = parsed?.config;
if (!config) {
  process.stderr.write(`profile-apply: ${file} is invalid: ${JSON.stringify(parsed?.issues.slice(0, 3))}\n`);
  process.exit(1);
}
await time('  (parseConfig again; JIT now warm)', () => parseConfig(text, file));
const diffOptions = { unmanaged: config.director.ipvs.unmanaged };
const desired = await time('desiredServices', () => desiredServices(config));
const backend = await time('createCommandBackend (the CLI backend: opens nothing yet)', () =>
  createCommandBackend(),
);
const empty = await time('dump (empty table)', () => backend.dump());
const ops = (await time('diff (empty -> full)', () => diff(desired, empty ?? [], diffOptions))) ?? [];
await time('  (encodeOperation alone, all ops)', () => ops.map(codec.encodeOperation));
const results =
  (await time('backend.apply (encode + chunks through the native batch socket)', () => backend.apply(ops))) ??
  [];
const failed = results.filter((r) => r.error !== null).length;
const lines = (await time('format text output (operationText)', () => ops.map(operationText))) ?? [];
await time('write text output, one write per line (as the CLI does)', () => {
  const fd = openSync('/dev/null', 'w');
  for (const line of lines) writeSync(fd, `${line}\n`);
  closeSync(fd);
});
await time('format --json output (operationJson + stringify)', () =>
  JSON.stringify({ operations: ops.map(operationJson) }),
);

// The no-op re-apply: what `ipvsctl apply` does when the kernel already matches.
const full = await time('dump (full table, as the CLI does: on a worker thread, then decoded)', () =>
  backend.dump(),
);
backend?.close();

/**
 * Every service, then each one's destinations, one dump after the other on one event-loop socket
 * (as ipvsadm does). Records how much of it was decoding (decodeDestination) as a separate step.
 */
async function dumpOnEventLoop() {
  const sock = createGenlSocket();
  let decodeMs = 0;
  try {
    const { id, version } = await sock.resolveFamily('IPVS');
    const services = (await sock.dump(id, version, codec.getServicesRequest))
      .map((r) => codec.decodeService(r.attrs))
      .filter((s) => s !== null);
    for (const svc of services) {
      svc.destinations = [];
      for (const reply of await sock.dump(id, version, codec.getDestsRequest(svc.key))) {
        const t0 = performance.now();
        const d = codec.decodeDestination(reply.attrs, svc.key.family);
        if (d !== null) svc.destinations.push(d);
        decodeMs += performance.now() - t0;
      }
    }
    return { services, decodeMs };
  } finally {
    sock.close();
  }
}
const decodeStep = (dumped) => {
  if (dumped) steps.push({ step: '      (of which decodeDestination)', ms: +dumped.decodeMs.toFixed(1) });
  return dumped?.services;
};
const serial = decodeStep(
  await time('  (dump through the event-loop socket, one dest dump after the other, as ipvsadm -S)', () =>
    dumpOnEventLoop(),
  ),
);
const table = full ?? serial ?? [];
const noop = (await time('diff (full -> full, no-op)', () => diff(desired, table, diffOptions))) ?? [];

const destinations = table.reduce((n, s) => n + s.destinations.length, 0);
const result = {
  nodeBootMs: +bootMs.toFixed(1),
  configBytes: Buffer.byteLength(text),
  services: desired.length,
  operations: ops.length,
  failedOperations: failed,
  dumpedServices: table.length,
  dumpedDestinations: destinations,
  noopOperations: noop.length,
  stepErrors: errors,
  steps,
  totalMs: +performance.now().toFixed(1),
  maxRssMb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
};

const width = Math.max(...steps.map((s) => s.step.length));
process.stderr.write(`node boot (before this script): ${result.nodeBootMs} ms\n`);
for (const s of steps)
  process.stderr.write(
    `${s.step.padEnd(width)}  ${String(s.ms).padStart(9)} ms${s.error ? `  FAILED: ${s.error}` : ''}\n`,
  );
process.stderr.write(
  `total ${result.totalMs} ms, max RSS ${result.maxRssMb} MB; ${ops.length} ops (${failed} failed), ` +
    `dump ${table.length} services / ${destinations} dests, no-op diff ${noop.length} ops\n`,
);
const json = `${JSON.stringify(result, null, 2)}\n`;
if (outFile) await writeFile(outFile, json);
else process.stdout.write(json);
if (failed > 0 || noop.length > 0 || errors > 0) process.exitCode = 1;
