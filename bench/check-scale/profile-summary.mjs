#!/usr/bin/env node
/**
 * Reads a V8 .cpuprofile (node --cpu-prof; run.mjs --cpu-prof writes one per ipvsd run) and prints
 * where the time went: self time by function and by source (ipvsd's own modules, prom-client,
 * node:net and friends, GC, idle), plus inclusive time of a few ipvsd entry points. Idle is the time
 * the thread slept in epoll; the rest is the CPU the profile saw.
 *
 * Usage: node bench/check-scale/profile-summary.mjs FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: profile-summary.mjs FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const topAt = process.argv.indexOf('--top');
const top = topAt > 0 ? Number(process.argv[topAt + 1]) : 30;
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample time deltas are in microseconds.
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

function source(url, name) {
  if (name === '(idle)') return 'idle (epoll wait)';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return '(program: native, not attributed)';
  if (!url) return `native: ${name}`;
  const m = /\/dist\/src\/(.+)$/.exec(url);
  if (m) return `ipvsd ${m[1]}`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm ${nm[1]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:');
  return url.replace(/^file:\/\/.*\/bench\//, 'bench/');
}

const fnSelf = new Map();
const srcSelf = new Map();
for (const [id, us] of selfUs) {
  const { callFrame: f } = byId.get(id);
  const key = `${f.functionName || '(anonymous)'}  ${source(f.url, f.functionName)}:${f.lineNumber + 1}`;
  fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
  const src = source(f.url, f.functionName);
  srcSelf.set(src, (srcSelf.get(src) ?? 0) + us);
}

// Inclusive time of ipvsd functions: each sample counted once per distinct ipvsd frame on its stack.
const incl = new Map();
for (const [id, us] of selfUs) {
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const { callFrame: f } = byId.get(cur);
    const m = /\/dist\/src\/(.+)$/.exec(f.url);
    if (!m) continue;
    const key = `${f.functionName || '(anonymous)'}  ${m[1]}:${f.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + us);
  }
}

const idleUs = srcSelf.get('idle (epoll wait)') ?? 0;
const busyUs = totalUs - idleUs;
const pct = (us) => `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`;
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const print = (title, map, n) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n))
    process.stdout.write(`  ${ms(us)} ${pct(us)}  ${k}\n`);
};
process.stdout.write(
  `${file}\n  profiled ${(totalUs / 1e6).toFixed(1)} s, busy ${(busyUs / 1e6).toFixed(1)} s ` +
    `(${((busyUs / totalUs) * 100).toFixed(1)}%), idle ${(idleUs / 1e6).toFixed(1)} s; percentages are of busy time\n`,
);
srcSelf.delete('idle (epoll wait)');
print('Self time by source', srcSelf, 25);
print(`Self time by function (top ${top})`, fnSelf, top);
print('Inclusive time of ipvsd functions (top 20)', incl, 20);
