/**
 * The daemon's process split (src/proc) on a NAT director pair with kernel IPVS
 * (test/vm/nat-pair.ts), as issue 13 item 6 asks:
 *   (a) kill -9 of the master's `ipvsd: checks` under traffic,
 *   (b) SIGSTOP of it for 10 s, then SIGCONT:
 *       no VRRP transition on either director, the kernel table byte-identical (`ipvsadm -Sn`,
 *       sampled all along), no failed request, no real server marked down, checks back (every
 *       real server checked again) within 10 s of the kill, or of the SIGCONT;
 *   (c) isolation: VRRPv3 adverts at 100 ms, measured on the wire by the peer (tcpdump in its
 *       namespace), stay on time while the master checks 2,000 more real servers every second and
 *       its /metrics is scraped back to back. The max and p99 advert intervals are printed; the
 *       assertion is that the peer never saw a gap long enough to take over and that neither
 *       director changed state.
 * Oracles are the operator's tools: ps, ipvsctl status --json, ipvsadm, curl-like probes, tcpdump.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../src/control/protocol.js';
import { daemonChild } from '../support/ipvsd-daemon.js';
import {
  CLIENT_VIP,
  createNatPair,
  type DirectorNode,
  type NatPair,
  PROBER,
  startProber,
} from '../support/nat-pair.js';
import { createNetnsLab, type SpawnedProcess } from '../support/netns.js';
import { monotonicMs, sleep, waitFor as waitUntil } from '../support/wait.js';

const GUEST = resolve(PROBER, '..');
const MANY_PORTS = resolve(GUEST, 'many-ports.mjs');
const SCRAPE_LOOP = resolve(GUEST, 'scrape-loop.mjs');

const PROBE_INTERVAL_MS = 200;
const PROBE_TIMEOUT_MS = 2000;
const figures: string[] = [];

async function status(pair: NatPair, node: DirectorNode): Promise<StatusResult> {
  const r = await pair.ipvsctl(node, ['status', '--json']);
  if (r.code !== 0) throw new Error(`ipvsctl status on ${node.name} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusResult;
}

/** Every transition either director's VRRP counted (instances and groups). */
async function transitions(pair: NatPair, node: DirectorNode): Promise<Record<string, number>> {
  const s = await status(pair, node);
  const out: Record<string, number> = {};
  for (const i of s.vrrp.instances) out[`instance ${i.name}`] = i.transitions ?? 0;
  for (const g of s.vrrp.sync_groups) out[`group ${g.name}`] = g.transitions ?? 0;
  return out;
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> =>
  waitUntil(what, probe, { timeoutMs, intervalMs: 200 });

/**
 * Checks done per real server so far (`ipvsd_checks_total`, successes and failures summed), from
 * /metrics with curl: much lighter than an ipvsctl (a node start) on a VM that runs everything 15×
 * slower, where the probes themselves must stay unhurried.
 */
async function checkCounts(pair: NatPair, node: DirectorNode): Promise<Map<string, number> | undefined> {
  const r = await pair.lab.exec(
    node.ns,
    'curl',
    ['-sS', '--max-time', '20', 'http://127.0.0.1:9469/metrics'],
    {
      timeoutMs: 30_000,
    },
  );
  if (r.code !== 0) return undefined;
  const counts = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const m = /^ipvsd_checks_total\{(.*)\} (\d+)$/.exec(line);
    if (m === null) continue;
    const labels = m[1] ?? '';
    const key = `${/virtual_server="([^"]*)"/.exec(labels)?.[1]} ${/real_server="([^"]*)"/.exec(labels)?.[1]}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(m[2]));
  }
  return counts;
}

/**
 * Runs `fault` on the master's checks child under traffic and watches for `watchMs`: returns what
 * the test asserts on. `fault` returns the monotonic time the fault began.
 */
async function underFault(
  pair: NatPair,
  fault: (pid: number) => Promise<number>,
  watchMs: number,
): Promise<{
  failed: string[];
  requests: number;
  tablesDiffer: string[];
  checksBackMs: number;
  downLines: string[];
  before: Record<string, number>[];
  after: Record<string, number>[];
  restarts: number;
  timeline: string;
}> {
  const { lb1, lb2 } = pair;
  const tableOf = async (node: DirectorNode) => (await pair.ipvsadm(node, ['-Sn'])).stdout;
  const before = [await transitions(pair, lb1), await transitions(pair, lb2)];
  const tables = [await tableOf(lb1), await tableOf(lb2)];
  const restartsBefore = (await status(pair, lb1)).processes?.find((p) => p.name === 'checks')?.restarts ?? 0;
  const logFrom = pair.logLines(lb1).length;
  const prober = await startProber(pair, PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS);
  await sleep(2000);

  const pid = await daemonChild((lb1.daemon as SpawnedProcess).pid, 'ipvsd: checks');
  expect(pid, 'ipvsd: checks under lb1').toBeDefined();
  const faultAt = await fault(pid as number);
  // Results the old child had already written are read within this; none can come after.
  await sleep(500);
  const baseline = await checkCounts(pair, lb1);
  const tablesDiffer: string[] = [];
  let checksBackMs = Number.POSITIVE_INFINITY;
  while (monotonicMs() - faultAt < watchMs) {
    for (const [i, node] of [lb1, lb2].entries()) {
      const now = await tableOf(node);
      if (now !== tables[i])
        tablesDiffer.push(`${node.name} at +${Math.round(monotonicMs() - faultAt)} ms:\n${now}`);
    }
    if (checksBackMs === Number.POSITIVE_INFINITY && baseline !== undefined) {
      const now = await checkCounts(pair, lb1);
      if (now !== undefined && [...baseline].every(([k, n]) => (now.get(k) ?? 0) > n))
        checksBackMs = monotonicMs() - faultAt;
    }
    await sleep(1000);
  }
  prober.proc.child.stdin?.end();
  await prober.proc.exited;
  const attempts = prober.attempts().filter((a) => a.s >= faultAt - 2000);
  const after = [await transitions(pair, lb1), await transitions(pair, lb2)];
  const restarts =
    ((await status(pair, lb1)).processes?.find((p) => p.name === 'checks')?.restarts ?? 0) - restartsBefore;
  const lines = pair.logLines(lb1).slice(logFrom);
  const downLines = lines.map((l) => l.line).filter((l) => l.includes('"msg":"real server down"'));
  // What the daemon said around the fault, with times from the fault (for a failure's message).
  const timeline = lines
    .filter((l) => /supervisor|"process":"checks"|real server|vrrp state/.test(l.line))
    .map((l) => `  +${Math.round(l.at - faultAt)} ms ${/"msg":"([^"]*)"/.exec(l.line)?.[1] ?? l.line}`)
    .join('\n');
  return {
    failed: attempts
      .filter((a) => !a.ok)
      .map(
        (a) => `${a.err} started +${Math.round(a.s - faultAt)} ms, ended +${Math.round(a.e - faultAt)} ms`,
      ),
    requests: attempts.length,
    tablesDiffer,
    checksBackMs,
    downLines,
    before,
    after,
    restarts,
    timeline,
  };
}

