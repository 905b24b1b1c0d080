/**
 * Announced VIPs with the whole daemon on the VM's real kernel IPVS (issue 15): one director
 * namespace and one real server. The oracles are the kernel's: `ip route show table 200` (the
 * route BIRD or FRR would export; test/netns/announce-routes.test.ts shows a real BIRD and its BGP
 * peer following it), `ip route show table local` (the VIP held local by a route of ipvsd's protocol,
 * never an address on lo) and `ipvsadm`. Covered: the VIP is announced once the table is
 * reconciled with quorum; a stopped real server (quorum lost) withdraws it and its return brings it
 * back; `ipvsctl withdraw` survives a daemon restart until `ipvsctl announce`; SIGTERM withdraws
 * before the services go (`on_stop: remove`) and waits `withdraw_delay` in between. Timings are
 * printed, not asserted, apart from the order.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsLab, type SpawnedProcess } from '../support/netns.js';
import { IPVSCTL, IPVSD } from '../support/paths.js';
import { waitFor } from '../support/wait.js';
import { type ServerHost, startServer, waitForLog } from './nat-topology.js';

const lab = createNetnsLab();
const DIR = `/tmp/ipvsd-vm-announce-${process.pid}`;
const CONFIG = join(DIR, 'ipvsd.yaml');
const SOCKET = join(DIR, 'run', 'control.sock');
const STATE_DIR = join(DIR, 'state');
const VIP = '203.0.113.100';
const RS = '198.51.100.11';

const CONFIG_TEXT = `director:
  control_socket: ${SOCKET}
  metrics: { listen: "127.0.0.1:9469" }
  ipvs: { resync_interval: 2s, on_stop: remove }
  announce: { withdraw_delay: 3s }
virtual_servers:
  - address: ${VIP}
    port: 80
    scheduler: rr
    announce: true
    check: { type: tcp, interval: 1s, timeout: 2s, retry: 1 }
    real_servers:
      - { address: ${RS}, port: 8080 }
`;

interface Announcement {
  address: string;
  announced: boolean;
  reason: string;
}

let director: string;
let rs: ServerHost;
let server: SpawnedProcess | null = null;
let ipvsd: SpawnedProcess;
const figures: string[] = [];

async function startIpvsd(): Promise<SpawnedProcess> {
  const proc = lab.spawn(director, process.execPath, [IPVSD, '--config', CONFIG, '--state-dir', STATE_DIR]);
  await waitForLog(proc, (e) => e.msg === 'ipvsd started', { timeoutMs: 180_000, what: '"ipvsd started"' });
  return proc;
}

const routes = async (): Promise<string[]> =>
  (await lab.ipJson<{ dst: string; protocol?: string }[]>(director, ['route', 'show', 'table', '200']))
    .filter((r) => r.protocol === '240')
    .map((r) => r.dst);

/** ipvsd's local routes (protocol 240) in the table local; and whether lo holds the VIP as an address. */
const locals = async (): Promise<string[]> =>
  (
    await lab.ipJson<{ dst: string; protocol?: string; type?: string }[]>(director, [
      '-4',
      'route',
      'show',
      'table',
      'local',
    ])
  )
    .filter((r) => r.protocol === '240' && r.type === 'local')
    .map((r) => r.dst);
const onLo = async () => (await lab.ipAddresses(director, 'lo')).some((a) => a.local === VIP);

