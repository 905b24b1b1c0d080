/**
 * Announced VIPs as kernel state (src/sys/announce-routes.ts, src/sys/rtnetlink.ts host routes)
 * against the real kernel and real BIRD: our compiled writer runs inside a "director" namespace
 * through the node agent; `ip -j route` there is the oracle for the table, and a second namespace
 * runs BIRD as a router with a BGP session to the director's BIRD, which imports ipvsd's table with
 * a stock `protocol kernel { kernel table 200; learn; }`, then FRR (zebra `ip import-table 200`,
 * bgpd `redistribute table 200`) in its place. The router's kernel table is the oracle for what BGP
 * carried. The VIP is made local as ipvsd does it (a `local` route in the table local, no address),
 * and a listener in the director answers a connect to it. No IPVS is needed: this is the
 * announcement half alone.
 */
import { execFileSync } from 'node:child_process';
import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostRoute } from '../../src/sys/rtnetlink.js';
import { createNetnsLab, type NetnsLab, type NodeAgent } from '../support/netns.js';
import { waitFor } from '../support/wait.js';

const TABLE = 200;
const PROTO = 240;
const SETTINGS = { table: TABLE, protocol: PROTO, interface: 'lo' };
const VIP1 = '203.0.113.100';
const VIP2 = '203.0.113.101';
const VIP6 = '2001:db8::100';

interface IpRoute {
  dst: string;
  dev?: string;
  protocol?: string;
  gateway?: string;
  type?: string;
}

