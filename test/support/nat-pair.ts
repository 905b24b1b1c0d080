/**
 * Two NAT directors in failover, in network namespaces inside the VM (kernel IPVS): the site the
 * VRRP failover tests, the takeover benchmark and the demo run on.
 *
 *                       ┌── brc (client side, in "sw") ──┐   ┌── brs (server side, in "sw") ──┐
 *   client 203.0.113.2 ─┤                                ├─┬─┤                                ├─ rs1 198.51.100.11
 *                       ├─ lb1 eth0 203.0.113.11   lb1 eth1 198.51.100.2 ─┤                   ├─ rs2 198.51.100.12
 *                       └─ lb2 eth0 203.0.113.12   lb2 eth1 198.51.100.3 ─┘                   └─ rs3 198.51.100.13
 *
 * The client-side VIP 203.0.113.100 (the service) and the server-side VIP 198.51.100.1 (the real
 * servers' default gateway, so replies come back through whichever director is master and get
 * un-NATed there) form one VRRP sync group, VG1: VI_client (VRID 51, eth0) and VI_server (VRID 52,
 * eth1). lb1 has priority 200, lb2 100, both start as backup with preemption, so lb1 is master
 * whenever it runs. The kernel connection-sync daemon runs on eth1 (sync id 51) following VG1.
 * Both directors have a default route (DESIGN §6: without one the sync daemon's multicast sends
 * fail) and every virtual service configured in every state. The bridges live in their own
 * namespace ("sw"), so a director's links going down look like a pulled cable to everyone else;
 * multicast snooping is off on them so sync messages and adverts always reach the peer.
 *
 * The directors run ipvsd or keepalived with equivalent configs (same VRIDs, priorities, advert
 * interval and version, PASS authentication for v2, gratuitous ARP bursts of 5 then 5 more after
 * 2 s, rr over the three real servers with 1 s TCP checks, the same sync daemon), so both can be
 * measured in the same topology. Real servers are test/vm/guest/pair-server.mjs (GET / names the
 * server; /stream is a slow response that stays open across a failover).
 *
 * Life cycle:
 *   const pair = await createNatPair(lab, { vrrpVersion: 2, advertIntervalMs: 1000 });
 *   await pair.startRealServers();
 *   await pair.startDirectors('ipvsd');          // both, then waits until lb1 is master
 *   const down = await pair.crash(pair.lb1);     // links down, then kill -9 (when the links went down)
 *   await pair.waitForMaster(pair.lb2);
 *   await pair.recover(pair.lb1);                // as after a reboot: no VIPs, links up, daemon started
 *   await pair.waitForMaster(pair.lb1);
 *   await pair.cleanup();                        // every process, namespace and file it made
 * Only RFC 5737 addresses; namespaces come from the NetnsLab (unique per process). Used inside the
 * VM only: it needs kernel IPVS.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CommandResult, type NetnsLab, run, type SpawnedProcess } from './netns.js';
import { IPVSCTL, IPVSD, PROJECT_ROOT as ROOT } from './paths.js';
import { monotonicMs, sleep, waitFor } from './wait.js';

export const PAIR_SERVER = resolve(ROOT, 'test/vm/guest/pair-server.mjs');
export const PROBER = resolve(ROOT, 'test/vm/guest/prober.mjs');
/** One line of PROBER's output: a request's start and end (CLOCK_MONOTONIC ms) and its outcome. */
export interface ProbeAttempt {
  readonly s: number;
  readonly e: number;
  readonly ok: boolean;
  /** The real server that answered. */
  readonly rs?: string;
  readonly err?: string;
}
export const STREAM_CLIENT = resolve(ROOT, 'test/vm/guest/stream-client.mjs');

