/**
 * N active directors behind a router that spreads flows with ECMP, each director announcing the VIP
 * over BGP with a real routing daemon (BIRD or FRR), for the VM tests and the ECMP benchmark:
 *
 *   client 192.0.2.2/25 ── router: c0 192.0.2.1/25, t0 192.0.2.129/25, s0 198.51.100.254/24
 *                                  │ (BGP, BFD; multipath route to the VIP)
 *                     transit bridge 192.0.2.128/25 (in the "sw" namespace)
 *                ┌─────────────────┼─────────────────┐
 *   d1 t0 .131, s0 198.51.100.1  d2 .132, .2      d3 .133, .3     (ipvsd + routing daemon each;
 *                └─────────────────┼─────────────────┘             VIP 203.0.113.100 local on each)
 *                     server bridge 198.51.100.0/24 (in "sw")
 *               rs1 198.51.100.11, rs2 .12, rs3 .13 (default via the router, VIP on lo for DR)
 *
 * Each director's routing daemon imports the host routes of ipvsd's own kernel table
 * (ANNOUNCE_TABLE) and announces them to the router; the router's daemon installs one route to the
 * VIP with a next hop per announcing director. ipvsd holds the VIP local (a `local` route on lo).
 *
 * The real servers follow the DR recipe (VIP on lo, arp_ignore=1, arp_announce=2); in full NAT
 * mode they answer the directors' server-side addresses on the same LAN, in DR mode they answer the
 * client directly through the router. Only RFC 5737 addresses; the lab's cleanup removes it all.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { NetnsLab, SpawnedProcess } from '../support/netns.js';
import { PROJECT_ROOT } from '../support/paths.js';
import { startBird, startFrr } from '../support/routing-daemon.js';
import { waitFor } from '../support/wait.js';

export const VIP = '203.0.113.100';
export const CLIENT_ADDRESS = '192.0.2.2';
export const ROUTER_TRANSIT = '192.0.2.129';
export const ROUTER_SERVER_SIDE = '198.51.100.254';
/** ipvsd's announcement table in these tests (the routing daemons import it). */
export const ANNOUNCE_TABLE = 200;
export const ROUTER_AS = 65000;
export const DIRECTOR_AS = 65001;
/**
 * BGP timers: keepalive 1 s, hold 3 s; BFD 300 ms × 3 when enabled. BIRD also gets `error wait
 * time 1, 5`: after a session error it otherwise waits 60 s, then 120 s…, before the next try, so
 * a director killed twice in one file would come back minutes late.
 */
export const HOLD_TIME_S = 3;
export const ECMP_SERVER = resolve(PROJECT_ROOT, 'test/vm/guest/ecmp-server.mjs');
export const ECMP_CLIENT = resolve(PROJECT_ROOT, 'test/vm/guest/ecmp-client.mjs');

export type RoutingDaemon = 'bird' | 'frr';

export interface EcmpDirector {
  readonly name: string;
  readonly ns: string;
  /** its address towards the router (its BGP address and the router's next hop) */
  readonly transit: string;
  /** its address on the real servers' LAN (the full-NAT source) */
  readonly serverSide: string;
}

export interface EcmpServer {
  readonly name: string;
  readonly ns: string;
  readonly address: string;
}

export interface EcmpTopology {
  readonly client: string;
  readonly router: string;
  readonly switchNs: string;
  readonly directors: readonly EcmpDirector[];
  readonly realServers: readonly EcmpServer[];
}

const sysctl = (lab: NetnsLab, ns: string, settings: readonly string[]) =>
  lab.execOk(ns, 'sysctl', ['-qw', ...settings]);

