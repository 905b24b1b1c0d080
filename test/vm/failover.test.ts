/**
 * Failover of a NAT director pair running ipvsd (test/support/nat-pair.ts): a VRRP sync group holds the
 * client-side VIP and the real servers' gateway VIP together, and the kernel connection-sync daemon
 * follows the group, so the backup already knows every open connection when it takes over.
 *
 * What a user sees is the oracle: requests and a slow streamed response from the client namespace,
 * `ip addr` for where the VIPs are, `ipvsadm -Lnc` for the synced connection, `ipvsctl status` for
 * the VRRP states. Cases, in order, each ending with lb1 master again (preemption):
 *   - continuous requests while the master crashes (links down, ipvsd killed) and while it stops
 *     gracefully (SIGTERM): requests succeed through the new master, failed attempts and the gap
 *     are printed;
 *   - a long-lived connection opened before the failover completes, every byte in order, through a
 *     crash, a graceful stop, and kill -9 of the master's ipvsd with its links up.
 * VRRPv2 at 1 s adverts (Master_Down_Interval ≈ 3.6 s for lb2). One topology and one boot for the
 * file; timings are printed, never asserted (waits only have generous deadlines).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT_ADDRESS,
  CLIENT_VIP,
  createNatPair,
  type DirectorNode,
  type NatPair,
  type ProbeAttempt,
  type Prober,
  SERVICE_PORT,
  STREAM_CLIENT,
  startProber as startPairProber,
} from '../support/nat-pair.js';
import { createNetnsLab, type SpawnedProcess } from '../support/netns.js';
import { monotonicMs, sleep, waitFor as waitUntil } from '../support/wait.js';

const PROBE_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 1000;
/** The slow response: 100 lines, one every 200 ms (20 s), long enough to outlast sync + takeover. */
const STREAM_CHUNKS = 100;
const STREAM_INTERVAL_MS = 200;

interface StreamResult {
  ok: boolean;
  status: number;
  server: string | null;
  bytes: number;
  expectedBytes: number;
  lines: number;
  inOrder: boolean;
  maxStallMs: number;
  lastDataAt: number;
  error: string | null;
}

interface VrrpStatus {
  vrrp?: { sync_groups: { name: string; state: string }[] };
}

let pair: NatPair;
const figures: string[] = [];