export const CLIENT_VIP = '203.0.113.100';
export const SERVER_VIP = '198.51.100.1';
export const CLIENT_ADDRESS = '203.0.113.2';
export const SERVICE_PORT = 80;
export const REAL_SERVER_PORT = 8080;
export const SYNC_ID = 51;
export const VRID_CLIENT = 51;
export const VRID_SERVER = 52;
const UPSTREAM_ROUTER = '203.0.113.254'; // the directors' default gateway (not present: only routes)

export type DirectorKind = 'ipvsd' | 'keepalived';

export interface NatPairOptions {
  /** VRRP version of both instances. Default 2. */
  readonly vrrpVersion?: 2 | 3;
  /** Advert interval; whole seconds for v2. Default 1000. */
  readonly advertIntervalMs?: number;
  /** Run the kernel connection-sync daemon (following VG1). Default true. */
  readonly syncDaemon?: boolean;
  /** Where configs, sockets and pid files go. Default /tmp/ipvsd-nat-pair-PID-N (the VM's tmpfs). */
  readonly workDir?: string;
  /** Namespace tag prefix (names stay unique per process anyway). Default "np". */
  readonly tag?: string;
}

export interface RealServerHost {
  /** "rs1" … "rs3": also what GET / answers. */
  readonly name: string;
  readonly ns: string;
  readonly address: string;
}

export interface DirectorNode {
  /** "lb1" or "lb2" (VRRP router id, config and log names). */
  readonly name: string;
  readonly ns: string;
  readonly priority: number;
  /** Own addresses on eth0 (client side) and eth1 (server side). */
  readonly clientAddress: string;
  readonly serverAddress: string;
  readonly dir: string;
  /** The ipvsd config and its control socket. */
  readonly ipvsdConfig: string;
  readonly controlSocket: string;
  readonly keepalivedConfig: string;
  /** The daemon this node runs now (null when stopped or killed). */
  readonly daemon: SpawnedProcess | null;
  readonly kind: DirectorKind | null;
}

/** One log line of a director's daemon with the monotonic time (ms) it reached us. */
export interface TimedLine {
  readonly at: number;
  readonly line: string;
}

/** When a node's links went down: between `started` and `done`, in ms of CLOCK_MONOTONIC. */
export interface LinksDownTimes {
  readonly started: number;
  readonly done: number;
}

/** One entry of `ipvsadm -Lnc`. */
export interface ConnectionEntry {
  readonly protocol: string;
  readonly state: string;
  readonly source: string;
  readonly virtual: string;
  readonly destination: string;
}

export interface NatPair {
  readonly lab: NetnsLab;
  readonly options: Required<NatPairOptions>;
  readonly client: string;
  /** The namespace holding both bridges. */
  readonly switchNs: string;
  readonly lb1: DirectorNode;
  readonly lb2: DirectorNode;
  readonly directors: readonly [DirectorNode, DirectorNode];
  readonly realServers: readonly RealServerHost[];
  /** http://203.0.113.100/ */
  readonly url: string;