export async function createEcmpTopology(lab: NetnsLab, directorCount = 3): Promise<EcmpTopology> {
  const switchNs = await lab.namespace('sw');
  await lab.bridge(switchNs, 'brt');
  await lab.bridge(switchNs, 'brs');
  const router = await lab.namespace('router');
  const client = await lab.namespace('client');
  // L4 hashing: flows from one client spread by port, as they would from many clients.
  await sysctl(lab, router, ['net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1']);
  await lab.veth(
    { ns: client, ifname: 'c0', cidr: `${CLIENT_ADDRESS}/25` },
    { ns: router, ifname: 'c0', cidr: '192.0.2.1/25' },
  );
  await lab.addRoute(client, 'default', { via: '192.0.2.1' });
  await attach(lab, switchNs, 'brt', router, 't0', `${ROUTER_TRANSIT}/25`);
  await attach(lab, switchNs, 'brs', router, 's0', `${ROUTER_SERVER_SIDE}/24`);

  const directors: EcmpDirector[] = [];
  for (let i = 1; i <= directorCount; i++) {
    const name = `d${i}`;
    const ns = await lab.namespace(name);
    const transit = `192.0.2.${130 + i}`;
    const serverSide = `198.51.100.${i}`;
    await attach(lab, switchNs, 'brt', ns, 't0', `${transit}/25`);
    await attach(lab, switchNs, 'brs', ns, 's0', `${serverSide}/24`);
    await lab.addRoute(ns, 'default', { via: ROUTER_TRANSIT });
    directors.push({ name, ns, transit, serverSide });
  }

  const realServers: EcmpServer[] = [];
  for (let i = 1; i <= 3; i++) {
    const name = `rs${i}`;
    const ns = await lab.namespace(name);
    const address = `198.51.100.${10 + i}`;
    await attach(lab, switchNs, 'brs', ns, 's0', `${address}/24`);
    await lab.addRoute(ns, 'default', { via: ROUTER_SERVER_SIDE });
    await lab.addAddress(ns, 'lo', `${VIP}/32`);
    await sysctl(lab, ns, [
      'net.ipv4.conf.all.arp_ignore=1',
      'net.ipv4.conf.all.arp_announce=2',
      // DR replies leave with the VIP as source through s0, whose subnet does not hold it.
      'net.ipv4.conf.all.rp_filter=0',
    ]);
    realServers.push({ name, ns, address });
  }
  return { client, router, switchNs, directors, realServers };
}

async function attach(
  lab: NetnsLab,
  switchNs: string,
  bridge: string,
  ns: string,
  ifname: string,
  cidr: string,
): Promise<void> {
  const port = `p${lab.namespaces.indexOf(ns)}-${ifname}`;
  await lab.veth({ ns, ifname, cidr }, { ns: switchNs, ifname: port });
  await lab.execOk(switchNs, 'ip', ['link', 'set', port, 'master', bridge]);
}

/** The two services every director runs: DR with `mh` on DR_PORT, full NAT on FNAT_PORT. */
export const DR_PORT = 80;
export const FNAT_PORT = 8080;

export interface DirectorYamlOptions {
  readonly controlSocket: string;
  readonly withdrawDelayS: number;
  /** `director.ipvs.resync_interval` (ipvsd's default when absent). */
  readonly resyncInterval?: string;
}

/**
 * A director's ipvsd config: both services announced, over every real server in the same order
 * with the same weights (so every director builds the same Maglev table for the DR service), the
 * full-NAT one leaving from the director's server-side address.
 */
export function directorYaml(topo: EcmpTopology, d: EcmpDirector, o: DirectorYamlOptions): string {
  const rs = (port: number) =>
    topo.realServers.map((r) => `      - { address: ${r.address}, port: ${port}, weight: 1 }`).join('\n');
  const resync = o.resyncInterval === undefined ? '' : `  ipvs: { resync_interval: ${o.resyncInterval} }\n`;
  return `director:
  router_id: ${d.name}
  control_socket: ${o.controlSocket}
  metrics: { listen: "127.0.0.1:9469" }
${resync}  announce: { withdraw_delay: ${o.withdrawDelayS}s, table: ${ANNOUNCE_TABLE} }
virtual_servers:
  - name: dr
    address: ${VIP}
    port: ${DR_PORT}
    announce: true
    scheduler: mh
    scheduler_flags: [mh-port]
    forwarding: dr
    check: { type: tcp, interval: 1s, timeout: 1s }
    real_servers:
${rs(DR_PORT)}
  - name: fnat
    address: ${VIP}
    port: ${FNAT_PORT}
    announce: true
    scheduler: rr
    forwarding: nat
    full_nat: ${d.serverSide}
    check: { type: tcp, interval: 1s, timeout: 1s }
    real_servers:
${rs(FNAT_PORT)}
`;
}

