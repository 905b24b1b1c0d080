/**
 * ipvsd as a user runs it: a NAT director (test/vm/nat-topology.ts) with three real servers behind
 * the VIP 203.0.113.100, on the VM's real kernel IPVS. What counts is what a client sees through the
 * VIP (curl from the client namespace) and what the kernel holds (ipvsadm in the director): requests
 * spread per scheduler, a dead real server leaves the table and no request fails after that, quorum
 * loss switches to the sorry server, `ipvsadm -C` is repaired by the resync, a broken config on
 * SIGHUP changes nothing while a valid one changes only what changed, drains survive reloads, and
 * `kill -9` plus a restart keeps an open connection through the VIP. One daemon and one topology
 * for the whole file (a boot and node starts are expensive under TCG), so the cases run in order
 * and each leaves every real server up. Timings are printed, never asserted: the waits only have
 * generous deadlines.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsLab, type SpawnedProcess } from '../support/netns.js';
import { IPVSCTL, IPVSD } from '../support/paths.js';
import { sleep, waitFor } from '../support/wait.js';
import { ipvsadmSave, normalizedSave } from './ipvs-lab.js';
import {
  createNatTopology,
  httpRequests,
  type KernelService,
  kernelService,
  LINE_CLIENT_SCRIPT,
  type LogEntry,
  logEntries,
  type NatTopology,
  type ServerHost,
  startServer,
  VIP,
  waitForLog,
} from './nat-topology.js';

const lab = createNetnsLab();
const DIR = `/tmp/ipvsd-vm-daemon-${process.pid}`;
const CONFIG = join(DIR, 'ipvsd.yaml');
const SOCKET = join(DIR, 'run', 'control.sock');
const STATE_DIR = join(DIR, 'state');
const WEB = `${VIP}:80`;
const ECHO = `${VIP}:9000`;
const WEB_URL = `http://${VIP}/`;
const SORRY = '198.51.100.99:8080';
const RS = ['198.51.100.11:8080', '198.51.100.12:8080', '198.51.100.13:8080'] as const;

interface RealServerStatus {
  address: string;
  port: number;
  weight: number;
  kernel_weight: number | null;
  health: 'up' | 'down';
  drained: boolean;
  last_check: { ok: boolean; latency_ms: number; reason?: string; at: string } | null;
}
interface VirtualServerStatus {
  name: string;
  quorum: { required: number; live_weight: number; met: boolean };
  sorry_server_active: boolean;
  real_servers: RealServerStatus[];
}
interface Status {
  virtual_servers: VirtualServerStatus[];
  last_reconcile: { at: string; operations: number; errors: string[] } | null;
}

interface WebOptions {
  scheduler: 'rr' | 'wrr';
  weights: readonly [number | string, number | string, number | string];
  quorum?: number;
}

/** The daemon's config; `weights` may hold a bad value to make a broken file. */
function configYaml(o: WebOptions): string {
  const [w1, w2, w3] = o.weights;
  return `director:
  control_socket: ${SOCKET}
  metrics: { listen: "127.0.0.1:9469" }
  ipvs: { resync_interval: 2s }
virtual_servers:
  - name: web
    address: ${VIP}
    port: 80
    scheduler: ${o.scheduler}
    quorum: ${o.quorum ?? 1}
    sorry_server: { address: 198.51.100.99, port: 8080 }
    check: { type: http, path: /health, interval: 1s, timeout: 3s }
    real_servers:
      - { address: 198.51.100.11, port: 8080, weight: ${w1} }
      - { address: 198.51.100.12, port: 8080, weight: ${w2} }
      - { address: 198.51.100.13, port: 8080, weight: ${w3} }
  - name: echo
    address: ${VIP}
    port: 9000
    scheduler: rr
    check: { type: tcp, interval: 2s, timeout: 3s }
    real_servers:
      - { address: 198.51.100.11, port: 9000 }
      - { address: 198.51.100.12, port: 9000 }
      - { address: 198.51.100.13, port: 9000 }
`;
}

