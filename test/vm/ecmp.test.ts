/**
 * N active directors behind ECMP (issue 15): three directors, each running ipvsd and a routing daemon
 * that announces the VIP over BGP to a router, which spreads flows over them by L4 hash
 * (test/vm/ecmp-topology.ts). One boot and one topology for the file; the cases run in order and
 * each leaves all three directors announcing.
 *
 * The oracles are what the client sees (every request answered, every byte of a long stream in
 * order), what the router holds (`ip route` next hops of the VIP), what each director's kernel holds
 * (`ipvsadm -Sn`, `--stats`, `-Lnc`) and what the real servers saw (their answer names the peer
 * address). Two services on one VIP: port 80 in DR mode with the `mh` scheduler (the client's address
 * reaches the real server), port 8080 in full-NAT mode (the director rewrites the source to its own
 * server-side address). A director "dies" with its links going down and then `kill -9` of ipvsd;
 * streams through the survivors are counted with the router's default multipath hashing and with a
 * resilient next-hop group. Figures are printed (one `ecmp-figures` line per case), never asserted
 * beyond what the design promises.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsLab, type SpawnedProcess } from '../support/netns.js';
import { IPVSCTL, IPVSD } from '../support/paths.js';
import { monotonicMs, sleep, waitFor } from '../support/wait.js';
import {
  CLIENT_ADDRESS,
  createEcmpTopology,
  DR_PORT,
  directorConnections,
  directorYaml,
  type EcmpDirector,
  type EcmpTopology,
  FNAT_PORT,
  linksDown,
  linksUp,
  openStreams,
  type Routing,
  requests,
  resilientGroup,
  routerNextHops,
  startRouting,
  startServers,
  tallyStreams,
  VIP,
  waitForNextHops,
} from './ecmp-topology.js';

const lab = createNetnsLab();
const DIR = `/tmp/ipvsd-vm-ecmp-${process.pid}`;
const RS_ADDRESSES = ['198.51.100.11', '198.51.100.12', '198.51.100.13'];
const STREAMS = 24;
const STREAM_CHUNKS = 60;
const STREAM_INTERVAL_MS = 250;
const WITHDRAW_DELAY_S = 4;

let topo: EcmpTopology;
let routing: Routing;
const daemons = new Map<string, SpawnedProcess>();

/** Where a long case is, on the console (vitest prints results only at the end of the file). */
const step = (what: string) => process.stdout.write(`ecmp-step ${what}\n`);

function figures(name: string, data: Record<string, unknown>): void {
  process.stdout.write(`ecmp-figures ${JSON.stringify({ case: name, ...data })}\n`);
}

const socketOf = (d: EcmpDirector) => join(DIR, `${d.name}.sock`);

async function startDirector(d: EcmpDirector): Promise<SpawnedProcess> {
  const config = join(DIR, `${d.name}.yaml`);
  writeFileSync(
    config,
    directorYaml(topo, d, {
      controlSocket: socketOf(d),
      withdrawDelayS: WITHDRAW_DELAY_S,
      resyncInterval: '5s',
    }),
  );
  const proc = lab.spawn(d.ns, process.execPath, [IPVSD, '--config', config]);
  await proc.waitForOutput('"msg":"ipvsd started"', 180_000);
  daemons.set(d.name, proc);
  return proc;
}

async function ipvsctl(d: EcmpDirector, args: readonly string[]): Promise<string> {
  return lab.execOk(d.ns, process.execPath, [IPVSCTL, '--socket', socketOf(d), ...args], {
    timeoutMs: 120_000,
  });
}

interface Announcement {
  address: string;
  announced: boolean;
  reason: string;
}

async function announcement(d: EcmpDirector): Promise<Announcement | undefined> {
  const status = JSON.parse(await ipvsctl(d, ['status', '--json'])) as { announcements?: Announcement[] };
  return status.announcements?.find((a) => a.address === VIP);
}

const transits = (ds: readonly EcmpDirector[]) => ds.map((d) => d.transit);

/**
 * Kills `dead` under load (links down, then kill -9 of ipvsd) while STREAMS streams run on each
 * service, waits for the router to withdraw it, then checks new connections; restores it after.
 */