/** Starts ecmp-server.mjs on every real server, listening on `ports` of every address. */
export async function startServers(
  lab: NetnsLab,
  topo: EcmpTopology,
  ports: readonly number[],
): Promise<SpawnedProcess[]> {
  const procs = topo.realServers.map((rs) =>
    lab.spawn(rs.ns, process.execPath, [ECMP_SERVER, rs.name, ...ports.map(String)]),
  );
  await Promise.all(procs.map((p, i) => p.waitForOutput(`listening ${topo.realServers[i]?.name}`, 120_000)));
  return procs;
}

// ---- routing daemons --------------------------------------------------------------------------

export interface RoutingOptions {
  /** BFD on every BGP session (300 ms × 3), on top of the 3 s hold time. */
  readonly bfd: boolean;
  /** A directory for BIRD's log files (kept after the run, e.g. the VM share). */
  readonly logDir?: string;
}

export interface Routing {
  readonly daemon: RoutingDaemon;
  /** Ends every routing daemon process of the topology. */
  stop(): Promise<void>;
  /** Ends one director's routing daemon (the router then withdraws it after the hold/BFD time). */
  stopDirector(director: EcmpDirector): Promise<void>;
}

const birdLog = (name: string, o: RoutingOptions) =>
  o.logDir
    ? `log "${join(o.logDir, `bird-${name}.log`)}" { info, remote, warning, error, auth, fatal, bug };`
    : '';

function birdDirectorConfig(d: EcmpDirector, o: RoutingOptions): string {
  return `router id ${d.transit};
${birdLog(d.name, o)}
protocol device {}
${o.bfd ? 'protocol bfd { interface "*" { interval 300 ms; multiplier 3; }; }' : ''}
# ipvsd's table: a host route per VIP this director can serve
protocol kernel ipvsd { kernel table ${ANNOUNCE_TABLE}; learn; scan time 10; ipv4 { import all; export none; }; }
protocol bgp router1 {
  local ${d.transit} as ${DIRECTOR_AS}; neighbor ${ROUTER_TRANSIT} as ${ROUTER_AS};
  hold time ${HOLD_TIME_S}; keepalive time 1; connect retry time 1; error wait time 1, 5; ${o.bfd ? 'bfd on;' : ''}
  ipv4 { import none; export where proto = "ipvsd"; };
}
`;
}

function birdRouterConfig(topo: EcmpTopology, o: RoutingOptions): string {
  const peers = topo.directors
    .map((d) => `protocol bgp ${d.name} from director { neighbor ${d.transit} as ${DIRECTOR_AS}; }`)
    .join('\n');
  return `router id ${ROUTER_TRANSIT};
${birdLog('router', o)}
protocol device {}
${o.bfd ? 'protocol bfd { interface "*" { interval 300 ms; multiplier 3; }; }' : ''}
protocol kernel { merge paths on; ipv4 { import none; export all; }; }
template bgp director {
  local ${ROUTER_TRANSIT} as ${ROUTER_AS}; hold time ${HOLD_TIME_S}; keepalive time 1; connect retry time 1;
  error wait time 1, 5;
  ${o.bfd ? 'bfd on;' : ''} ipv4 { import all; export none; };
}
${peers}
`;
}