async function groupState(node: DirectorNode): Promise<string | undefined> {
  const r = await pair.ipvsctl(node, ['status', '--json']);
  if (r.code !== 0) throw new Error(`ipvsctl status on ${node.name} exited ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as VrrpStatus).vrrp?.sync_groups.find((g) => g.name === 'VG1')?.state;
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> =>
  waitUntil(what, probe, { timeoutMs, intervalMs: 100 });

/** prober.mjs in the client: a new request every PROBE_INTERVAL_MS; its attempts so far. */
const startProber = (): Promise<Prober> => startPairProber(pair, PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS);

/**
 * Stops the prober and sums up the failover it watched, which began at `t0` and was complete (no
 * request could reach the old master any more) at `done`: failed attempts since `t0`, the longest
 * time without a successful answer around the failover, and the attempts after the first success
 * of a request started after `done`.
 */
async function finishProber(
  prober: Prober,
  t0: number,
  done: number,
): Promise<{ failed: number; outageMs: number; after: ProbeAttempt[] }> {
  const first = await waitFor(
    'a successful request after the failover',
    async () => prober.attempts().find((a) => a.ok && a.s >= done),
    120_000,
  );
  // Let a few more seconds of requests run through the new master.
  await sleep(3000);
  prober.proc.child.stdin?.end();
  await prober.proc.exited;
  const all = prober.attempts();
  const successes = all
    .filter((a) => a.ok && a.e >= t0 - PROBE_TIMEOUT_MS)
    .map((a) => a.e)
    .sort((a, b) => a - b);
  let outageMs = 0;
  for (let i = 1; i < successes.length; i++)
    outageMs = Math.max(outageMs, (successes[i] as number) - (successes[i - 1] as number));
  return {
    failed: all.filter((a) => !a.ok && a.e >= t0).length,
    outageMs,
    after: all.filter((a) => a.s >= first.e),
  };
}

/** Sequential requests with curl (a user's view): every one answered 200 by a real server. */
async function requestsSucceed(count: number): Promise<Record<string, number>> {
  const args = ['-sS', '--connect-timeout', '5', '--max-time', '10'];
  for (let i = 0; i < count; i++) args.push('-w', ' %{http_code}\\n', pair.url);
  const r = await pair.lab.exec(pair.client, 'curl', args, { timeoutMs: 300_000 });
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  const counts: Record<string, number> = {};
  for (const line of lines) {
    const m = /^(rs\d) 200$/.exec(line);
    expect(m, `a request through the VIP failed: "${line}" (curl stderr: ${r.stderr})`).not.toBeNull();
    const rs = m?.[1] as string;
    counts[rs] = (counts[rs] ?? 0) + 1;
  }
  expect(lines.length, r.stderr).toBe(count);
  return counts;
}

interface OpenStream {
  port: number;
  proc: SpawnedProcess;
  result: Promise<StreamResult>;
}

async function openStream(): Promise<OpenStream> {
  const proc = pair.lab.spawn(pair.client, process.execPath, [
    STREAM_CLIENT,
    CLIENT_VIP,
    String(SERVICE_PORT),
    String(STREAM_CHUNKS),
    String(STREAM_INTERVAL_MS),
  ]);
  await proc.waitForOutput(/connected \d+/, 120_000);
  const port = Number(/connected (\d+)/.exec(proc.stdout())?.[1]);
  const result = proc.exited.then(() => {
    const line = proc
      .stdout()
      .split('\n')
      .find((l) => l.startsWith('result '));
    if (line === undefined)
      throw new Error(`stream-client printed no result: ${proc.stdout()} ${proc.stderr()}`);
    return JSON.parse(line.slice('result '.length)) as StreamResult;
  });
  return { port, proc, result };
}

/** Waits until `node` holds the stream's connection (synced from the master); returns how long. */
async function waitSynced(node: DirectorNode, port: number): Promise<number> {
  const started = monotonicMs();
  const source = `${CLIENT_ADDRESS}:${port}`;
  await waitFor(
    `${node.name} to receive the connection from ${source} through the connection-sync daemon`,
    async () => (await pair.connections(node)).find((c) => c.source === source && c.state === 'ESTABLISHED'),
    60_000,
  ).catch(async (err: Error) => {
    const dmesg = await pair.lab.exec(node.ns, 'dmesg', []);
    throw new Error(
      `${err.message}; is ipvsd running the sync daemon (director.sync_daemon)?\n` +
        `${node.name} ipvsadm -Lnc:\n${(await pair.ipvsadm(node, ['-Lnc'])).stdout}\n` +
        `${node.name} ipvsadm -L --daemon:\n${(await pair.ipvsadm(node, ['-L', '--daemon'])).stdout}\n` +
        `dmesg (tail): ${dmesg.stdout.split('\n').slice(-10).join('\n')}`,
    );
  });
  return monotonicMs() - started;
}

/**
 * The stream case: open it, wait until lb2 has it, fail lb1 with `failover` (which returns the
 * moment of the failure), then check that the connection outlived the failover and got every byte.
 */
async function streamSurvives(
  name: string,
  failover: () => Promise<number>,
  exclusive = true,
): Promise<void> {
  const stream = await openStream();
  const syncMs = await waitSynced(pair.lb2, stream.port);
  expect(stream.proc.exitStatus(), 'the stream ended before the failover').toBeNull();
  const t0 = await failover();
  await pair.waitForMaster(pair.lb2, { exclusive });
  const tMaster = monotonicMs();
  expect(stream.proc.exitStatus(), 'the stream ended before the takeover').toBeNull();
  expect(await groupState(pair.lb2)).toBe('MASTER');
  const result = await Promise.race([
    stream.result,
    sleep(180_000).then(() => {
      throw new Error(`the stream did not finish within 180 s of the failover: ${stream.proc.stdout()}`);
    }),
  ]);
  figures.push(
    `stream through ${name}: synced to lb2 after ${syncMs.toFixed(0)} ms; ` +
      `longest stall ${result.maxStallMs.toFixed(0)} ms; ${result.bytes}/${result.expectedBytes} bytes`,
  );
  expect(result, JSON.stringify(result)).toMatchObject({
    ok: true,
    status: 200,
    lines: STREAM_CHUNKS,
    inOrder: true,
    error: null,
  });
  expect(result.bytes).toBe(result.expectedBytes);
  // Data kept arriving after lb2 was master: the connection really crossed the failover.
  expect(result.lastDataAt).toBeGreaterThan(tMaster);
  expect(result.lastDataAt).toBeGreaterThan(t0);
  await requestsSucceed(6);
}

describe('NAT director pair failover with ipvsd (sync group + connection sync)', () => {
  beforeAll(async () => {
    const lab = createNetnsLab();
    pair = await createNatPair(lab, { vrrpVersion: 2, advertIntervalMs: 1000, tag: 'fo' });
    await pair.startRealServers();
    await pair.startDirectors('ipvsd');
  });

  afterAll(async () => {
    if (figures.length > 0)
      console.log(`failover figures (qemu TCG, not asserted):\n  ${figures.join('\n  ')}`);
    await pair?.cleanup();
  });

  it('starts with lb1 master, lb2 backup, and the virtual service in both kernels', async () => {
    expect(await pair.vips(pair.lb1)).toEqual({ client: true, server: true });
    expect(await pair.vips(pair.lb2)).toEqual({ client: false, server: false });
    expect(await groupState(pair.lb1)).toBe('MASTER');
    expect(await groupState(pair.lb2)).toBe('BACKUP');
    for (const node of pair.directors) {
      const r = await pair.ipvsadm(node, ['-Ln', '-t', `${CLIENT_VIP}:${SERVICE_PORT}`]);
      expect(r.code, `${node.name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.match(/->\s+198\.51\.100\.1[123]:8080\s+Masq/g)?.length, r.stdout).toBe(3);
    }
    const counts = await requestsSucceed(6);
    expect(Object.keys(counts).sort()).toEqual(['rs1', 'rs2', 'rs3']);
  });

  it('keeps serving requests when the master crashes (links down, ipvsd killed)', async () => {
    const prober = await startProber();
    const down = await pair.crash(pair.lb1);
    await pair.waitForMaster(pair.lb2);
    const { failed, outageMs, after } = await finishProber(prober, down.started, down.done);
    figures.push(
      `requests through a crash (links down + kill -9): no answer for ${outageMs.toFixed(0)} ms, ` +
        `${failed} failed attempts (one every ${PROBE_INTERVAL_MS} ms, ${PROBE_TIMEOUT_MS} ms timeout)`,
    );
    expect(await groupState(pair.lb2)).toBe('MASTER');
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((a) => !a.ok)).toEqual([]);
    const counts = await requestsSucceed(6);
    expect(Object.keys(counts).sort()).toEqual(['rs1', 'rs2', 'rs3']);

    await pair.recover(pair.lb1);
    await pair.waitForMaster(pair.lb1);
    await requestsSucceed(3);
  });

  it('keeps serving requests when the master stops gracefully (SIGTERM)', async () => {
    const prober = await startProber();
    const daemon = pair.lb1.daemon as SpawnedProcess;
    const t0 = monotonicMs();
    await pair.stopDirector(pair.lb1, 'SIGTERM');
    expect(daemon.exitStatus()).toEqual({ code: 0, signal: null });
    await pair.waitForMaster(pair.lb2);
    const { failed, outageMs, after } = await finishProber(prober, t0, monotonicMs());
    figures.push(
      `requests through a graceful stop (SIGTERM): no answer for ${outageMs.toFixed(0)} ms, ` +
        `${failed} failed attempts`,
    );
    // The stopped director gave its VIPs up and (on_stop: keep) left its services in place.
    expect(await pair.vips(pair.lb1)).toEqual({ client: false, server: false });
    expect((await pair.ipvsadm(pair.lb1, ['-Ln', '-t', `${CLIENT_VIP}:${SERVICE_PORT}`])).code).toBe(0);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((a) => !a.ok)).toEqual([]);
    await requestsSucceed(6);

    await pair.startDirector(pair.lb1, 'ipvsd');
    await pair.waitForMaster(pair.lb1);
    await requestsSucceed(3);
  });

  describe('a long-lived connection opened before the failover completes after it', () => {
    it('through a crash of the master (links down, ipvsd killed)', async () => {
      await streamSurvives('a crash', async () => (await pair.crash(pair.lb1)).started);
      await pair.recover(pair.lb1);
      await pair.waitForMaster(pair.lb1);
    });

    it('through a graceful stop of the master (SIGTERM)', async () => {
      await streamSurvives('a graceful stop', async () => {
        const t0 = monotonicMs();
        await pair.stopDirector(pair.lb1, 'SIGTERM');
        return t0;
      });
      await pair.startDirector(pair.lb1, 'ipvsd');
      await pair.waitForMaster(pair.lb1);
    });

    it("through kill -9 of the master's ipvsd with its links up", async () => {
      // lb1 keeps its VIPs, services and connections (nobody removes them), but stops advertising:
      // lb2 takes over and its gratuitous ARPs move the client and the real servers to it.
      await streamSurvives(
        'kill -9 with links up',
        async () => {
          const t0 = monotonicMs();
          await pair.stopDirector(pair.lb1, 'SIGKILL');
          return t0;
        },
        false,
      );
      // A restarted ipvsd removes the VIPs its predecessor left, then takes the master role back.
      await pair.startDirector(pair.lb1, 'ipvsd');
      await pair.waitForMaster(pair.lb1);
      await requestsSucceed(3);
    });
  });
});
