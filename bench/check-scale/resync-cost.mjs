#!/usr/bin/env node
/**
 * What one periodic full IPVS resync costs the daemon with a large table: CPU time and bytes
 * allocated per resync (the director's resync timer runs it every director.ipvs.resync_interval,
 * default 10 s). Uses the compiled director with the in-memory IPVS backend standing in for the
 * kernel (its dump makes fresh objects, as the netlink dump does) and a stand-in health monitor
 * where every real server is up, so nothing but the resync runs.
 *
 * Allocation is heapUsed after minus before one resync, with a full GC before it and a new space big
 * enough that no GC runs during it (the script re-executes itself with those flags); a resync during
 * which a GC ran anyway is left out of the allocation figure.
 *
 * Usage: node bench/check-scale/resync-cost.mjs [--servers 10000] [--resyncs 30]
 */
import { spawnSync } from 'node:child_process';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

if (typeof globalThis.gc !== 'function') {
  const flags = ['--expose-gc', '--max-semi-space-size=256'];
  const r = spawnSync(
    process.execPath,
    [...flags, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  process.exit(r.status ?? 1);
}

const { createDirectorHarness, numberArg } = await import('./director-harness.mjs');
const servers = numberArg('servers', 10000);
const resyncs = numberArg('resyncs', 30);
const { config, states, backend, director } = createDirectorHarness(servers);
await director.start();

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

// What the kernel dump alone costs (the part a resync cannot avoid: it must read the whole table).
const dumpMs = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  await backend.dump();
  dumpMs.push(performance.now() - t);
}

const ms = [];
const cpuMs = [];
const allocated = [];
for (let i = 0; i < resyncs; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20)); // lets the observer see the forced GC first
  const gcsBefore = gcs;
  const heap = process.memoryUsage().heapUsed;
  const cpu = process.cpuUsage();
  const t = performance.now();
  await director.resync();
  ms.push(performance.now() - t);
  const c = process.cpuUsage(cpu);
  cpuMs.push((c.user + c.system) / 1000);
  const after = process.memoryUsage().heapUsed;
  await new Promise((r) => setTimeout(r, 20)); // the gc observer's entries arrive asynchronously
  if (gcs === gcsBefore) allocated.push(after - heap);
  const report = director.lastReport();
  if (report?.kind !== 'resync' || report.operations.length || report.errors.length)
    throw new Error(`resync ${i}: unexpected report ${JSON.stringify(report).slice(0, 300)}`);
}
await director.stop({ removeServices: false });

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const r = (x) => Math.round(x * 100) / 100;
const mib = (b) => r(b / 2 ** 20);
process.stdout.write(
  `resync of ${states.size} real servers (${config.virtualServers.length} virtual servers), ${resyncs} runs: ` +
    `${r(median(ms))} ms wall, ${r(median(cpuMs))} ms CPU (median, max ${r(Math.max(...ms))} ms wall); ` +
    `${allocated.length ? `${mib(median(allocated))} MiB allocated (median of ${allocated.length} GC-free runs)` : 'allocation not measured (a GC ran in every run)'}; ` +
    `the in-memory kernel dump alone ${r(median(dumpMs))} ms\n`,
);