describe('process isolation on a NAT pair: the checks child fails, nothing else moves', () => {
  let pair: NatPair;

  beforeAll(async () => {
    pair = await createNatPair(createNetnsLab(), { vrrpVersion: 2, advertIntervalMs: 1000, tag: 'pi' });
    await pair.startRealServers();
    await pair.startDirectors('ipvsd');
    // Every real server checked at least once before the fault.
    await waitFor(
      'first check results',
      async () => {
        const s = await status(pair, pair.lb1);
        return (
          s.virtual_servers.every((vs) => vs.real_servers.every((rs) => rs.last_check !== null)) || undefined
        );
      },
      120_000,
    );
  });

  afterAll(async () => {
    if (figures.length > 0) console.log(`process isolation figures (qemu TCG):\n  ${figures.join('\n  ')}`);
    figures.length = 0;
    await pair?.cleanup();
  });

  it('(a) kill -9 of the checks process on the master under traffic', async () => {
    const r = await underFault(
      pair,
      async (pid) => {
        process.kill(pid, 'SIGKILL');
        return monotonicMs();
      },
      12_000,
    );
    figures.push(
      `(a) kill -9: checks back after ${Math.round(r.checksBackMs)} ms; ${r.requests} requests, ${r.failed.length} failed`,
      `(a) timeline:\n${r.timeline}`,
    );
    expect(r.tablesDiffer).toEqual([]);
    expect(r.after).toEqual(r.before);
    expect(r.downLines).toEqual([]);
    expect(r.restarts).toBe(1);
    expect(r.failed).toEqual([]);
    expect(r.checksBackMs).toBeLessThan(10_000);
  });

  it('(b) SIGSTOP of the checks process for 10 s, then SIGCONT', async () => {
    let stopped = 0;
    const r = await underFault(
      pair,
      async (pid) => {
        stopped = pid;
        process.kill(pid, 'SIGSTOP');
        const at = monotonicMs();
        void sleep(10_000).then(() => {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            // The supervisor found it hung and killed it (what it should do): nothing to resume.
          }
        });
        return at;
      },
      14_000,
    );
    const hung = pair
      .logLines(pair.lb1)
      .find((l) => l.line.includes(`"childPid":${stopped}`) && l.line.includes('process hung'));
    figures.push(
      `(b) SIGSTOP 10 s: ${hung ? 'found hung and replaced' : 'not found hung'}; checks back after ${Math.round(r.checksBackMs)} ms; ${r.requests} requests, ${r.failed.length} failed`,
      `(b) timeline:\n${r.timeline}`,
    );
    expect(hung, 'the supervisor logged the hang').toBeDefined();
    expect(r.tablesDiffer).toEqual([]);
    expect(r.after).toEqual(r.before);
    expect(r.downLines).toEqual([]);
    expect(r.restarts).toBe(1);
    expect(r.failed).toEqual([]);
    // Within 10 s of the SIGCONT, the end of the fault (the stopped one was replaced long before).
    expect(r.checksBackMs - 10_000).toBeLessThan(10_000);
  });
});