  /** Starts pair-server.mjs in every real server namespace; resolves once all listen. */
  startRealServers(): Promise<void>;
  /** Starts both directors (lb2 first), then waits until lb1 is master and lb2 backup. */
  startDirectors(kind: DirectorKind): Promise<void>;
  /** Starts one director's daemon; for ipvsd resolves at "ipvsd started". */
  startDirector(node: DirectorNode, kind: DirectorKind): Promise<SpawnedProcess>;
  /**
   * Ends the node's daemon: SIGTERM (a graceful stop: for ipvsd a priority-0 advert, VIPs removed)
   * or SIGKILL of every daemon process in the node (keepalived's children included). Resolves on exit.
   */
  stopDirector(node: DirectorNode, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /**
   * Sets eth0 and eth1 down in one command. The links went down between `started` and `done`
   * (monotonic ms): a request that started after `done` cannot have reached this node.
   */
  linksDown(node: DirectorNode): Promise<LinksDownTimes>;
  linksUp(node: DirectorNode): Promise<void>;
  /**
   * A crash: links down, then SIGKILL of the daemon. Returns when the links went down (between
   * `started` and `done`: under the VM's TCG `ip link set down` takes 0.3–5 s, waiting for RCU
   * grace periods under the global RTNL lock, which also holds up the peer's address changes).
   */
  crash(node: DirectorNode): Promise<LinksDownTimes>;
  /**
   * Brings a crashed or stopped node back as a reboot would: VIPs, IPVS table and kernel sync
   * daemons left behind removed, links up, the daemon it ran last (or `kind`) started again.
   */
  recover(node: DirectorNode, kind?: DirectorKind): Promise<void>;
  /** Whether the node holds the client-side and the server-side VIP (oracle: `ip addr`). */
  vips(node: DirectorNode): Promise<{ client: boolean; server: boolean }>;
  /**
   * Waits until `node` holds both VIPs and, unless `exclusive` is false, the other node (when its
   * links are up) holds none. Default timeout 120 s.
   */
  waitForMaster(node: DirectorNode, options?: { timeoutMs?: number; exclusive?: boolean }): Promise<void>;
  /** `ipvsadm -Lnc` in the node. */
  connections(node: DirectorNode): Promise<ConnectionEntry[]>;
  /** `ipvsadm` with arguments, in the node. */
  ipvsadm(node: DirectorNode, args: readonly string[]): Promise<CommandResult>;
  /** `ipvsctl --socket <node's socket> …` in the node. */
  ipvsctl(node: DirectorNode, args: readonly string[]): Promise<CommandResult>;
  /** Every line the node's daemons printed so far (all runs), with arrival times. */
  logLines(node: DirectorNode): readonly TimedLine[];
  /** Ends every process, deletes the namespaces (through the lab) and the work directory. */
  cleanup(): Promise<void>;
}

let pairCounter = 0;

interface MutableNode {
  name: string;
  ns: string;
  priority: number;
  clientAddress: string;
  serverAddress: string;
  dir: string;
  ipvsdConfig: string;
  controlSocket: string;
  keepalivedConfig: string;
  daemon: SpawnedProcess | null;
  kind: DirectorKind | null;
  lines: TimedLine[];
  linksUp: boolean;
}

export async function createNatPair(lab: NetnsLab, options: NatPairOptions = {}): Promise<NatPair> {
  const opts: Required<NatPairOptions> = {
    vrrpVersion: options.vrrpVersion ?? 2,
    advertIntervalMs: options.advertIntervalMs ?? 1000,
    syncDaemon: options.syncDaemon ?? true,
    workDir: options.workDir ?? `/tmp/ipvsd-nat-pair-${process.pid}-${++pairCounter}`,
    tag: options.tag ?? 'np',
  };
  if (opts.vrrpVersion === 2 && opts.advertIntervalMs % 1000 !== 0)
    throw new Error(`nat-pair: VRRPv2 adverts are whole seconds, got ${opts.advertIntervalMs} ms`);
  mkdirSync(opts.workDir, { recursive: true });

  const ip = (ns: string, args: readonly string[]) => lab.execOk(ns, 'ip', args);

  const sw = await lab.namespace(`${opts.tag}-sw`);
  for (const br of ['brc', 'brs']) {
    await ip(sw, ['link', 'add', 'name', br, 'type', 'bridge', 'mcast_snooping', '0']);
    await lab.linkUp(sw, br);
  }
  const port = async (ns: string, ifname: string, cidr: string | undefined, swPort: string, br: string) => {
    await lab.veth(cidr === undefined ? { ns, ifname } : { ns, ifname, cidr }, { ns: sw, ifname: swPort });
    await ip(sw, ['link', 'set', 'dev', swPort, 'master', br]);
  };

  const client = await lab.namespace(`${opts.tag}-client`);
  await port(client, 'eth0', `${CLIENT_ADDRESS}/24`, 'c-client', 'brc');

  const nodes: MutableNode[] = [];
  for (const [name, priority, host] of [
    ['lb1', 200, 11],
    ['lb2', 100, 12],
  ] as const) {
    const ns = await lab.namespace(`${opts.tag}-${name}`);
    const serverHost = host - 9; // lb1 198.51.100.2, lb2 .3
    await port(ns, 'eth0', `203.0.113.${host}/24`, `c-${name}`, 'brc');
    await port(ns, 'eth1', `198.51.100.${serverHost}/24`, `s-${name}`, 'brs');
    await lab.addRoute(ns, 'default', { via: UPSTREAM_ROUTER });
    const dir = join(opts.workDir, name);
    mkdirSync(dir, { recursive: true });
    nodes.push({
      name,
      ns,
      priority,
      clientAddress: `203.0.113.${host}`,
      serverAddress: `198.51.100.${serverHost}`,
      dir,
      ipvsdConfig: join(dir, 'ipvsd.yaml'),
      controlSocket: join(dir, 'run', 'control.sock'),
      keepalivedConfig: join(dir, 'keepalived.conf'),
      daemon: null,
      kind: null,
      lines: [],
      linksUp: true,
    });
  }
  const [n1, n2] = nodes as [MutableNode, MutableNode];

  const realServers: RealServerHost[] = [];
  for (const [name, address] of [
    ['rs1', '198.51.100.11'],
    ['rs2', '198.51.100.12'],
    ['rs3', '198.51.100.13'],
  ] as const) {
    const ns = await lab.namespace(`${opts.tag}-${name}`);
    await port(ns, 'eth0', `${address}/24`, `s-${name}`, 'brs');
    await lab.addRoute(ns, 'default', { via: SERVER_VIP });
    realServers.push({ name, ns, address });
  }

  for (const node of nodes) {
    writeFileSync(node.ipvsdConfig, ipvsdConfig(node, opts, realServers));
    writeFileSync(node.keepalivedConfig, keepalivedConfig(node, opts, realServers));
  }

  const other = (node: DirectorNode): MutableNode => (node.name === n1.name ? n2 : n1);
  const mutable = (node: DirectorNode): MutableNode => (node.name === n1.name ? n1 : n2);

  async function startDirector(node: DirectorNode, kind: DirectorKind): Promise<SpawnedProcess> {
    const m = mutable(node);
    if (m.daemon !== null && m.daemon.exitStatus() === null)
      throw new Error(`nat-pair: ${m.name} already runs ${m.kind}`);
    let proc: SpawnedProcess;
    if (kind === 'ipvsd') {
      proc = lab.spawn(m.ns, process.execPath, [IPVSD, '--config', m.ipvsdConfig]);
    } else {
      // keepalived does not set ip_forward (ipvsd does, from director.ip_forward).
      await lab.execOk(m.ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      proc = lab.spawn(m.ns, 'keepalived', [
        '--dont-fork',
        '--log-console',
        '--use-file',
        m.keepalivedConfig,
        '--pid',
        join(m.dir, 'keepalived.pid'),
        '--vrrp_pid',
        join(m.dir, 'vrrp.pid'),
        '--checkers_pid',
        join(m.dir, 'checkers.pid'),
      ]);
    }
    m.daemon = proc;
    m.kind = kind;
    let partial = '';
    const onData = (chunk: Buffer | string) => {
      const at = monotonicMs();
      partial += chunk.toString();
      let nl = partial.indexOf('\n');
      while (nl !== -1) {
        m.lines.push({ at, line: partial.slice(0, nl) });
        partial = partial.slice(nl + 1);
        nl = partial.indexOf('\n');
      }
    };
    proc.child.stdout?.on('data', onData);
    proc.child.stderr?.on('data', onData);
    if (kind === 'ipvsd') await proc.waitForOutput('"msg":"ipvsd started"', 240_000);
    else await proc.waitForOutput(/Starting VRRP child process/, 60_000);
    return proc;
  }

  /** Pids of every process of the node's daemon (keepalived forks a VRRP and a checker child). */
  async function daemonPids(m: MutableNode): Promise<number[]> {
    if (m.daemon === null) return [];
    if (m.kind === 'ipvsd') return m.daemon.exitStatus() === null ? [m.daemon.pid] : [];
    const r = await run('ip', ['netns', 'pids', m.ns]);
    const pids = r.stdout
      .split(/\s+/)
      .filter((s) => /^\d+$/.test(s))
      .map(Number);
    return pids.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'keepalived';
      } catch {
        return false;
      }
    });
  }

  async function stopDirector(node: DirectorNode, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const m = mutable(node);
    const proc = m.daemon;
    if (proc === null) return;
    if (signal === 'SIGKILL') {
      // keepalived: the parent is stopped first, so it cannot respawn a child it sees die, then the
      // children and the parent are killed (a child that outlived its parent would stop gracefully
      // on its parent-death signal, which is not a crash).
      const pids = await daemonPids(m);
      const send = (pid: number, sig: NodeJS.Signals) => {
        try {
          process.kill(pid, sig);
        } catch {
          // already gone
        }
      };
      if (m.kind === 'keepalived') send(proc.pid, 'SIGSTOP');
      for (const pid of pids.filter((p) => p !== proc.pid)) send(pid, 'SIGKILL');
      send(proc.pid, 'SIGKILL');
    } else {
      proc.child.kill('SIGTERM');
    }
    const exit = await Promise.race([proc.exited, sleep(60_000).then(() => null)]);
    if (exit === null)
      throw new Error(`nat-pair: ${m.name}'s ${m.kind} did not exit within 60 s of ${signal}`);
    // keepalived's children follow their parent; wait until none is left.
    for (let i = 0; i < 100 && (await daemonPids(m)).length > 0; i++) await sleep(100);
    m.daemon = null;
  }

  /** Both links of a node in one `ip -n NS -batch` (no `ip netns exec`: one process, no remount). */
  async function setLinks(m: MutableNode, state: 'up' | 'down'): Promise<void> {
    const r = await run('ip', ['-n', m.ns, '-batch', '-'], {
      input: `link set dev eth0 ${state}\nlink set dev eth1 ${state}\n`,
    });
    if (r.code !== 0) throw new Error(`nat-pair: links ${state} on ${m.name} failed: ${r.stderr}`);
    m.linksUp = state === 'up';
  }

  async function linksDown(node: DirectorNode): Promise<LinksDownTimes> {
    const m = mutable(node);
    const started = monotonicMs();
    await setLinks(m, 'down');
    return { started, done: monotonicMs() };
  }

  const linksUp = (node: DirectorNode) => setLinks(mutable(node), 'up');

  async function vips(node: DirectorNode): Promise<{ client: boolean; server: boolean }> {
    const has = async (ifname: string, address: string) =>
      (await lab.ipAddresses(node.ns, ifname)).some((a) => a.local === address);
    return { client: await has('eth0', CLIENT_VIP), server: await has('eth1', SERVER_VIP) };
  }

  async function connections(node: DirectorNode): Promise<ConnectionEntry[]> {
    const out = await lab.execOk(node.ns, 'ipvsadm', ['-Lnc']);
    const entries: ConnectionEntry[] = [];
    for (const line of out.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 6 && /^(TCP|UDP|SCTP)$/.test(f[0] as string))
        entries.push({
          protocol: f[0] as string,
          state: f[2] as string,
          source: f[3] as string,
          virtual: f[4] as string,
          destination: f[5] as string,
        });
    }
    return entries;
  }

  const pair: NatPair = {
    lab,
    options: opts,
    client,
    switchNs: sw,
    lb1: n1,
    lb2: n2,
    directors: [n1, n2],
    realServers,
    url: `http://${CLIENT_VIP}:${SERVICE_PORT}/`,

    async startRealServers() {
      await Promise.all(
        realServers.map(async (rs) => {
          const proc = lab.spawn(rs.ns, process.execPath, [
            PAIR_SERVER,
            rs.name,
            `${rs.address}:${REAL_SERVER_PORT}`,
          ]);
          await proc.waitForOutput(`listening ${rs.name}`, 120_000);
        }),
      );
    },

    async startDirectors(kind) {
      await startDirector(n2, kind);
      await startDirector(n1, kind);
      await pair.waitForMaster(n1);
    },

    startDirector,
    stopDirector,
    linksDown,
    linksUp,

    async crash(node) {
      const down = await linksDown(node);
      await stopDirector(node, 'SIGKILL');
      return down;
    },

    async recover(node, kind) {
      const m = mutable(node);
      const what = kind ?? m.kind;
      if (what === null) throw new Error(`nat-pair: ${m.name} never ran a daemon`);
      if (m.daemon !== null) await stopDirector(node, 'SIGKILL');
      // A rebooted machine has no VIPs, no IPVS table and no sync daemon: drop what the killed
      // daemon left (with the links down, none of it answered anyone), then cable it back.
      await lab.exec(m.ns, 'ip', ['addr', 'del', `${CLIENT_VIP}/24`, 'dev', 'eth0']);
      await lab.exec(m.ns, 'ip', ['addr', 'del', `${SERVER_VIP}/24`, 'dev', 'eth1']);
      await lab.exec(m.ns, 'ipvsadm', ['--stop-daemon', 'master']);
      await lab.exec(m.ns, 'ipvsadm', ['--stop-daemon', 'backup']);
      await lab.exec(m.ns, 'ipvsadm', ['-C']);
      if (!m.linksUp) await linksUp(node);
      await startDirector(node, what);
    },

    vips,

    async waitForMaster(node, { timeoutMs = 120_000, exclusive = true } = {}) {
      const peer = other(node);
      const deadline = monotonicMs() + timeoutMs;
      let last = '';
      for (;;) {
        const mine = await vips(node);
        const theirs = peer.linksUp && exclusive ? await vips(peer) : { client: false, server: false };
        if (mine.client && mine.server && !theirs.client && !theirs.server) return;
        last = `${node.name} ${JSON.stringify(mine)}, ${peer.name} ${JSON.stringify(theirs)}`;
        if (monotonicMs() > deadline)
          throw new Error(
            `nat-pair: ${node.name} did not become master within ${timeoutMs} ms (VIPs: ${last})\n` +
              `${node.name} log (tail):\n${tail(mutable(node).lines)}\n${peer.name} log (tail):\n${tail(peer.lines)}`,
          );
        await sleep(100);
      }
    },

    connections,
    ipvsadm: (node, args) => lab.exec(node.ns, 'ipvsadm', args),
    ipvsctl: (node, args) =>
      lab.exec(node.ns, process.execPath, [IPVSCTL, '--socket', node.controlSocket, ...args], {
        timeoutMs: 300_000,
      }),
    logLines: (node) => mutable(node).lines,

    async cleanup() {
      try {
        await lab.cleanup();
      } finally {
        rmSync(opts.workDir, { recursive: true, force: true });
      }
    },
  };
  return pair;
}

