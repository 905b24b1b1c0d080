#!/usr/bin/env node
/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and prints where the time went, by package/file and by
 * function (self time). With the JSON of bench/profile-apply.mjs (whose steps carry their start and
 * end on the same monotonic clock), also splits the samples by step.
 *
 * Usage: node bench/cpuprof-top.mjs PROFILE.cpuprofile [PROFILE-APPLY.json] [--top N] [--min-ms M]
 *   --top N     functions shown per step (default 6);  --min-ms M  skip steps shorter than M (200)
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : Number(args[i + 1]);
};
const files = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (files.length === 0) {
  process.stderr.write('usage: node bench/cpuprof-top.mjs PROFILE.cpuprofile [PROFILE-APPLY.json]\n');
  process.exit(2);
}
const top = opt('--top', 6);
const minMs = opt('--min-ms', 200);
const prof = JSON.parse(readFileSync(files[0], 'utf8'));
const result = files[1] ? JSON.parse(readFileSync(files[1], 'utf8')) : null;
const steps = (result?.profile ?? result)?.steps?.filter((s) => s.t0Us !== undefined) ?? [];

/** "yaml", "netlink", "dist/config/values.js", "node:internal/…", or a V8 pseudo-frame like "(garbage collector)". */
function where(frame) {
  const url = frame.url;
  if (!url) return frame.functionName || '(anonymous)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  if (url.startsWith('node:')) return 'node:internal';
  return url.replace(/^file:\/\//, '');
}
const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const label = (n) => {
  const f = n.callFrame;
  const w = where(f);
  return f.url ? `${f.functionName || '(anonymous)'} ${w}:${f.lineNumber + 1}` : w;
};

// Sample i covers timeDeltas[i+1] µs after its timestamp (the usual convention of DevTools).
const samples = [];
let t = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i];
  const dt = prof.timeDeltas[i + 1] ?? 0;
  samples.push({ t, dt, node: nodes.get(prof.samples[i]) });
}

function report(title, list) {
  const total = list.reduce((a, s) => a + s.dt, 0);
  const byWhere = new Map();
  const byFn = new Map();
  for (const s of list) {
    const w = where(s.node.callFrame);
    byWhere.set(w, (byWhere.get(w) ?? 0) + s.dt);
    const l = label(s.node);
    byFn.set(l, (byFn.get(l) ?? 0) + s.dt);
  }
  const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const pct = (us) => `${((100 * us) / (total || 1)).toFixed(0).padStart(3)}%`;
  const out = [`${title}: ${(total / 1000).toFixed(0)} ms of samples`];
  const sortDesc = (m) => [...m].sort((a, b) => b[1] - a[1]);
  out.push(
    `    by package/file: ${sortDesc(byWhere)
      .slice(0, 6)
      .map(([k, v]) => `${k} ${pct(v).trim()}`)
      .join(', ')}`,
  );
  for (const [k, v] of sortDesc(byFn).slice(0, top)) out.push(`    ${ms(v)} ${pct(v)}  ${k}`);
  return out.join('\n');
}

const lines = [report('whole run', samples)];
for (const step of steps) {
  if (step.ms < minMs) continue;
  const inStep = samples.filter((s) => s.t >= step.t0Us && s.t < step.t1Us);
  lines.push(report(`step "${step.step.trim()}" (${step.ms} ms wall)`, inStep));
}
process.stdout.write(`${lines.join('\n')}\n`);