async function killDirector(dead: EcmpDirector, mode: 'hash' | 'resilient') {
  const survivors = topo.directors.filter((d) => d !== dead);
  const group = mode === 'resilient' ? await resilientGroup(lab, topo) : null;
  await group?.sync(transits(topo.directors));
  const dr = await openStreams(lab, topo, DR_PORT, STREAMS, STREAM_CHUNKS, STREAM_INTERVAL_MS);
  const fnat = await openStreams(lab, topo, FNAT_PORT, STREAMS, STREAM_CHUNKS, STREAM_INTERVAL_MS);
  await sleep(1000);
  step(`${mode}: killing ${dead.name}`);
  const t0 = monotonicMs();
  await linksDown(lab, dead);
  daemons.get(dead.name)?.child.kill('SIGKILL');
  await waitForNextHops(lab, topo, routing.daemon, transits(survivors), 30_000);
  const withdrawnMs = Math.round(monotonicMs() - t0);
  // What a routing daemon with resilient groups would do on the withdrawal: drop the dead next hop
  // from the group, which moves only that next hop's buckets.
  await group?.sync(transits(survivors));
  step(`${mode}: ${dead.name} withdrawn after ${withdrawnMs} ms`);
  const after = await requests(lab, topo, FNAT_PORT, 30);
  const afterDr = await requests(lab, topo, DR_PORT, 30);
  const drTally = tallyStreams(dr, await dr.done(), dead.name);
  const fnatTally = tallyStreams(fnat, await fnat.done(), dead.name);
  figures(`director killed, ${routing.daemon}, ${mode}`, {
    withdrawnMs,
    newConnectionsAfterWithdrawal: { fnat: after, dr: afterDr },
    dr: drTally,
    fnat: fnatTally,
  });
  await group?.remove();
  step(`${mode}: restoring ${dead.name}`);
  await daemons.get(dead.name)?.exited;
  await linksUp(lab, dead);
  await startDirector(dead);
  await waitForNextHops(lab, topo, routing.daemon, transits(topo.directors), 60_000);
  return { withdrawnMs, after, afterDr, drTally, fnatTally };
}

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  topo = await createEcmpTopology(lab);
  await startServers(lab, topo, [DR_PORT, FNAT_PORT]);
  // No BFD in the VM: under TCG on a shared host, 300 ms BFD timers flap; hold 3 s does not.
  routing = await startRouting(lab, topo, 'bird', { bfd: false, logDir: process.env.IPVSD_VM_SHARE });
  await Promise.all(topo.directors.map((d) => startDirector(d)));
});

afterAll(async () => {
  await routing?.stop();
  await lab.cleanup();
  rmSync(DIR, { recursive: true, force: true });
});