function tail(lines: readonly TimedLine[], n = 30): string {
  return lines
    .slice(-n)
    .map((l) => `  ${l.line}`)
    .join('\n');
}

/** VRRPv2 PASS authentication in both tools' configs (v3 has none). */
const PASSWORD = 'np-pass';

function ipvsdConfig(
  node: MutableNode,
  o: Required<NatPairOptions>,
  servers: readonly RealServerHost[],
): string {
  const advert = `${o.advertIntervalMs}ms`;
  const auth = o.vrrpVersion === 2 ? `\n    authentication: { type: pass, password: "${PASSWORD}" }` : '';
  const instance = (ifname: string, vrid: number, vip: string) => `
    state: backup
    interface: ${ifname}
    virtual_router_id: ${vrid}
    priority: ${node.priority}
    advert_int: ${advert}
    version: ${o.vrrpVersion}
    preempt: true${auth}
    virtual_ipaddresses: ["${vip}/24"]`;
  const sync = o.syncDaemon ? `\n  sync_daemon: { interface: eth1, sync_id: ${SYNC_ID}, follow: VG1 }` : '';
  return `# generated by test/support/nat-pair.ts for ${node.name}
director:
  router_id: ${node.name}
  control_socket: ${node.controlSocket}
  metrics: { listen: "127.0.0.1:9469" }
  ipvs: { resync_interval: 10s }${sync}
vrrp_instances:
  VI_client:${instance('eth0', VRID_CLIENT, CLIENT_VIP)}
  VI_server:${instance('eth1', VRID_SERVER, SERVER_VIP)}
vrrp_sync_groups:
  VG1: { instances: [VI_client, VI_server] }
virtual_servers:
  - name: web
    address: ${CLIENT_VIP}
    port: ${SERVICE_PORT}
    scheduler: rr
    check: { type: tcp, interval: 1s, timeout: 1s }
    real_servers:
${servers.map((rs) => `      - { address: ${rs.address}, port: ${REAL_SERVER_PORT} }`).join('\n')}
`;
}