async function announcements(): Promise<Announcement[]> {
  const r = await lab.exec(director, process.execPath, [IPVSCTL, '--socket', SOCKET, 'status', '--json'], {
    timeoutMs: 300_000,
  });
  if (r.code !== 0) throw new Error(`ipvsctl status exited ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { announcements: Announcement[] }).announcements;
}

async function ipvsctl(args: readonly string[]) {
  return lab.exec(director, process.execPath, [IPVSCTL, '--socket', SOCKET, ...args], { timeoutMs: 300_000 });
}

const waitRoute = (present: boolean, what: string) =>
  waitFor(what, async () => (await routes()).includes(VIP) === present, {
    timeoutMs: 120_000,
    intervalMs: 200,
  });

describe('announced VIP, daemon end to end', () => {
  beforeAll(async () => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(join(DIR, 'run'), { recursive: true });
    writeFileSync(CONFIG, CONFIG_TEXT);
    director = await lab.namespace('director');
    const rsNs = await lab.namespace('rs1');
    await lab.veth(
      { ns: rsNs, ifname: 'eth0', cidr: `${RS}/24` },
      { ns: director, ifname: 'eth1', cidr: '198.51.100.1/24' },
    );
    await lab.addRoute(rsNs, 'default', { via: '198.51.100.1' });
    await lab.addRoute(director, 'default', { via: '198.51.100.254' });
    rs = { name: 'rs1', ns: rsNs, address: RS };
    server = await startServer(lab, rs, 'http', 8080);
    ipvsd = await startIpvsd();
  });

  afterAll(async () => {
    for (const f of figures) console.log(`[announce] ${f}`);
    await lab.cleanup();
    rmSync(DIR, { recursive: true, force: true });
  });

  it('announces the VIP once the table is reconciled with quorum, and holds it local (a route, not on lo)', async () => {
    await waitRoute(true, 'the VIP route in table 200');
    expect(await locals()).toEqual([VIP]);
    expect(await onLo()).toBe(false);
    expect(await announcements()).toEqual([
      expect.objectContaining({ address: VIP, announced: true, reason: 'announced' }),
    ]);
    const listed = await lab.execOk(director, 'ipvsadm', ['-Ln', '-t', `${VIP}:80`]);
    expect(listed).toContain(`${RS}:8080`);
  });

  it('withdraws on quorum loss (real server stopped) and announces again when it is back', async () => {
    await server?.kill('SIGKILL');
    server = null;
    const t0 = Date.now();
    await waitRoute(false, 'the route to go with quorum');
    figures.push(`quorum loss → route withdrawn: ${Date.now() - t0} ms (check interval 1s, retry 1)`);
    const [a] = await announcements();
    expect(a).toMatchObject({ announced: false, reason: `quorum lost: tcp/${VIP}:80 has 0 of 1` });
    // The VIP stays local: connections in flight keep their way in.
    expect(await locals()).toEqual([VIP]);
    server = await startServer(lab, rs, 'http', 8080);
    await waitRoute(true, 'the route back with quorum');
  });

  it('repairs a route and a local route removed by hand at the next resync', async () => {
    await lab.execOk(director, 'ip', ['route', 'del', `${VIP}/32`, 'table', '200']);
    await lab.execOk(director, 'ip', ['route', 'del', 'local', `${VIP}/32`, 'dev', 'lo', 'table', 'local']);
    expect(await locals()).toEqual([]);
    await waitRoute(true, 'the route repaired');
    await waitFor('the local route repaired', async () => (await locals()).includes(VIP), {
      timeoutMs: 120_000,
      intervalMs: 200,
    });
  });

  it('ipvsctl withdraw survives a restart until ipvsctl announce', async () => {
    const w = await ipvsctl(['withdraw', VIP]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain(`withdrew ${VIP}`);
    await waitRoute(false, 'the route to go on withdraw');
    const unknown = await ipvsctl(['withdraw', '192.0.2.77']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no virtual server with announce: true on 192.0.2.77');

    ipvsd.child.kill('SIGTERM');
    await ipvsd.exited;
    ipvsd = await startIpvsd();
    // Give the restarted daemon time to reconcile and check: the route must still stay away.
    await waitFor(
      'a reconciled status',
      async () => (await announcements())[0]?.reason === 'withdrawn by operator',
      {
        timeoutMs: 120_000,
      },
    );
    expect(await routes()).toEqual([]);

    const a = await ipvsctl(['announce', VIP]);
    expect(a.code, a.stderr).toBe(0);
    await waitRoute(true, 'the route back on announce');
  });

  it('SIGTERM withdraws first, waits withdraw_delay, then removes the services', async () => {
    let routeGoneAt: number | null = null;
    let serviceGoneAt: number | null = null;
    const started = Date.now();
    ipvsd.child.kill('SIGTERM');
    while (serviceGoneAt === null && Date.now() - started < 120_000) {
      const now = Date.now();
      if (routeGoneAt === null && !(await routes()).includes(VIP)) routeGoneAt = now;
      const svc = await lab.exec(director, 'ipvsadm', ['-Ln', '-t', `${VIP}:80`]);
      if (svc.code !== 0) {
        serviceGoneAt = now;
        // A route still there with the services gone would be the defect this guards against.
        if (routeGoneAt === null && !(await routes()).includes(VIP)) routeGoneAt = Date.now();
      }
    }
    await ipvsd.exited;
    expect(routeGoneAt, 'the route went').not.toBeNull();
    expect(serviceGoneAt, 'the service went').not.toBeNull();
    expect(routeGoneAt as number).toBeLessThan(serviceGoneAt as number);
    figures.push(
      `SIGTERM: route gone after ${(routeGoneAt as number) - started} ms, service after ${(serviceGoneAt as number) - started} ms (withdraw_delay 3s)`,
    );
    const withdrawnLog = ipvsd.stdout().includes('"msg":"vip withdrawn"');
    expect(withdrawnLog).toBe(true);
    // on_stop: remove takes the VIP's local route too.
    expect(await locals()).toEqual([]);
  });
});