describe('three directors announcing one VIP over BGP (BIRD)', () => {
  it('the router holds a multipath route to the VIP through all three directors', async () => {
    await waitForNextHops(lab, topo, 'bird', transits(topo.directors), 120_000);
    expect(await routerNextHops(lab, topo, 'bird')).toEqual(transits(topo.directors).sort());
    for (const d of topo.directors) {
      // ipvsd holds the VIP as a local route of its protocol (240), not as an address on lo.
      const local = await lab.ipJson<{ dst: string; type?: string; protocol?: string; dev?: string }[]>(
        d.ns,
        ['-4', 'route', 'show', 'table', 'local'],
      );
      expect(local.filter((r) => r.dst === VIP)).toEqual([
        expect.objectContaining({ type: 'local', protocol: '240', dev: 'lo' }),
      ]);
      expect((await lab.ipAddresses(d.ns, 'lo')).map((a) => a.local)).not.toContain(VIP);
      // A flow ECMP moves to another director arrives mid-connection (no SYN): ipvsd sets
      // sloppy_tcp for an announced DR + mh service, so the director still schedules it, and mh
      // sends it to the same real server.
      expect((await lab.execOk(d.ns, 'cat', ['/proc/sys/net/ipv4/vs/sloppy_tcp'])).trim()).toBe('1');
    }
  });

  it('connections from many client ports spread over all three directors', async () => {
    for (const d of topo.directors) await lab.execOk(d.ns, 'ipvsadm', ['-Z']);
    const dr = await requests(lab, topo, DR_PORT, 60);
    const fnat = await requests(lab, topo, FNAT_PORT, 60);
    const perDirector: Record<string, { dr: number; fnat: number }> = {};
    for (const d of topo.directors)
      perDirector[d.name] = {
        dr: await directorConnections(lab, d, `${VIP}:${DR_PORT}`),
        fnat: await directorConnections(lab, d, `${VIP}:${FNAT_PORT}`),
      };
    figures('spread', { perDirector, dr, fnat });
    expect(dr.failed).toBe(0);
    expect(fnat.failed).toBe(0);
    // The router's hash decides, per flow: a share can be small (2 of 60 seen), never empty.
    for (const d of topo.directors)
      expect((perDirector[d.name]?.dr ?? 0) + (perDirector[d.name]?.fnat ?? 0)).toBeGreaterThan(0);
    // DR keeps the client's address: every real server saw the client.
    for (const body of Object.keys(dr.bodies)) expect(body).toMatch(new RegExp(` ${CLIENT_ADDRESS}$`));
  });

  it('every director builds the same Maglev table for the DR service (same destinations, weights, order)', async () => {
    const drRules = (save: string) =>
      save
        .split('\n')
        .filter((l) => l.includes(`-t ${VIP}:${DR_PORT} `) || l.endsWith(`-t ${VIP}:${DR_PORT}`))
        .join('\n');
    const saves = await Promise.all(
      topo.directors.map(async (d) => drRules(await lab.execOk(d.ns, 'ipvsadm', ['-Sn']))),
    );
    expect(saves[0]).toMatch(/-s mh -b mh-port/);
    expect(saves[0]?.match(/ -g /g)).toHaveLength(3);
    expect(saves[1]).toBe(saves[0]);
    expect(saves[2]).toBe(saves[0]);
  });

  it('a director killed is withdrawn; DR+mh streams survive; no new connection fails (default hashing)', async () => {
    const r = await killDirector(topo.directors[2] as EcmpDirector, 'hash');
    expect(r.after.failed).toBe(0);
    expect(r.afterDr.failed).toBe(0);
    expect(r.drTally.viaSurvivorsSurvived).toBe(r.drTally.viaSurvivors);
  });

  it('the same kill with a resilient next-hop group on the router', async () => {
    const r = await killDirector(topo.directors[2] as EcmpDirector, 'resilient');
    expect(r.after.failed).toBe(0);
    expect(r.afterDr.failed).toBe(0);
    expect(r.drTally.viaSurvivorsSurvived).toBe(r.drTally.viaSurvivors);
    expect(r.fnatTally.viaSurvivorsSurvived).toBe(r.fnatTally.viaSurvivors);
  });

  it('quorum loss on one director withdraws its VIP; quorum back announces it again', async () => {
    const d = topo.directors[2] as EcmpDirector;
    const others = topo.directors.filter((x) => x !== d);
    // Only this director loses its real servers: its checks (and its forwarding) hit a blackhole.
    for (const a of RS_ADDRESSES) await lab.execOk(d.ns, 'ip', ['route', 'add', 'blackhole', `${a}/32`]);
    const t0 = monotonicMs();
    await waitForNextHops(lab, topo, 'bird', transits(others), 60_000);
    const withdrawnMs = Math.round(monotonicMs() - t0);
    const down = await announcement(d);
    const during = await requests(lab, topo, FNAT_PORT, 30);
    for (const a of RS_ADDRESSES) await lab.execOk(d.ns, 'ip', ['route', 'del', 'blackhole', `${a}/32`]);
    const t1 = monotonicMs();
    await waitForNextHops(lab, topo, 'bird', transits(topo.directors), 60_000);
    const restoredMs = Math.round(monotonicMs() - t1);
    const up = await announcement(d);
    figures('quorum', { withdrawnMs, restoredMs, down, up, during });
    expect(down?.announced).toBe(false);
    expect(during.failed).toBe(0);
    expect(up?.announced).toBe(true);
  });

  it('ipvsctl withdraw: no new connection reaches the node; DR streams through it complete', async () => {
    const d = topo.directors[1] as EcmpDirector;
    const others = topo.directors.filter((x) => x !== d);
    await lab.execOk(d.ns, 'ipvsadm', ['-Z']);
    const dr = await openStreams(lab, topo, DR_PORT, 12, STREAM_CHUNKS, STREAM_INTERVAL_MS);
    const fnat = await openStreams(lab, topo, FNAT_PORT, 12, STREAM_CHUNKS, STREAM_INTERVAL_MS);
    await ipvsctl(d, ['withdraw', VIP]);
    await waitForNextHops(lab, topo, 'bird', transits(others), 30_000);
    const status = await announcement(d);
    const conns = async () =>
      (await directorConnections(lab, d, `${VIP}:${DR_PORT}`)) +
      (await directorConnections(lab, d, `${VIP}:${FNAT_PORT}`));
    const before = await conns();
    const fresh = [await requests(lab, topo, FNAT_PORT, 30), await requests(lab, topo, DR_PORT, 30)];
    const reachedWithdrawn = (await conns()) - before;
    const drTally = tallyStreams(dr, await dr.done(), d.name);
    const fnatTally = tallyStreams(fnat, await fnat.done(), d.name);
    figures('withdraw', { status, reachedWithdrawn, fresh, dr: drTally, fnat: fnatTally });
    expect(status?.announced).toBe(false);
    expect(reachedWithdrawn).toBe(0);
    for (const f of fresh) expect(f.failed).toBe(0);
    expect(drTally.viaDeadSurvived).toBe(drTally.viaDead);
    expect(drTally.viaSurvivorsSurvived).toBe(drTally.viaSurvivors);
    await ipvsctl(d, ['announce', VIP]);
    await waitForNextHops(lab, topo, 'bird', transits(topo.directors), 30_000);
  });

  it('SIGTERM withdraws the VIP first, keeps serving for withdraw_delay, then stops', async () => {
    const d = topo.directors[0] as EcmpDirector;
    const others = topo.directors.filter((x) => x !== d);
    const proc = daemons.get(d.name) as SpawnedProcess;
    const t0 = monotonicMs();
    proc.child.kill('SIGTERM');
    await waitForNextHops(lab, topo, 'bird', transits(others), 30_000);
    const withdrawnMs = Math.round(monotonicMs() - t0);
    const runningAtWithdrawal = proc.exitStatus() === null;
    const tableAtWithdrawal = await lab.execOk(d.ns, 'ipvsadm', ['-Ln']);
    await proc.exited;
    const exitedMs = Math.round(monotonicMs() - t0);
    figures('sigterm', { withdrawnMs, exitedMs, withdrawDelayS: WITHDRAW_DELAY_S });
    expect(runningAtWithdrawal).toBe(true);
    expect(tableAtWithdrawal).toContain(`${VIP}:${DR_PORT}`);
    expect(exitedMs - withdrawnMs).toBeGreaterThan(WITHDRAW_DELAY_S * 1000 - 1000);
    await startDirector(d);
    await waitForNextHops(lab, topo, 'bird', transits(topo.directors), 60_000);
  });

  it("FRR in place of BIRD: a multipath route from each director's table, withdrawn with a director", async () => {
    await routing.stop();
    await waitFor('the BIRD route to go', async () => (await routerNextHops(lab, topo, 'bird')).length === 0);
    // FRR's zebra imports ipvsd's table as it is: ipvsd holds the VIP as a local route, not as
    // an address (FRR 8.4 would prefer the connected route of an address and announce nothing).
    routing = await startRouting(lab, topo, 'frr', { bfd: false });
    await waitForNextHops(lab, topo, 'frr', transits(topo.directors), 120_000);
    const viaFrr = await routerNextHops(lab, topo, 'frr');
    const served = await requests(lab, topo, DR_PORT, 30);
    const dead = topo.directors[0] as EcmpDirector;
    const t0 = monotonicMs();
    await linksDown(lab, dead);
    await waitForNextHops(lab, topo, 'frr', transits(topo.directors.slice(1)), 30_000);
    const withdrawnMs = Math.round(monotonicMs() - t0);
    figures('frr', { withdrawnMs, viaFrr, served });
    expect(viaFrr).toEqual(transits(topo.directors).sort());
    expect(served.failed).toBe(0);
    await linksUp(lab, dead);
    await waitForNextHops(lab, topo, 'frr', transits(topo.directors), 60_000);
  });
});