function keepalivedConfig(
  node: MutableNode,
  o: Required<NatPairOptions>,
  servers: readonly RealServerHost[],
): string {
  const advert = o.advertIntervalMs / 1000;
  const auth =
    o.vrrpVersion === 2
      ? `
    authentication {
        auth_type PASS
        auth_pass ${PASSWORD}
    }`
      : '';
  const instance = (name: string, ifname: string, vrid: number, vip: string) => `
vrrp_instance ${name} {
    state BACKUP
    interface ${ifname}
    virtual_router_id ${vrid}
    priority ${node.priority}
    advert_int ${advert}
    version ${o.vrrpVersion}${auth}
    virtual_ipaddress {
        ${vip}/24 dev ${ifname}
    }
}
`;
  const sync = o.syncDaemon ? `\n    lvs_sync_daemon eth1 VI_server id ${SYNC_ID}` : '';
  return `# generated by test/support/nat-pair.ts for ${node.name}: the same site as ipvsd.yaml
global_defs {
    router_id ${node.name}
    # ipvsd's announcements: 5 gratuitous ARPs at once, 5 more 2 s later, no periodic refresh
    vrrp_garp_master_repeat 5
    vrrp_garp_master_delay 2
    vrrp_garp_master_refresh 0${sync}
}

vrrp_sync_group VG1 {
    group {
        VI_client
        VI_server
    }
}
${instance('VI_client', 'eth0', VRID_CLIENT, CLIENT_VIP)}${instance('VI_server', 'eth1', VRID_SERVER, SERVER_VIP)}
virtual_server ${CLIENT_VIP} ${SERVICE_PORT} {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
${servers
  .map(
    (rs) => `    real_server ${rs.address} ${REAL_SERVER_PORT} {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }`,
  )
  .join('\n')}
}
`;
}

/** PROBER in the client namespace and the attempts it has printed so far. */
export interface Prober {
  readonly proc: SpawnedProcess;
  attempts(): ProbeAttempt[];
}

/**
 * Starts PROBER in the client namespace (a new request to the service every `intervalMs`, each
 * given `timeoutMs`) and resolves once one request has succeeded. Closing its stdin ends it.
 */
export async function startProber(pair: NatPair, intervalMs: number, timeoutMs: number): Promise<Prober> {
  const proc = pair.lab.spawn(pair.client, process.execPath, [
    PROBER,
    CLIENT_VIP,
    String(SERVICE_PORT),
    String(intervalMs),
    String(timeoutMs),
  ]);
  await proc.waitForOutput('ready', 120_000);
  const attempts = () =>
    proc
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ProbeAttempt);
  await waitFor('a first successful request', async () => attempts().find((a) => a.ok), {
    timeoutMs: 60_000,
  });
  return { proc, attempts };
}
