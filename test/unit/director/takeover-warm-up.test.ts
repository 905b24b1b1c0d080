/**
 * The takeover warm-up (src/director/takeover-warm-up.ts) must rehearse the takeover and touch
 * nothing: every way out of the process the speaker, the follower, the address batch, the IPVS
 * backend, the VRRP socket and the gratuitous ARP have (raw netlink sockets, the native addon with
 * its VRRP and packet sockets, rtnetlink, the link monitor, child processes, stdout/stderr) is
 * replaced here by a recorder that refuses, and the warm-up must leave every recorder empty while
 * reporting that it ran the path.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const touched: string[] = [];

vi.mock('netlink/dist/raw.js', () => ({
  RawNetlinkSocket: class {
    constructor() {
      touched.push('RawNetlinkSocket');
      throw new Error('warm-up opened a raw netlink socket');
    }
  },
}));
vi.mock('../../../src/sys/native.js', () => ({
  loadNative: () => {
    touched.push('loadNative');
    throw new Error('warm-up loaded the native addon');
  },
}));
vi.mock('../../../src/sys/rtnetlink.js', async (actual) => ({
  ...(await actual<typeof import('../../../src/sys/rtnetlink.js')>()),
  createRtnetlink: () => {
    touched.push('createRtnetlink');
    throw new Error('warm-up opened rtnetlink');
  },
}));
vi.mock('../../../src/sys/link-monitor.js', async (actual) => ({
  ...(await actual<typeof import('../../../src/sys/link-monitor.js')>()),
  createLinkMonitor: () => {
    touched.push('createLinkMonitor');
    throw new Error('warm-up opened the link monitor');
  },
}));
vi.mock('node:child_process', async (actual) => {
  const real = await actual<typeof import('node:child_process')>();
  const refuse =
    (name: string) =>
    (..._args: unknown[]): never => {
      touched.push(name);
      throw new Error(`warm-up called child_process.${name}`);
    };
  return {
    ...real,
    default: { ...real, spawn: refuse('spawn'), execFile: refuse('execFile') },
    spawn: refuse('spawn'),
    execFile: refuse('execFile'),
  };
});

const YAML = `
director:
  sync_daemon: { interface: eth1, sync_id: 61, follow: VG1 }
vrrp_scripts:
  chk: { script: [/bin/false], interval: 1s }
vrrp_instances:
  VI_client:
    state: backup
    interface: eth0
    virtual_router_id: 61
    priority: 100
    advert_int: 0.1s
    version: 3
    track_scripts: [chk]
    notify: { master: [/bin/touch, /nonexistent/master], backup: [/bin/touch, /nonexistent/backup] }
    virtual_ipaddresses: ["203.0.113.100/24", "203.0.113.101/24"]
  VI_server:
    state: backup
    interface: eth1
    virtual_router_id: 62
    priority: 100
    advert_int: 0.1s
    version: 3
    virtual_ipaddresses: ["198.51.100.1/24"]
  VI_v6:
    state: master
    interface: eth2
    virtual_router_id: 63
    priority: 150
    advert_int: 1s
    version: 3
    virtual_ipaddresses: ["2001:db8::10/64"]
  VI_v2:
    state: backup
    interface: eth3
    virtual_router_id: 64
    priority: 255
    advert_int: 1s
    version: 2
    authentication: { type: pass, password: secret }
    unicast_src_ip: 192.0.2.30
    unicast_peers: [192.0.2.31]
    virtual_ipaddresses: ["192.0.2.30/24"]
vrrp_sync_groups:
  VG1: { instances: [VI_client, VI_server] }
`;

describe('takeover warm-up', () => {
  let writes: string[];
  beforeEach(() => {
    touched.length = 0;
    writes = [];
    // The trace is on: a rehearsal that traced itself would print a takeover-trace line.
    vi.stubEnv('IPVSD_TAKEOVER_TRACE', '1');
    vi.resetModules();
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
        writes.push(String(chunk));
        return true;
      });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  async function load() {
    const { parseConfig } = await import('../../../src/config/index.js');
    const { config, issues } = parseConfig(YAML, 'warm.yaml');
    expect(issues).toEqual([]);
    if (config === undefined || config === null) throw new Error('no config');
    const { warmUpTakeover } = await import('../../../src/director/takeover-warm-up.js');
    return { config, warmUpTakeover };
  }

  it('runs the master side of every instance: adverts, the sync daemon switch, the VIP batch, the announcements', async () => {
    const { config, warmUpTakeover } = await load();
    const report = await warmUpTakeover(config);
    expect(report).not.toBeNull();
    // Both members and the standalone instances became master and sent adverts (priority 0 at the stop too).
    expect(report?.adverts).toBeGreaterThanOrEqual(8);
    // Five VIPs, five announcements each in the first burst and five in the second.
    expect(report?.announcements).toBe(5 * 10);
    // The five VIPs went to the address batch, and the follower listed, started and stopped daemons.
    expect(report?.addressRequests).toBe(5);
    expect(report?.ipvsRequests).toBeGreaterThanOrEqual(3);
  });

  it('sends nothing, runs nothing, writes nothing and leaves its config as it was', async () => {
    const { config, warmUpTakeover } = await load();
    const before = structuredClone(config);
    await warmUpTakeover(config);
    expect(touched).toEqual([]);
    expect(writes).toEqual([]);
    expect(config).toEqual(before);
  });

  it('leaves the takeover trace working for the real takeover after it', async () => {
    const { config, warmUpTakeover } = await load();
    await warmUpTakeover(config);
    const trace = await import('../../../src/sys/takeover-trace.js');
    trace.traceTimerFired(0, 0);
    trace.traceEnd('first announcements sent');
    expect(writes.filter((w) => w.startsWith('takeover-trace '))).toHaveLength(1);
  });

  it('has nothing to rehearse without VRRP instances', async () => {
    const { parseConfig } = await import('../../../src/config/index.js');
    const { warmUpTakeover } = await import('../../../src/director/takeover-warm-up.js');
    const { config } = parseConfig('director: { router_id: x }\n', 'empty.yaml');
    if (config === undefined || config === null) throw new Error('no config');
    expect(await warmUpTakeover(config)).toBeNull();
  });
});