let topo: NatTopology;
let ipvsd: SpawnedProcess;
/** Every ipvsd this file started, for the log review at the end. */
const daemons: SpawnedProcess[] = [];
const http = new Map<string, SpawnedProcess>();
const figures: string[] = [];

function realServer(name: string): ServerHost {
  const host = topo.realServers.find((h) => h.name === name);
  if (!host) throw new Error(`no real server ${name}`);
  return host;
}

async function startIpvsd(): Promise<SpawnedProcess> {
  const proc = lab.spawn(topo.director, process.execPath, [
    IPVSD,
    '--config',
    CONFIG,
    '--state-dir',
    STATE_DIR,
  ]);
  daemons.push(proc);
  await waitForLog(proc, (e) => e.msg === 'ipvsd started', { timeoutMs: 180_000, what: '"ipvsd started"' });
  return proc;
}

/** SIGHUP, then the daemon's verdict: the first "config reloaded" or "reload refused" after it. */
async function sighup(): Promise<{ entry: LogEntry; since: number }> {
  const since = logEntries(ipvsd).length;
  ipvsd.child.kill('SIGHUP');
  const { entry } = await waitForLog(
    ipvsd,
    (e) => e.msg === 'config reloaded' || e.msg.startsWith('reload refused') || e.msg === 'reload failed',
    { after: since, timeoutMs: 120_000, what: 'the reload verdict' },
  );
  return { entry, since };
}

async function reloadWith(o: WebOptions): Promise<{ entry: LogEntry; since: number }> {
  writeFileSync(CONFIG, configYaml(o));
  const r = await sighup();
  expect(r.entry.msg, JSON.stringify(r.entry)).toBe('config reloaded');
  return r;
}

async function ipvsctl(args: readonly string[]) {
  return lab.exec(topo.director, process.execPath, [IPVSCTL, '--socket', SOCKET, ...args], {
    timeoutMs: 300_000,
  });
}

async function status(): Promise<Status> {
  const r = await ipvsctl(['status', '--json']);
  if (r.code !== 0) throw new Error(`ipvsctl status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Status;
}

async function webStatus(): Promise<VirtualServerStatus> {
  const vs = (await status()).virtual_servers.find((v) => v.name === 'web');
  if (!vs) throw new Error('no "web" in ipvsctl status');
  return vs;
}

const rsStatus = (vs: VirtualServerStatus, rs: string): RealServerStatus | undefined =>
  vs.real_servers.find((r) => `${r.address}:${r.port}` === rs);

const web = (): Promise<KernelService | null> => kernelService(lab, topo.director, WEB);

/** Waits until the kernel's web service has exactly these destinations (addr:port → weight). */
async function waitForWeb(
  expected: Record<string, number>,
  what: string,
  timeoutMs = 60_000,
): Promise<number> {
  let last: KernelService | null = null;
  await waitFor(
    what,
    async () => {
      last = await web();
      if (!last) return false;
      const got = Object.fromEntries(last.destinations);
      return JSON.stringify(sortKeys(got)) === JSON.stringify(sortKeys(expected));
    },
    { timeoutMs, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}; the kernel holds ${JSON.stringify(last && Object.fromEntries(last.destinations))}`,
    );
  });
  return Date.now();
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

async function startHttp(name: string): Promise<void> {
  http.set(name, await startServer(lab, name === 'sorry' ? topo.sorry : realServer(name), 'http', 8080));
}

async function stopHttp(name: string): Promise<number> {
  const proc = http.get(name);
  if (!proc) throw new Error(`no http server ${name}`);
  const at = Date.now();
  await proc.kill('SIGKILL');
  return at;
}

const ms = (from: number, to: number) => `${Math.round(to - from)} ms`;

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  topo = await createNatTopology(lab);
  await Promise.all([
    ...['rs1', 'rs2', 'rs3', 'sorry'].map(startHttp),
    ...topo.realServers.map((h) => startServer(lab, h, 'echo', 9000)),
  ]);
  writeFileSync(CONFIG, configYaml({ scheduler: 'rr', weights: [3, 2, 1] }));
  ipvsd = await startIpvsd();
});