function frrDirectorConfig(d: EcmpDirector, o: RoutingOptions): string {
  return `frr defaults datacenter
hostname ${d.name}
ip import-table ${ANNOUNCE_TABLE}
router bgp ${DIRECTOR_AS}
 bgp router-id ${d.transit}
 no bgp ebgp-requires-policy
 neighbor ${ROUTER_TRANSIT} remote-as ${ROUTER_AS}
 neighbor ${ROUTER_TRANSIT} timers 1 ${HOLD_TIME_S}
 neighbor ${ROUTER_TRANSIT} timers connect 1
${o.bfd ? ` neighbor ${ROUTER_TRANSIT} bfd\n` : ''} address-family ipv4 unicast
  redistribute table ${ANNOUNCE_TABLE}
 exit-address-family
${o.bfd ? `bfd\n peer ${ROUTER_TRANSIT}\n  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 3\n exit\nexit\n` : ''}`;
}

function frrRouterConfig(topo: EcmpTopology, o: RoutingOptions): string {
  const peers = topo.directors.map((d) => ` neighbor ${d.transit} peer-group directors\n`).join('');
  const bfdPeers = topo.directors
    .map(
      (d) =>
        ` peer ${d.transit}\n  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 3\n exit\n`,
    )
    .join('');
  return `frr defaults datacenter
hostname router
router bgp ${ROUTER_AS}
 bgp router-id ${ROUTER_TRANSIT}
 no bgp ebgp-requires-policy
 neighbor directors peer-group
 neighbor directors remote-as ${DIRECTOR_AS}
 neighbor directors timers 1 ${HOLD_TIME_S}
 neighbor directors timers connect 1
${o.bfd ? ' neighbor directors bfd\n' : ''}${peers} address-family ipv4 unicast
  maximum-paths 8
 exit-address-family
${o.bfd ? `bfd\n${bfdPeers}exit\n` : ''}`;
}

/** Starts the routing daemons (router + every director) in the foreground under the lab. */
export async function startRouting(
  lab: NetnsLab,
  topo: EcmpTopology,
  daemon: RoutingDaemon,
  options: RoutingOptions,
): Promise<Routing> {
  const dir = await lab.tempDir(`ipvsd-ecmp-${daemon}-`);
  const nodes: { name: string; ns: string; config: string }[] = [
    {
      name: 'router',
      ns: topo.router,
      config: daemon === 'bird' ? birdRouterConfig(topo, options) : frrRouterConfig(topo, options),
    },
    ...topo.directors.map((d) => ({
      name: d.name,
      ns: d.ns,
      config: daemon === 'bird' ? birdDirectorConfig(d, options) : frrDirectorConfig(d, options),
    })),
  ];
  const procs = new Map<string, SpawnedProcess[]>();
  for (const node of nodes) {
    const file = join(dir, `${node.name}.conf`);
    await writeFile(file, node.config);
    if (daemon === 'bird') {
      procs.set(node.name, [startBird(lab, node.ns, dir, node.name, file)]);
    } else {
      procs.set(node.name, await startFrr(lab, node.ns, dir, node.name, file, options.bfd));
    }
  }
  // SIGTERM: BIRD and zebra then take their routes out of the kernel as they stop.
  const stopAll = async (list: SpawnedProcess[]) => {
    for (const p of [...list].reverse()) await p.kill('SIGTERM', 10_000);
  };
  return {
    daemon,
    async stop() {
      for (const list of procs.values()) await stopAll(list);
    },
    async stopDirector(d) {
      await stopAll(procs.get(d.name) ?? []);
    },
  };
}

// ---- oracles on the router --------------------------------------------------------------------

/** The next hops of the router's routing-daemon route to the VIP (sorted), [] when it has none. */
export async function routerNextHops(
  lab: NetnsLab,
  topo: EcmpTopology,
  daemon: RoutingDaemon,
  vip = VIP,
): Promise<string[]> {
  const routes = await lab.ipJson<
    { gateway?: string; protocol?: string; nexthops?: { gateway?: string }[]; nhid?: number }[]
  >(topo.router, ['route', 'show', `${vip}/32`, 'proto', daemon === 'bird' ? 'bird' : 'bgp']);
  const hops: string[] = [];
  for (const r of routes) {
    if (r.gateway) hops.push(r.gateway);
    for (const h of r.nexthops ?? []) if (h.gateway) hops.push(h.gateway);
  }
  return hops.sort();
}

