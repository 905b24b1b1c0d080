#!/usr/bin/env node
/**
 * What one health transition costs the director with a large table, in event-loop time: the
 * director's onChange handler runs synchronously inside the probe's callback (decide over every
 * real server, quorum, metrics, reconciler kick), so its cost is directly the loop's stall. A burst
 * of K transitions (a switch or a shared dependency failing takes many real servers down within one
 * interval) costs K times that. Uses the compiled director, real metrics and the in-memory IPVS
 * backend; the health monitor is a stand-in whose status() is a Map lookup, so only the director's
 * work is measured.
 *
 * Then the latency the issue sets a target for (50 ms): one change at a time, from the check result
 * (the monitor's onChange) to the moment the backend was asked to apply the operations, through the
 * real coalescing (setImmediate) and the reconciler's event run.
 *
 * Usage: node bench/check-scale/health-change-cost.mjs [--servers 6000] [--changes 50]
 */
import { performance } from 'node:perf_hooks';
import { createDirectorHarness, numberArg } from './director-harness.mjs';

const servers = numberArg('servers', 6000);
const changes = numberArg('changes', 50);

// Resolves the next time the director hands operations to the "kernel".
let applied = null;
const {
  states,
  director,
  emitChange: onChange,
} = createDirectorHarness(servers, (backend) => {
  const apply = backend.apply.bind(backend);
  backend.apply = (ops) => {
    applied?.(performance.now());
    applied = null;
    return apply(ops);
  };
  return backend;
});

let t = performance.now();
await director.start();
const startMs = performance.now() - t;

const ids = [...states.keys()];
const perChange = [];
const burstReached = new Promise((r) => {
  applied = r;
});
t = performance.now();
for (let i = 0; i < Math.min(changes, ids.length); i++) {
  const id = ids[ids.length - 1 - i];
  const down = { ...states.get(id), health: 'down', consecutiveOk: 0, consecutiveFail: 1 };
  states.set(id, down);
  const t1 = performance.now();
  onChange(id, down);
  perChange.push(performance.now() - t1);
}
const syncMs = performance.now() - t;
const burstMs = (await burstReached) - t;
await new Promise((r) => setTimeout(r, 50));

// Result → kernel, one change at a time (each one back up, then down again).
const toKernel = [];
for (let i = 0; i < Math.min(changes, ids.length); i++) {
  const id = ids[i];
  for (const health of ['down', 'up']) {
    const next = { ...states.get(id), health };
    states.set(id, next);
    const reached = new Promise((r) => {
      applied = r;
    });
    const t1 = performance.now();
    onChange(id, next);
    toKernel.push((await reached) - t1);
  }
}
if (process.argv.includes('--verbose'))
  process.stderr.write(`${toKernel.map((x) => x.toFixed(1)).join(' ')}\n`);
toKernel.sort((a, b) => a - b);
await director.stop({ removeServices: false });
perChange.sort((a, b) => a - b);
const r = (x) => Math.round(x * 100) / 100;
const result = {
  realServers: ids.length,
  changes: perChange.length,
  directorStartMs: r(startMs),
  msPerChange: { median: r(perChange[perChange.length >> 1]), max: r(perChange[perChange.length - 1]) },
  burstSynchronousMs: r(syncMs),
  burstUntilKernelMs: r(burstMs),
  resultToKernelMs: {
    median: r(toKernel[toKernel.length >> 1]),
    p99: r(toKernel[Math.floor(toKernel.length * 0.99)]),
    max: r(toKernel[toKernel.length - 1]),
  },
};
process.stdout.write(
  `director with ${result.realServers} real servers: start ${result.directorStartMs} ms; one health change blocks ` +
    `the event loop ${result.msPerChange.median} ms (median, max ${result.msPerChange.max}); a burst of ` +
    `${result.changes} changes ${result.burstSynchronousMs} ms; check result → kernel ${result.resultToKernelMs.median} ms ` +
    `(median, max ${result.resultToKernelMs.max})\n${JSON.stringify(result)}\n`,
);
