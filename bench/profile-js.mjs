#!/usr/bin/env node
/**
 * The JavaScript-only part of `ipvsctl apply`, timed on THIS machine (no kernel IPVS, no VM): the
 * quick loop for optimising parse, diff, encode, decode and output. Uses the compiled dist/ (run
 * `npm run build` first) and the table of bench/gen-table.mjs. Kernel replies for the no-op path are
 * synthesised here in the shape the 6.1 kernel sends (a destination with its counters and STATS64).
 *
 * Usage: node bench/profile-js.mjs [CONFIG.yaml] [--rounds N]
 *   without CONFIG, generates the default 1000 × 10 table into a temporary directory.
 * Prints one line per step per round (round 1 is cold, like a CLI run; later rounds show warm JIT).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt < 0 ? 2 : Number.parseInt(args[roundsAt + 1] ?? '2', 10);
let file = args.find((a, i) => !a.startsWith('--') && i !== roundsAt + 1);
let tmp = null;
if (!file) {
  tmp = mkdtempSync(join(tmpdir(), 'ipvsd-bench-'));
  execFileSync(process.execPath, [new URL('gen-table.mjs', import.meta.url).pathname, tmp]);
  file = join(tmp, 'table.yaml');
}
const dist = (p) => new URL(`../dist/src/${p}`, import.meta.url).href;

const results = [];
const time = (round, name, fn) => {
  const t0 = performance.now();
  const value = fn();
  results.push({ round, step: name, ms: +(performance.now() - t0).toFixed(1) });
  return value;
};
const timeAsync = async (round, name, fn) => {
  const t0 = performance.now();
  const value = await fn();
  results.push({ round, step: name, ms: +(performance.now() - t0).toFixed(1) });
  return value;
};

const { parseConfig } = await timeAsync(
  1,
  'import config (yaml + validators)',
  () => import(dist('config/load.js')),
);
const { desiredServices } = await import(dist('config/desired.js'));
const { diff } = await timeAsync(1, 'import diff', () => import(dist('director/diff.js')));
const codec = await timeAsync(1, 'import codec', () => import(dist('ipvs/codec.js')));
const C = await import(dist('ipvs/constants.js'));
const nl = await import(dist('sys/nlattr.js'));
const { operationText } = await import(dist('cli/format-operations.js'));
const text = readFileSync(file, 'utf8');

/** A GET_DEST dump reply message for `dest`, attributes as the 6.1 kernel orders them. */
function destReply(dest, seq) {
  const stats = (t) =>
    nl.nested(
      t,
      Array.from({ length: 10 }, (_, i) =>
        t === C.IPVS_DEST_ATTR_STATS64
          ? nl.attr(i + 1, Buffer.alloc(8))
          : i === 3 || i === 4
            ? nl.attr(i + 1, Buffer.alloc(8))
            : nl.u32(i + 1, 0),
      ),
    );
  const inner = nl.nested(C.IPVS_CMD_ATTR_DEST, [
    nl.attr(
      C.IPVS_DEST_ATTR_ADDR,
      Buffer.from([...dest.address.split('.').map(Number), ...Array(12).fill(0)]),
    ),
    nl.u16be(C.IPVS_DEST_ATTR_PORT, dest.port),
    nl.u32(C.IPVS_DEST_ATTR_FWD_METHOD, 0),
    nl.u32(C.IPVS_DEST_ATTR_WEIGHT, dest.weight),
    nl.u32(C.IPVS_DEST_ATTR_U_THRESH, dest.upperThreshold),
    nl.u32(C.IPVS_DEST_ATTR_L_THRESH, dest.lowerThreshold),
    nl.u32(C.IPVS_DEST_ATTR_ACTIVE_CONNS, 0),
    nl.u32(C.IPVS_DEST_ATTR_INACT_CONNS, 0),
    nl.u32(C.IPVS_DEST_ATTR_PERSIST_CONNS, 0),
    nl.u16(C.IPVS_DEST_ATTR_ADDR_FAMILY, 2),
    stats(C.IPVS_DEST_ATTR_STATS),
    stats(C.IPVS_DEST_ATTR_STATS64),
  ]);
  return nl.formatMessage(28, 2, seq, 1, nl.genlPayload(C.IPVS_CMD_NEW_DEST, 1, [inner]));
}

for (let round = 1; round <= rounds; round++) {
  const { config } = time(round, 'parseConfig (YAML + validation)', () => parseConfig(text, file));
  if (!config) throw new Error(`${file} is invalid`);
  const opts = { unmanaged: config.director.ipvs.unmanaged };
  const desired = time(round, 'desiredServices', () => desiredServices(config));
  const ops = time(round, 'diff (empty -> full)', () => diff(desired, [], opts));
  const reqs = time(round, 'encodeOperation (all ops)', () => ops.map(codec.encodeOperation));
  time(round, 'formatMessage (frame all requests)', () =>
    reqs.map((r, i) => nl.formatMessage(28, 1, i, 1, nl.genlPayload(r.cmd, 1, r.attrs))),
  );
  time(round, 'operationText (all ops)', () => ops.map(operationText).join('\n'));
  // The no-op path: the table dump's replies (a reply per service, then each service's destination
  // dump, each ending in DONE), framed as the socket receives them and decoded as
  // ipvs/table-read.ts does (the services themselves are taken as desired), then diffed.
  const SEQ = 0x40000000;
  const done = (seq) => nl.formatMessage(nl.NLMSG_DONE, 2, seq, 1, Buffer.alloc(4));
  const listReply = nl.formatMessage(28, 2, SEQ, 1, nl.genlPayload(C.IPVS_CMD_NEW_SERVICE, 1, []));
  const dump = Buffer.concat([
    ...desired.map(() => listReply),
    done(SEQ),
    ...desired.flatMap((s, i) => [
      ...s.destinations.map((d) => destReply(d, SEQ + 1 + i)),
      done(SEQ + 1 + i),
    ]),
  ]);
  const actual = time(round, 'decode the table dump (framing + destinations)', () => {
    const each = desired.map(() => []);
    for (const m of nl.parseMessages(dump).messages) {
      const g = m.type === 28 ? nl.parseGenl(m.payload) : null;
      if (g && m.seq > SEQ) each[m.seq - SEQ - 1].push(codec.decodeDestination(g.attrs, 'inet'));
    }
    return desired.map((s, i) => ({
      ...s,
      persistence: s.persistence,
      stats: codec.ZERO_STATS,
      destinations: each[i],
    }));
  });
  const noop = time(round, 'diff (full -> full, no-op)', () => diff(desired, actual, opts));
  if (noop.length !== 0) throw new Error(`the synthetic no-op diff planned ${noop.length} operations`);
}
if (tmp) rmSync(tmp, { recursive: true, force: true });

const width = Math.max(...results.map((r) => r.step.length));
process.stdout.write(`${file} (${Buffer.byteLength(text)} B), node ${process.version}, on this host\n`);
for (const r of results)
  process.stdout.write(`round ${r.round}  ${r.step.padEnd(width)}  ${String(r.ms).padStart(8)} ms\n`);