/** Real servers added to the master for (c), on one host's consecutive ports. */
const MANY = Number(process.env.IPVSD_ISOLATION_SERVERS ?? 2000);
const MANY_FIRST_PORT = 10_000;
const ISOLATION_WATCH_MS = Number(process.env.IPVSD_ISOLATION_SECONDS ?? 30) * 1000;
const ADVERT_MS = 100;

describe(`process isolation: 100 ms adverts stay on time with ${MANY} more real servers and /metrics scraped`, () => {
  let pair: NatPair;

  beforeAll(async () => {
    pair = await createNatPair(createNetnsLab(), {
      vrrpVersion: 3,
      advertIntervalMs: ADVERT_MS,
      syncDaemon: false,
      tag: 'pj',
    });
    // The master's config gets a second virtual service with MANY real servers, checked every second.
    const rs = pair.realServers[0];
    if (rs === undefined) throw new Error('no real server host');
    const extra = [
      '  - name: many',
      `    address: ${CLIENT_VIP}`,
      '    port: 81',
      '    scheduler: rr',
      '    check: { type: tcp, interval: 1s, timeout: 1s }',
      '    real_servers:',
      ...Array.from(
        { length: MANY },
        (_, i) => `      - { address: ${rs.address}, port: ${MANY_FIRST_PORT + i} }`,
      ),
    ];
    writeFileSync(pair.lb1.ipvsdConfig, `${readFileSync(pair.lb1.ipvsdConfig, 'utf8')}${extra.join('\n')}\n`);
    const ports = pair.lab.spawn(rs.ns, process.execPath, [
      MANY_PORTS,
      rs.address,
      String(MANY_FIRST_PORT),
      String(MANY),
    ]);
    await ports.waitForOutput(`listening ${MANY}`, 300_000);
    await pair.startRealServers();
    await pair.startDirectors('ipvsd');
  });

  afterAll(async () => {
    if (figures.length > 0) console.log(`process isolation figures (qemu TCG):\n  ${figures.join('\n  ')}`);
    figures.length = 0;
    await pair?.cleanup();
  });

  it('the peer sees the adverts on time; no transition on either side', async () => {
    const { lb1, lb2 } = pair;
    // Every one of the master's real servers has been checked (the load is on).
    await waitFor(
      `all ${MANY + 3} real servers checked`,
      async () => ((await checkCounts(pair, lb1))?.size === MANY + 3 ? true : undefined),
      600_000,
    );
    // Transitions from the logs: an ipvsctl (a node start) is a heavy thing to run on this VM now.
    const changes = () =>
      [lb1, lb2].map(
        (n) => pair.logLines(n).filter((l) => l.line.includes('"msg":"vrrp state changed"')).length,
      );
    const before = changes();
    const capture = pair.lab.spawn(lb2.ns, 'tcpdump', [
      '-i',
      'eth0',
      '-n',
      '-tt',
      '-l',
      'ip proto 112 and src host',
      lb1.clientAddress,
    ]);
    await capture.waitForOutput('listening on', 60_000);
    const scraper = pair.lab.spawn(lb1.ns, process.execPath, [SCRAPE_LOOP, 'http://127.0.0.1:9469/metrics']);
    await sleep(ISOLATION_WATCH_MS);
    scraper.child.stdin?.end();
    await scraper.exited;
    await capture.kill('SIGTERM', 10_000);
    const after = changes();

    const times = capture
      .stdout()
      .split('\n')
      .map((l) => /^(\d+\.\d+) IP /.exec(l)?.[1])
      .filter((t): t is string => t !== undefined)
      .map((t) => Number(t) * 1000);
    const intervals = times.slice(1).map((t, i) => t - (times[i] as number));
    const sorted = [...intervals].sort((a, b) => a - b);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
    const scrapes = scraper
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('scrape '))
      .map((l) => l.split(' ').map(Number));
    const bytes = scrapes.reduce((n, s) => n + (s[1] ?? 0), 0);
    const checks = (await checkCounts(pair, lb1)) ?? new Map();
    figures.push(
      `(c) ${ISOLATION_WATCH_MS / 1000} s, ${MANY + 3} real servers checked at 1 s, ${scrapes.length} scrapes ` +
        `(${Math.round(bytes / Math.max(1, scrapes.length) / 1024)} KiB each): ${times.length} adverts seen by lb2, ` +
        `interval median ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms; ` +
        `${checks.size} real servers with check results`,
    );
    expect(scrapes.length).toBeGreaterThan(0);
    // At least half the adverts the interval allows (TCG is slow, but a stalled loop sends none).
    expect(times.length).toBeGreaterThan(ISOLATION_WATCH_MS / ADVERT_MS / 2);
    // The peer's Master_Down_Interval (3 × 100 ms + skew): a longer gap would have made it master.
    expect(sorted.at(-1) ?? Number.POSITIVE_INFINITY).toBeLessThan(3 * ADVERT_MS);
    expect(after).toEqual(before);
  });
});