/** Waits until the router's route to the VIP names exactly `transits`. */
export async function waitForNextHops(
  lab: NetnsLab,
  topo: EcmpTopology,
  daemon: RoutingDaemon,
  transits: readonly string[],
  timeoutMs = 60_000,
  vip = VIP,
): Promise<void> {
  const want = [...transits].sort().join(',');
  let last = '';
  await waitFor(
    `the router's next hops to ${vip} to be [${want}]`,
    async () => {
      last = (await routerNextHops(lab, topo, daemon, vip)).join(',');
      return last === want;
    },
    { timeoutMs, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last seen: [${last}])`);
  });
}

/**
 * Resilient next-hop groups by hand, as neither BIRD 2.0 nor FRR 8.4 installs them: one nexthop
 * object per director, a `type resilient` group of those announcing, and a route to the VIP through
 * the group with a better metric than the daemon's own. `sync` makes the group match the
 * daemon's current next hops; a director that left loses only its own buckets.
 */
export async function resilientGroup(lab: NetnsLab, topo: EcmpTopology) {
  // High ids: FRR's zebra numbers its own nexthop objects from the bottom.
  const GROUP = 9100;
  const idOf = (d: EcmpDirector) => 9000 + topo.directors.indexOf(d) + 1;
  for (const d of topo.directors)
    await lab.execOk(topo.router, 'ip', [
      'nexthop',
      'replace',
      'id',
      String(idOf(d)),
      'via',
      d.transit,
      'dev',
      't0',
    ]);
  let installed = false;
  return {
    async sync(transits: readonly string[]): Promise<void> {
      const members = topo.directors.filter((d) => transits.includes(d.transit)).map(idOf);
      if (members.length === 0) throw new Error('resilient group: no next hop');
      await lab.execOk(topo.router, 'ip', [
        'nexthop',
        'replace',
        'id',
        String(GROUP),
        'group',
        members.join('/'),
        'type',
        'resilient',
        'buckets',
        '96',
        'idle_timer',
        '0',
      ]);
      if (!installed) {
        await lab.execOk(topo.router, 'ip', [
          'route',
          'replace',
          `${VIP}/32`,
          'nhid',
          String(GROUP),
          'metric',
          '5',
        ]);
        installed = true;
      }
    },
    async remove(): Promise<void> {
      await lab.exec(topo.router, 'ip', ['route', 'del', `${VIP}/32`, 'metric', '5']);
      await lab.exec(topo.router, 'ip', ['nexthop', 'del', 'id', String(GROUP)]);
      for (const d of topo.directors)
        await lab.exec(topo.router, 'ip', ['nexthop', 'del', 'id', String(idOf(d))]);
      installed = false;
    },
  };
}

/** Takes a director off the network as a crash would look from outside: both links down. */
export async function linksDown(lab: NetnsLab, d: EcmpDirector): Promise<void> {
  await lab.execOk(d.ns, 'ip', ['link', 'set', 't0', 'down']);
  await lab.execOk(d.ns, 'ip', ['link', 'set', 's0', 'down']);
}

export async function linksUp(lab: NetnsLab, d: EcmpDirector): Promise<void> {
  await lab.execOk(d.ns, 'ip', ['link', 'set', 't0', 'up']);
  await lab.execOk(d.ns, 'ip', ['link', 'set', 's0', 'up']);
  // the default route went with the link
  await lab.exec(d.ns, 'ip', ['route', 'replace', 'default', 'via', ROUTER_TRANSIT]);
}

/** Connections each director's IPVS accepted for a service (`ipvsadm -Ln --stats`, Conns column). */
export async function directorConnections(lab: NetnsLab, d: EcmpDirector, service: string): Promise<number> {
  const out = await lab.execOk(d.ns, 'ipvsadm', ['-Ln', '--stats', '-t', service]);
  const m = /^TCP\s+\S+\s+(\d+)/m.exec(out);
  return m ? Number(m[1]) : 0;
}

/**
 * Client ports of the established connections a director's IPVS table holds for VIP:port
 * (`ipvsadm -Lnc`); entries of earlier, closed connections (a client port used again) are left out.
 */
export async function directorClientPorts(
  lab: NetnsLab,
  d: EcmpDirector,
  port: number,
): Promise<Set<number>> {
  const out = await lab.execOk(d.ns, 'ipvsadm', ['-Lnc']);
  const ports = new Set<number>();
  const re = new RegExp(
    `TCP\\s+\\S+\\s+ESTABLISHED\\s+${CLIENT_ADDRESS.replaceAll('.', '\\.')}:(\\d+)\\s+${VIP.replaceAll('.', '\\.')}:${port}\\s`,
    'g',
  );
  for (const m of out.matchAll(re)) ports.add(Number(m[1]));
  return ports;
}

// ---- client load ---------------------------------------------------------------------------

export interface RequestResult {
  ok: number;
  failed: number;
  bodies: Record<string, number>;
  errors: Record<string, number>;
  ms: number;
}

/** COUNT GETs from the client to VIP:port, each on a new connection, CONCURRENCY at a time. */
export async function requests(
  lab: NetnsLab,
  topo: EcmpTopology,
  port: number,
  count: number,
  concurrency = 4,
): Promise<RequestResult> {
  const out = await lab.execOk(
    topo.client,
    process.execPath,
    [ECMP_CLIENT, 'requests', VIP, String(port), String(count), String(concurrency), '3000'],
    { timeoutMs: 600_000 },
  );
  const line = out.split('\n').find((l) => l.startsWith('result '));
  if (!line) throw new Error(`ecmp-client printed no result: ${out}`);
  return JSON.parse(line.slice(7)) as RequestResult;
}

export interface StreamResult {
  port: number;
  ok: boolean;
  server: string | null;
  lines: number;
  error: string | null;
}

export interface OpenStreams {
  /** client port → director name, read from the directors' IPVS connection tables */
  readonly via: Map<number, string>;
  readonly ports: number[];
  done(): Promise<StreamResult[]>;
}

/** COUNT long-lived streams from the client; resolves once all are connected and placed. */
export async function openStreams(
  lab: NetnsLab,
  topo: EcmpTopology,
  port: number,
  count: number,
  chunks: number,
  intervalMs: number,
): Promise<OpenStreams> {
  const proc = lab.spawn(topo.client, process.execPath, [
    ECMP_CLIENT,
    'streams',
    VIP,
    String(port),
    String(count),
    String(chunks),
    String(intervalMs),
  ]);
  await proc.waitForOutput(/connected [\d ]+\n/, 120_000);
  const ports = (/connected ([\d ]+)\n/.exec(proc.stdout())?.[1] ?? '').split(' ').map(Number);
  const via = new Map<number, string>();
  for (const d of topo.directors) for (const p of await directorClientPorts(lab, d, port)) via.set(p, d.name);
  return {
    via,
    ports,
    async done() {
      await proc.waitForOutput(/result \[/, 600_000);
      const line = proc
        .stdout()
        .split('\n')
        .find((l) => l.startsWith('result ')) as string;
      return JSON.parse(line.slice(7)) as StreamResult[];
    },
  };
}

export interface StreamTally {
  total: number;
  viaDead: number;
  viaDeadSurvived: number;
  viaSurvivors: number;
  viaSurvivorsSurvived: number;
  unknown: number;
}

/** Streams by the director they went through (`dead` or the others) and whether each completed. */
export function tallyStreams(open: OpenStreams, results: StreamResult[], dead: string): StreamTally {
  const t: StreamTally = {
    total: results.length,
    viaDead: 0,
    viaDeadSurvived: 0,
    viaSurvivors: 0,
    viaSurvivorsSurvived: 0,
    unknown: 0,
  };
  for (const r of results) {
    const via = open.via.get(r.port);
    if (via === undefined) t.unknown += 1;
    else if (via === dead) {
      t.viaDead += 1;
      if (r.ok) t.viaDeadSurvived += 1;
    } else {
      t.viaSurvivors += 1;
      if (r.ok) t.viaSurvivorsSurvived += 1;
    }
  }
  return t;
}