afterAll(async () => {
  try {
    await lab.cleanup();
  } finally {
    rmSync(DIR, { recursive: true, force: true });
    if (figures.length) console.log(`ipvsd VM figures:\n  ${figures.join('\n  ')}`);
  }
});

describe('ipvsd directing a NAT site (kernel IPVS)', () => {
  it('rr spreads requests evenly; wrr by weight 3:2:1', async () => {
    await waitForWeb({ [RS[0]]: 3, [RS[1]]: 2, [RS[2]]: 1 }, 'the configured web service');
    expect((await web())?.scheduler).toBe('rr');
    const rr = await httpRequests(lab, topo.client, WEB_URL, 60);
    expect(rr.failures).toEqual([]);
    // rr ignores weights and is exact over whole rounds.
    expect(rr.counts).toEqual({ rs1: 20, rs2: 20, rs3: 20 });

    await reloadWith({ scheduler: 'wrr', weights: [3, 2, 1] });
    await waitFor('the wrr scheduler in the kernel', async () => (await web())?.scheduler === 'wrr');
    const wrr = await httpRequests(lab, topo.client, WEB_URL, 120);
    expect(wrr.failures).toEqual([]);
    console.log(`wrr 3:2:1 over 120 requests: ${JSON.stringify(wrr.counts)}`);
    // The kernel's wrr is a fixed 6-step cycle, so 120 requests give 60/40/20; the tolerance of ±2
    // allows for a reload landing mid-cycle in other kernels' implementations.
    for (const [name, expected] of [
      ['rs1', 60],
      ['rs2', 40],
      ['rs3', 20],
    ] as const) {
      expect(
        Math.abs((wrr.counts[name] ?? 0) - expected),
        `${name}: ${wrr.counts[name]}`,
      ).toBeLessThanOrEqual(2);
    }
  });

  it('a real server whose HTTP process stops leaves the table; no request fails after that; it comes back', async () => {
    const since = logEntries(ipvsd).length;
    const died = await stopHttp('rs2');
    const removedSeen = await waitForWeb({ [RS[0]]: 3, [RS[2]]: 1 }, 'rs2 to leave the kernel table');
    await waitFor('ipvsctl status to show rs2 down', async () => {
      const rs2 = rsStatus(await webStatus(), RS[1]);
      return rs2?.health === 'down' && rs2.kernel_weight === null;
    });

    // What the daemon saw, from its log: the check result, then the kernel change.
    const down = await waitForLog(
      ipvsd,
      (e) => e.msg === 'real server down' && e.virtual_server === 'web' && e.real_server === RS[1],
      { after: since, what: '"real server down" for rs2' },
    );
    const reconciled = await waitForLog(
      ipvsd,
      (e) => e.msg === 'ipvs table reconciled' && e.kind === 'event',
      {
        after: down.index,
        what: 'the reconcile after rs2 went down',
      },
    );
    const downAt = Date.parse(down.entry.time);
    const reconciledAt = Date.parse(reconciled.entry.time);
    figures.push(
      `real server death → "real server down" logged: ${ms(died, downAt)} (check interval 1s, retry 1)`,
      `"real server down" → "ipvs table reconciled" logged: ${ms(downAt, reconciledAt)} (reconcile durationMs ${reconciled.entry.durationMs}, operations ${reconciled.entry.operations})`,
      `real server death → kernel change (reconcile logged): ${ms(died, reconciledAt)}; → seen by polling ipvsadm: ${ms(died, removedSeen)}`,
    );
    console.log(figures.slice(-3).join('\n'));

    const after = await httpRequests(lab, topo.client, WEB_URL, 60);
    expect(after.failures).toEqual([]);
    expect(after.counts.rs2).toBeUndefined();
    expect((after.counts.rs1 ?? 0) + (after.counts.rs3 ?? 0)).toBe(60);

    await startHttp('rs2');
    await waitForWeb({ [RS[0]]: 3, [RS[1]]: 2, [RS[2]]: 1 }, 'rs2 to come back');
    await waitFor(
      'ipvsctl status to show rs2 up',
      async () => rsStatus(await webStatus(), RS[1])?.health === 'up',
    );
    const back = await httpRequests(lab, topo.client, WEB_URL, 30);
    expect(back.failures).toEqual([]);
    expect(back.counts.rs2).toBe(10);
  });

  it('losing quorum switches the service to the sorry server, and back when real servers return', async () => {
    await reloadWith({ scheduler: 'wrr', weights: [3, 2, 1], quorum: 4 });
    await waitForWeb(
      { [RS[0]]: 3, [RS[1]]: 2, [RS[2]]: 1 },
      'the real servers with quorum 4 (live weight 6)',
    );

    await stopHttp('rs1'); // live weight 2 + 1 = 3 < 4
    await waitForWeb({ [SORRY]: 1 }, 'the sorry server alone in the kernel');
    const lost = await webStatus();
    expect(lost.quorum).toEqual({ required: 4, live_weight: 3, met: false });
    expect(lost.sorry_server_active).toBe(true);
    const sorry = await httpRequests(lab, topo.client, WEB_URL, 20);
    expect(sorry.failures).toEqual([]);
    expect(sorry.counts).toEqual({ sorry: 20 });

    await startHttp('rs1');
    await waitForWeb({ [RS[0]]: 3, [RS[1]]: 2, [RS[2]]: 1 }, 'the real servers back, the sorry server gone');
    const regained = await webStatus();
    expect(regained.quorum).toEqual({ required: 4, live_weight: 6, met: true });
    expect(regained.sorry_server_active).toBe(false);
    const back = await httpRequests(lab, topo.client, WEB_URL, 60);
    expect(back.failures).toEqual([]);
    expect(back.counts).toEqual({ rs1: 30, rs2: 20, rs3: 10 });
  });

  it('`ipvsadm -C` is repaired by the next resync (resync_interval 2s)', async () => {
    const before = normalizedSave(await ipvsadmSave(lab, topo.director));
    expect(before).toContain(`-A -t ${WEB}`);
    expect(before).toContain(`-A -t ${ECHO}`);
    const since = logEntries(ipvsd).length;
    const cleared = Date.now();
    // No read-back of the empty table: even a second ipvsadm in the same shell can start after
    // the 2 s resync restored it (seen twice under TCG). The resync's 8 operations below show that
    // the daemon found the table empty.
    await lab.execOk(topo.director, 'ipvsadm', ['-C']);
    await waitFor(
      'the table to be restored',
      async () => normalizedSave(await ipvsadmSave(lab, topo.director)) === before,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const repaired = Date.now();
    const resync = await waitForLog(ipvsd, (e) => e.msg === 'ipvs table reconciled' && e.kind === 'resync', {
      after: since,
      what: 'a resync reconcile',
    });
    // The repair re-created everything: 2 services and 6 destinations.
    expect(resync.entry.operations).toBe(8);
    figures.push(
      `ipvsadm -C → resync reconcile logged: ${ms(cleared, Date.parse(resync.entry.time))}; → restored table seen by polling ipvsadm: ${ms(cleared, repaired)} (resync_interval 2s; the resync made ${resync.entry.operations} operations in ${resync.entry.durationMs} ms)`,
    );
    console.log(figures.at(-1));
    const requests = await httpRequests(lab, topo.client, WEB_URL, 12);
    expect(requests.failures).toEqual([]);
  });

  it('SIGHUP with a broken config changes nothing; a valid edit changes only what changed', async () => {
    const table = await ipvsadmSave(lab, topo.director);
    const broken = configYaml({ scheduler: 'wrr', weights: [3, 2, 'heavy'], quorum: 4 });
    writeFileSync(CONFIG, broken);
    const lines = broken.split('\n');
    const line = lines.findIndex((l) => l.includes('heavy'));
    const col = (lines[line] as string).indexOf('heavy') + 1;
    const refused = await sighup();
    expect(refused.entry.msg).toMatch(/^reload refused/);
    const issues = logEntries(ipvsd)
      .slice(refused.since)
      .filter((e) => e.msg === 'config error')
      .map((e) => String(e.issue));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(new RegExp(`^${CONFIG}:${line + 1}:${col}: .*weight.*heavy`));
    expect(ipvsd.exitStatus()).toBeNull();
    expect(await ipvsadmSave(lab, topo.director)).toBe(table);
    const afterRefusal = await webStatus();
    expect(afterRefusal.real_servers.map((r) => r.weight)).toEqual([3, 2, 1]);

    // A valid edit (rs3's weight) while rs2 is down: the reload must keep rs2 down (not re-probe
    // from the initial "up" state, which would put it back in the kernel) and keep every unchanged
    // real server's check history.
    await stopHttp('rs2');
    await waitForWeb({ [RS[0]]: 3, [RS[2]]: 1 }, 'rs2 to leave the kernel table');
    const beforeReload = await webStatus();
    const { since } = await reloadWith({ scheduler: 'wrr', weights: [3, 2, 4], quorum: 4 });
    const reloadReport = logEntries(ipvsd)
      .slice(since)
      .filter((e) => e.msg === 'ipvs table reconciled' && e.kind === 'reload');
    expect(reloadReport.map((e) => e.operations)).toEqual([1]);
    const afterReload = await webStatus();
    expect(await web().then((s) => s && Object.fromEntries(s.destinations))).toEqual({
      [RS[0]]: 3,
      [RS[2]]: 4,
    });
    for (const [i, rs] of RS.entries()) {
      const was = rsStatus(beforeReload, rs);
      const now = rsStatus(afterReload, rs);
      expect(now?.health, rs).toBe(was?.health);
      expect(now?.last_check, `${rs} keeps its last check`).not.toBeNull();
      expect(Date.parse(now?.last_check?.at ?? '') >= Date.parse(was?.last_check?.at ?? ''), rs).toBe(true);
      expect(now?.weight).toBe([3, 2, 4][i]);
    }
    expect(rsStatus(afterReload, RS[1])?.health).toBe('down');

    await startHttp('rs2');
    await waitForWeb({ [RS[0]]: 3, [RS[1]]: 2, [RS[2]]: 4 }, 'rs2 to come back');
  });

  it('drain gives kernel weight 0, survives a reload and a restart, and undrain restores the weight', async () => {
    const drain = await ipvsctl(['drain', 'web', RS[1]]);
    expect(drain.code, drain.stderr).toBe(0);
    expect(drain.stderr).toBe(''); // saved: no warning
    await waitForWeb({ [RS[0]]: 3, [RS[1]]: 0, [RS[2]]: 4 }, 'rs2 at weight 0');
    let vs = await webStatus();
    expect(rsStatus(vs, RS[1])).toMatchObject({ drained: true, kernel_weight: 0, health: 'up' });
    const drained = await httpRequests(lab, topo.client, WEB_URL, 35);
    expect(drained.failures).toEqual([]);
    expect(drained.counts.rs2).toBeUndefined();

    // A reload that even changes rs2's configured weight keeps the drain.
    await reloadWith({ scheduler: 'wrr', weights: [3, 5, 4], quorum: 4 });
    expect(await web().then((s) => s && Object.fromEntries(s.destinations))).toEqual({
      [RS[0]]: 3,
      [RS[1]]: 0,
      [RS[2]]: 4,
    });
    vs = await webStatus();
    expect(rsStatus(vs, RS[1])).toMatchObject({ drained: true, kernel_weight: 0, weight: 5 });

    // A restart: the new daemon restores the saved drain before its first reconcile, so the kernel
    // never gives rs2 its weight back (sampled all through the stop and the start).
    expect(JSON.parse(readFileSync(join(STATE_DIR, 'drains.json'), 'utf8')).drained).toEqual([
      { virtual_server: 'web', real_server: RS[1] },
    ]);
    const rs2Weights = new Set<number | undefined>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        rs2Weights.add((await web())?.destinations.get(RS[1]));
        await sleep(100);
      }
    })();
    await ipvsd.kill('SIGTERM');
    ipvsd = await startIpvsd();
    vs = await webStatus();
    sampling = false;
    await sampler;
    expect([...rs2Weights]).toEqual([0]);
    expect(rsStatus(vs, RS[1])).toMatchObject({ drained: true, kernel_weight: 0 });
    expect(logEntries(ipvsd).find((e) => e.msg === 'drains restored')).toMatchObject({
      drains: 1,
      dropped: 0,
    });

    const undrain = await ipvsctl(['undrain', 'web', RS[1]]);
    expect(undrain.code, undrain.stderr).toBe(0);
    await waitForWeb({ [RS[0]]: 3, [RS[1]]: 5, [RS[2]]: 4 }, 'rs2 back at its configured weight 5');
    vs = await webStatus();
    expect(rsStatus(vs, RS[1])).toMatchObject({ drained: false, kernel_weight: 5 });
  });

  it('kill -9 of ipvsd and a restart keep an open TCP connection through the VIP', async () => {
    const table = normalizedSave(await ipvsadmSave(lab, topo.director));
    const client = lab.spawn(topo.client, process.execPath, [LINE_CLIENT_SCRIPT, VIP, '9000']);
    await client.waitForOutput('connected', 120_000);
    const say = async (text: string): Promise<string> => {
      client.child.stdin?.write(`${text}\n`);
      await client.waitForOutput(new RegExp(`recv \\S+ ${text}\\n`), 60_000);
      return (new RegExp(`recv (\\S+) ${text}\\n`).exec(client.stdout()) as RegExpExecArray)[1] as string;
    };
    const server = await say('before-kill');

    // Sample the kernel table all through the crash and the restart: it must never change.
    const samples: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(normalizedSave(await ipvsadmSave(lab, topo.director)));
        await sleep(100);
      }
    })();

    const killed = await ipvsd.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    expect(await say('while-down')).toBe(server);

    const restartedAt = Date.now();
    ipvsd = await startIpvsd();
    const started = Date.now();
    // Let the new daemon run its first checks and a resync before judging.
    await waitFor('the restarted daemon to have checked every real server', async () =>
      (await webStatus()).real_servers.every((r) => r.last_check !== null),
    );
    await sleep(2500);
    sampling = false;
    await sampler;

    // What the restarted daemon did, for the record (and to tell a failure's cause): its kernel
    // changes with their operations, and every health verdict and check transition.
    const story = logEntries(ipvsd).filter((e) =>
      [
        'ipvs table reconciled',
        'real server down',
        'real server up',
        'check target went down',
        'check target came up',
        'ipvsd started',
      ].includes(e.msg),
    );
    console.log(`restarted ipvsd:\n  ${story.map((e) => JSON.stringify(e)).join('\n  ')}`);
    expect(await say('after-restart')).toBe(server);
    expect(client.stdout()).not.toMatch(/^(closed|error)/m);
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.filter((s) => s !== table)).toEqual([]);
    // Adopted, not rebuilt: the restart changed nothing in the kernel.
    expect(logEntries(ipvsd).filter((e) => e.msg === 'ipvs table reconciled')).toEqual([]);
    expect((await status()).last_reconcile?.operations).toBe(0);
    figures.push(
      `kill -9 → restarted daemon ready: ${ms(restartedAt, started)} (node start under TCG); ${samples.length} ipvsadm samples, all identical`,
    );

    client.child.stdin?.end();
    await client.waitForOutput('closed', 60_000);
  });

  it('logged no error or warning besides the refused config', () => {
    const entries = daemons.flatMap(logEntries);
    const notable = entries.filter((e) => e.level >= 40);
    const summary = notable.map(
      (e) =>
        `${e.level} ${e.msg} ${JSON.stringify({ ...e, level: undefined, time: undefined, pid: undefined, name: undefined, msg: undefined })}`,
    );
    console.log(
      `ipvsd logged ${entries.length} lines, ${notable.length} at warn or above:\n  ${summary.join('\n  ')}`,
    );
    const expected = new Set([
      'config error',
      'reload refused: the running config stays',
      'quorum lost',
      'quorum regained',
    ]);
    expect(notable.filter((e) => !expected.has(e.msg))).toEqual([]);
  });
});