describe('announced VIPs as routes in a table of our own', () => {
  let lab: NetnsLab;
  let director: string;
  let router: string;
  let agent: NodeAgent;
  let dir: string;

  const table = async (ns: string, family: 4 | 6 = 4): Promise<IpRoute[]> =>
    lab.ipJson<IpRoute[]>(ns, [`-${family}`, 'route', 'show', 'table', String(TABLE)]);
  const ours = async (): Promise<string[]> =>
    (await table(director)).filter((r) => r.protocol === String(PROTO)).map((r) => r.dst);

  beforeAll(async () => {
    lab = createNetnsLab();
    director = await lab.namespace('dir');
    router = await lab.namespace('rtr');
    await lab.veth({ ns: director, ifname: 'eth0' }, { ns: router, ifname: 'eth0' });
    await lab.addAddress(director, 'eth0', '192.0.2.1/24');
    await lab.addAddress(router, 'eth0', '192.0.2.2/24');
    agent = await lab.nodeAgent(director, 'test/netns/drivers/announce-routes.mjs');
    dir = await lab.tempDir('ipvsd-announce-');
  });

  afterAll(async () => {
    await lab?.cleanup();
  });

  it('adds a host route with our protocol out of lo, lists it, and removes only ours', async () => {
    await agent.call('addHostRoute', { address: VIP1, table: TABLE, protocol: PROTO }, 'lo');
    await agent.call('addHostRoute', { address: VIP6, table: TABLE, protocol: PROTO }, 'lo');
    expect(await table(director)).toEqual([
      expect.objectContaining({ dst: VIP1, dev: 'lo', protocol: String(PROTO), scope: 'link' }),
    ]);
    expect(await table(director, 6)).toEqual([
      expect.objectContaining({ dst: VIP6, dev: 'lo', protocol: String(PROTO) }),
    ]);
    const listed = await agent.call<HostRoute[]>('listHostRoutes', TABLE);
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: VIP1, table: TABLE, protocol: PROTO, type: 1, family: 'inet' }),
        expect.objectContaining({ address: VIP6, table: TABLE, protocol: PROTO, family: 'inet6' }),
      ]),
    );
    // The kernel matches the protocol on delete: a request with another one leaves ours alone.
    await expect(agent.call('removeHostRoute', { address: VIP1, table: TABLE, protocol: 4 })).rejects.toThrow(
      /ESRCH|no such route/,
    );
    await agent.call('removeHostRoute', { address: VIP1, table: TABLE, protocol: PROTO });
    await agent.call('removeHostRoute', { address: VIP6, table: TABLE, protocol: PROTO });
    expect(await table(director)).toEqual([]);
    expect(await table(director, 6)).toEqual([]);
  });

  it('syncs to the wanted set, repairs a route removed by hand, leaves routes it did not make', async () => {
    await lab.execOk(director, 'ip', [
      'route',
      'add',
      '198.51.100.0/24',
      'dev',
      'lo',
      'table',
      String(TABLE),
      'proto',
      'static',
    ]);
    await lab.execOk(director, 'ip', [
      'route',
      'add',
      `${VIP2}/32`,
      'dev',
      'lo',
      'table',
      String(TABLE),
      'proto',
      'static',
    ]);

    const first = await agent.call<{ added: string[]; errors: Record<string, string> }>(
      'syncRoutes',
      SETTINGS,
      [VIP1, VIP2],
    );
    expect(first).toMatchObject({ added: [VIP1], removed: [] });
    expect(first.errors[VIP2]).toMatch(/already has a route to 203\.0\.113\.101 with protocol 4/);
    expect(await ours()).toEqual([VIP1]);

    await lab.execOk(director, 'ip', ['route', 'del', `${VIP1}/32`, 'table', String(TABLE)]);
    expect(await ours()).toEqual([]);
    const repaired = await agent.call<{ added: string[] }>('syncRoutes', SETTINGS, [VIP1]);
    expect(repaired.added).toEqual([VIP1]);
    expect(await ours()).toEqual([VIP1]);

    const withdrawn = await agent.call<{ removed: string[] }>('syncRoutes', SETTINGS, []);
    expect(withdrawn.removed).toEqual([VIP1]);
    expect(await ours()).toEqual([]);
    // Foreign routes stay.
    expect((await table(director)).map((r) => r.dst).sort()).toEqual(['198.51.100.0/24', VIP2]);
    await lab.execOk(director, 'ip', ['route', 'flush', 'table', String(TABLE)]);
  });

  it('moves its routes when the table changes on a reload', async () => {
    await agent.call('syncRoutes', SETTINGS, [VIP1]);
    const moved = await agent.call<{ added: string[]; removed: string[] }>(
      'syncRoutes',
      { ...SETTINGS, table: 4000 },
      [VIP1],
    );
    expect(moved).toMatchObject({ added: [VIP1], removed: [VIP1] });
    expect(await table(director)).toEqual([]);
    expect(await lab.ipJson<IpRoute[]>(director, ['route', 'show', 'table', '4000'])).toEqual([
      expect.objectContaining({ dst: VIP1, protocol: String(PROTO) }),
    ]);
    await agent.call('syncRoutes', SETTINGS, []);
    expect(await lab.ipJson<IpRoute[]>(director, ['route', 'show', 'table', '4000'])).toEqual([]);
  });

  it('makes the VIP local with a local route of its protocol, not an address; packets to it are delivered', async () => {
    const localTable = async (family: 4 | 6 = 4): Promise<IpRoute[]> =>
      lab.ipJson<IpRoute[]>(director, [`-${family}`, 'route', 'show', 'table', 'local']);
    const oursLocal = async (family: 4 | 6 = 4) =>
      (await localTable(family)).filter((r) => r.protocol === String(PROTO)).map((r) => r.dst);
    const lo = async () => (await lab.ipAddresses(director, 'lo')).map((a) => a.local);

    expect(await agent.call('syncLocalRoutes', SETTINGS, [VIP1, VIP6], false)).toEqual({
      added: [VIP1, VIP6],
      removed: [],
      alreadyLocal: [],
      errors: {},
    });
    expect((await localTable()).filter((r) => r.dst === VIP1)).toEqual([
      expect.objectContaining({ type: 'local', dev: 'lo', protocol: String(PROTO), scope: 'host' }),
    ]);
    expect(await oursLocal(6)).toEqual([VIP6]);
    expect(await lo()).not.toContain(VIP1);
    expect(await lo()).not.toContain(VIP6);

    // Delivered locally: a listener on 0.0.0.0 in the director answers a connect to the VIP from
    // the router's namespace (which routes the VIP to the director).
    await lab.addRoute(router, `${VIP1}/32`, { via: '192.0.2.1' });
    const listener = lab.spawn(director, process.execPath, [
      '-e',
      `require('node:net').createServer((s) => s.end('vip-local\\n')).listen(8099, '0.0.0.0', () => console.log('listening'))`,
    ]);
    await listener.waitForOutput('listening', 20_000);
    const answer = await lab.execOk(router, process.execPath, [
      '-e',
      `const s = require('node:net').connect(8099, '${VIP1}'); s.on('data', (d) => process.stdout.write(d)); s.on('error', (e) => { console.error(e.message); process.exit(1); });`,
    ]);
    expect(answer.trim()).toBe('vip-local');
    await listener.kill();

    // Drift: a local route removed by hand comes back; an unchanged one is left as it is.
    await lab.execOk(director, 'ip', ['route', 'del', 'local', `${VIP1}/32`, 'dev', 'lo', 'table', 'local']);
    expect(await oursLocal()).toEqual([]);
    expect(await agent.call('syncLocalRoutes', SETTINGS, [VIP1, VIP6], true)).toMatchObject({
      added: [VIP1],
      removed: [],
    });
    expect(await oursLocal()).toEqual([VIP1]);

    // A VIP that is also a real address of the host: the kernel's local route serves it, left alone.
    await lab.addAddress(director, 'lo', `${VIP2}/32`);
    const kernelRoute = (await localTable()).find((r) => r.dst === VIP2);
    expect(kernelRoute).toMatchObject({ type: 'local', protocol: 'kernel' });
    expect(await agent.call('syncLocalRoutes', SETTINGS, [VIP1, VIP2], true)).toEqual({
      added: [],
      removed: [VIP6],
      alreadyLocal: [VIP2],
      errors: {},
    });
    expect((await localTable()).filter((r) => r.dst === VIP2)).toEqual([kernelRoute]);

    // Dropped from the config (or a stop with on_stop: remove): ours go, the kernel's stays.
    expect(await agent.call('syncLocalRoutes', SETTINGS, [], true)).toMatchObject({ removed: [VIP1] });
    expect(await oursLocal()).toEqual([]);
    expect(await oursLocal(6)).toEqual([]);
    expect((await localTable()).filter((r) => r.dst === VIP2)).toEqual([kernelRoute]);
    await lab.execOk(director, 'ip', ['address', 'del', `${VIP2}/32`, 'dev', 'lo']);
    await lab.execOk(router, 'ip', ['route', 'del', `${VIP1}/32`]);
  });

  it('BIRD on the director imports the route with a stock kernel protocol; its BGP peer holds it until withdrawn', async () => {
    const directorConf = join(dir, 'director.conf');
    const routerConf = join(dir, 'router.conf');
    await writeFile(
      directorConf,
      `router id 192.0.2.1;
protocol device {}
# ipvsd's table, learned as it is: only ipvsd's protocol (krt_source) goes on to BGP.
protocol kernel ipvsd { kernel table ${TABLE}; learn; scan time 1; ipv4 { import where krt_source = ${PROTO}; export none; }; }
protocol bgp to_router { local 192.0.2.1 as 65001; neighbor 192.0.2.2 as 65000; hold time 3; ipv4 { import none; export all; }; }
`,
    );
    await writeFile(
      routerConf,
      `router id 192.0.2.2;
protocol device {}
protocol kernel { ipv4 { import none; export all; }; }
protocol bgp to_director { local 192.0.2.2 as 65000; neighbor 192.0.2.1 as 65001; hold time 3; ipv4 { import all; export none; }; }
`,
    );
    lab.spawn(director, 'bird', [
      '-f',
      '-c',
      directorConf,
      '-s',
      join(dir, 'director.sock'),
      '-P',
      join(dir, 'director.pid'),
    ]);
    lab.spawn(router, 'bird', [
      '-f',
      '-c',
      routerConf,
      '-s',
      join(dir, 'router.sock'),
      '-P',
      join(dir, 'router.pid'),
    ]);
    const routerHas = async (vip: string): Promise<IpRoute | undefined> =>
      (await lab.ipJson<IpRoute[]>(router, ['-4', 'route', 'show'])).find((r) => r.dst === vip);

    // A route of another protocol in the same table is not exported (the filter above).
    await lab.execOk(director, 'ip', [
      'route',
      'add',
      `${VIP2}/32`,
      'dev',
      'lo',
      'table',
      String(TABLE),
      'proto',
      'static',
    ]);
    await agent.call('syncRoutes', SETTINGS, [VIP1]);
    const learned = await waitFor(`the router to learn ${VIP1}`, () => routerHas(VIP1), {
      timeoutMs: 30_000,
    });
    expect(learned).toMatchObject({ gateway: '192.0.2.1', dev: 'eth0' });
    expect(await routerHas(VIP2)).toBeUndefined();

    await agent.call('syncRoutes', SETTINGS, []);
    await waitFor(`the router to drop ${VIP1}`, async () => (await routerHas(VIP1)) === undefined, {
      timeoutMs: 15_000,
    });
    // And back: a repair reaches the router too.
    await agent.call('syncRoutes', SETTINGS, [VIP1]);
    await waitFor(`the router to learn ${VIP1} again`, () => routerHas(VIP1), { timeoutMs: 15_000 });
  });

  it('FRR on the director imports the table (ip import-table) and its BGP peer follows', async () => {
    // The BIRD of the case above stops: FRR takes the director's side of the same session.
    await lab.execOk(director, 'pkill', ['-F', join(dir, 'director.pid')]);
    await lab.execOk(director, 'ip', ['route', 'flush', 'table', String(TABLE)]);
    const routerHasAny = async () =>
      (await lab.ipJson<IpRoute[]>(router, ['-4', 'route', 'show'])).some((r) => r.dst === VIP1);
    await waitFor('the router to forget the stopped BIRD', async () => !(await routerHasAny()), {
      timeoutMs: 15_000,
    });
    const frr = await lab.tempDir('ipvsd-frr-');
    await writeFile(join(frr, 'zebra.conf'), `ip import-table ${TABLE}\n`);
    await writeFile(
      join(frr, 'bgpd.conf'),
      `router bgp 65001
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 neighbor 192.0.2.2 remote-as 65000
 neighbor 192.0.2.2 timers 1 3
 address-family ipv4 unicast
  redistribute table ${TABLE}
 exit-address-family
`,
    );
    // FRR's daemons drop to the frr user (root is not in its vty group): it must own the directory.
    const { uid, gid } = await frrIds();
    for (const f of ['', 'zebra.conf', 'bgpd.conf']) await chown(join(frr, f), uid, gid);
    const common = (d: string) => [
      '-f',
      join(frr, `${d}.conf`),
      '-i',
      join(frr, `${d}.pid`),
      '-z',
      join(frr, 'zserv.api'),
      '--vty_socket',
      frr,
      '-u',
      'frr',
      '-g',
      'frr',
    ];
    const zebra = lab.spawn(director, '/usr/lib/frr/zebra', common('zebra'));
    await waitFor(
      'zebra to listen',
      async () => (await lab.exec(director, 'test', ['-S', join(frr, 'zserv.api')])).code === 0,
      { timeoutMs: 20_000 },
    );
    lab.spawn(director, '/usr/lib/frr/bgpd', common('bgpd'));
    const routerHas = async (vip: string): Promise<IpRoute | undefined> =>
      (await lab.ipJson<IpRoute[]>(router, ['-4', 'route', 'show'])).find((r) => r.dst === vip);

    // As ipvsd holds an announced VIP: local (a local route, no address) and a route in its table.
    // FRR 8.4's zebra would prefer a connected route made of an address on lo over the imported
    // one and announce nothing (FRRouting/frr#14952); a local route is no connected route.
    await agent.call('syncLocalRoutes', SETTINGS, [VIP1], true);
    await agent.call('syncRoutes', SETTINGS, [VIP1]);
    const learned = await waitFor(`the router to learn ${VIP1} from FRR`, () => routerHas(VIP1), {
      timeoutMs: 30_000,
    });
    expect(learned).toMatchObject({ gateway: '192.0.2.1' });
    expect(
      (await lab.ipJson<IpRoute[]>(director, ['-4', 'route', 'show', 'table', 'local'])).filter(
        (r) => r.dst === VIP1,
      ),
    ).toEqual([expect.objectContaining({ type: 'local', protocol: String(PROTO) })]);
    await agent.call('syncRoutes', SETTINGS, []);
    await waitFor(`the router to drop ${VIP1}`, async () => (await routerHas(VIP1)) === undefined, {
      timeoutMs: 15_000,
    });
    expect(zebra.exitStatus()).toBeNull();
    await agent.call('syncLocalRoutes', SETTINGS, [], true);
  });
});

async function frrIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}
