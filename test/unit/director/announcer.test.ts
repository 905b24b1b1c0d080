import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createAnnouncer, needsSloppyTcp } from '../../../src/director/announcer.js';
import type { VirtualServerDecision } from '../../../src/director/desired-state.js';
import type { Withdrawals, WithdrawStore } from '../../../src/director/withdraw-store.js';
import type { AnnounceKernel, AnnounceTableSettings } from '../../../src/sys/announce-routes.js';
import { createLogger } from '../../../src/sys/logger.js';

const VIP = '203.0.113.100';
const VIP2 = '203.0.113.101';

function config(extra = ''): Config {
  const { config, issues } = parseConfig(
    `director:
  announce: { withdraw_delay: 5s }
virtual_servers:
  - { address: ${VIP}, port: 80, announce: true, real_servers: [{ address: 198.51.100.11, port: 80 }] }
  - { address: ${VIP}, port: 443, announce: true, quorum: 2, real_servers: [{ address: 198.51.100.11, port: 443, weight: 2 }] }
  - { address: ${VIP2}, port: 80, announce: true }
  - { address: 203.0.113.102, port: 80 }
${extra}`,
    'test.yaml',
  );
  expect(issues).toEqual([]);
  return config as Config;
}

/** The kernel as sets of announce routes and local routes; changes are recorded in order. */
function fakeKernel() {
  const routes = new Set<string>();
  /** ipvsd's local routes; and the host's own addresses (the kernel's local routes). */
  const locals = new Set<string>();
  const hostAddresses = new Set<string>();
  const failLocal = new Map<string, string>();
  const calls: string[] = [];
  const failAdd = new Map<string, string>();
  const kernel: AnnounceKernel = {
    async syncRoutes(_s: AnnounceTableSettings, announced) {
      const errors = new Map<string, string>();
      const added: string[] = [];
      const removed: string[] = [];
      for (const r of [...routes])
        if (!announced.includes(r)) {
          routes.delete(r);
          removed.push(r);
        }
      for (const a of announced) {
        if (routes.has(a)) continue;
        const fail = failAdd.get(a);
        if (fail) errors.set(a, fail);
        else {
          routes.add(a);
          added.push(a);
        }
      }
      calls.push(`routes ${[...routes].sort().join(' ') || '-'}`);
      return { added, removed, errors };
    },
    async syncLocalRoutes(_s: AnnounceTableSettings, vips, removeOthers) {
      const errors = new Map<string, string>();
      const added: string[] = [];
      const removed: string[] = [];
      const alreadyLocal = vips.filter((a) => hostAddresses.has(a));
      if (removeOthers)
        for (const a of [...locals])
          if (!vips.includes(a)) {
            locals.delete(a);
            removed.push(a);
          }
      for (const a of vips) {
        if (locals.has(a) || hostAddresses.has(a)) continue;
        const fail = failLocal.get(a);
        if (fail) errors.set(a, fail);
        else {
          locals.add(a);
          added.push(a);
        }
      }
      if (removed.length > 0) calls.push(`local routes removed ${removed.join(' ')}`);
      return { added, removed, alreadyLocal, errors };
    },
  };
  return { kernel, routes, locals, hostAddresses, calls, failAdd, failLocal };
}

function memoryStore(initial: Withdrawals = { all: false, addresses: [] }) {
  const state = { saved: initial, saves: 0 };
  const store: WithdrawStore = {
    file: '/state/withdrawn.json',
    load: async () => state.saved,
    save: async (w) => {
      state.saves++;
      state.saved = w;
    },
  };
  return { store, state };
}

const met = (name: string, ok = true, required = 1): VirtualServerDecision => ({
  name,
  liveWeight: ok ? required : 0,
  requiredWeight: required,
  quorumMet: ok,
  sorryServerActive: false,
});
const allMet = [met(`tcp/${VIP}:80`), met(`tcp/${VIP}:443`, true, 2), met(`tcp/${VIP2}:80`)];

async function setup(store = memoryStore()) {
  const k = fakeKernel();
  let clock = 1_000_000;
  const sleeps: number[] = [];
  const announcer = createAnnouncer(config(), {
    kernel: k.kernel,
    store: store.store,
    logger: createLogger({ level: 'silent' }),
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  });
  await announcer.start();
  const ready = async () => {
    await announcer.decided(allMet);
    announcer.reconciled(null);
    await announcer.resync();
  };
  return {
    ...k,
    announcer,
    store,
    sleeps,
    ready,
    tick: (ms: number) => {
      clock += ms;
    },
  };
}

describe('announcer', () => {
  it('makes the VIPs local at start and announces nothing before the first reconcile', async () => {
    const t = await setup();
    expect([...t.locals].sort()).toEqual([VIP, VIP2]);
    expect(t.routes.size).toBe(0);
    expect(t.announcer.status().map((a) => [a.address, a.announced, a.reason])).toEqual([
      [VIP, false, 'not reconciled: no reconcile yet'],
      [VIP2, false, 'not reconciled: no reconcile yet'],
    ]);
    await t.ready();
    expect([...t.routes].sort()).toEqual([VIP, VIP2]);
    expect(t.announcer.status()[0]).toMatchObject({ address: VIP, announced: true, reason: 'announced' });
  });

  it('withdraws a VIP when one service on it loses quorum, before decided() returns', async () => {
    const t = await setup();
    await t.ready();
    await t.announcer.decided([met(`tcp/${VIP}:80`), met(`tcp/${VIP}:443`, false, 2), met(`tcp/${VIP2}:80`)]);
    // No waiting: the route is gone when the director goes on to change the IPVS table.
    expect([...t.routes]).toEqual([VIP2]);
    expect(t.announcer.status()[0]).toMatchObject({
      announced: false,
      reason: `quorum lost: tcp/${VIP}:443 has 0 of 2`,
    });
    await t.announcer.decided(allMet);
    expect([...t.routes].sort()).toEqual([VIP, VIP2]);
  });

  it('withdraws everything on a reconcile problem or a fault, and comes back', async () => {
    const t = await setup();
    await t.ready();
    t.announcer.reconciled('the kernel refused 1 ipvs operation (EINVAL)');
    await t.announcer.resync();
    expect(t.routes.size).toBe(0);
    t.announcer.reconciled(null);
    t.announcer.setFault('checks', 'the checks process is down');
    await t.announcer.resync();
    expect(t.announcer.status()[1]?.reason).toBe('fault: the checks process is down');
    expect(t.routes.size).toBe(0);
    t.announcer.setFault('checks', null);
    await t.announcer.resync();
    expect(t.routes.size).toBe(2);
  });

  it('ipvsctl withdraw/announce: one VIP or the node, saved before the kernel changes, unknown addresses refused', async () => {
    const t = await setup();
    await t.ready();
    const one = await t.announcer.withdraw('203.0.113.100');
    expect(one).toMatchObject({ address: VIP, withdrawn: true });
    expect(one.announcements.find((a) => a.address === VIP)).toMatchObject({
      announced: false,
      reason: 'withdrawn by operator',
    });
    expect([...t.routes]).toEqual([VIP2]);
    expect(t.store.state.saved).toEqual({ all: false, addresses: [VIP] });

    await expect(t.announcer.withdraw('203.0.113.102')).rejects.toThrow(
      `withdraw: no virtual server with announce: true on 203.0.113.102 in the running config (announced: ${VIP}, ${VIP2})`,
    );
    await expect(t.announcer.withdraw('not-an-ip')).rejects.toMatchObject({ code: 'IPVSD_ERR_USAGE' });

    await t.announcer.withdraw(null);
    expect(t.routes.size).toBe(0);
    const lifted = await t.announcer.announce(VIP);
    expect(lifted.warning).toMatch(/the node as a whole stays withdrawn/);
    expect(t.routes.size).toBe(0);
    await t.announcer.announce(null);
    expect(t.store.state.saved).toEqual({ all: false, addresses: [] });
    expect(t.routes.size).toBe(2);
  });

  it('a restart keeps the withdrawal until announce', async () => {
    const store = memoryStore({ all: false, addresses: [VIP2] });
    const t = await setup(store);
    await t.ready();
    expect([...t.routes]).toEqual([VIP]);
    expect(t.announcer.status()[1]).toMatchObject({ address: VIP2, reason: 'withdrawn by operator' });
  });

  it('an unreadable withdrawal file keeps every VIP withdrawn', async () => {
    const store = memoryStore();
    store.store.load = async () => {
      throw new Error('/state/withdrawn.json: not JSON');
    };
    const t = await setup(store);
    await t.ready();
    expect(t.routes.size).toBe(0);
    expect(t.announcer.status()[0]?.reason).toBe('withdrawn by operator (node)');
  });

  it('stop withdraws first, then waits withdraw_delay; a VIP withdrawn long before needs no wait', async () => {
    const t = await setup();
    await t.ready();
    await t.announcer.stop();
    expect(t.routes.size).toBe(0);
    expect(t.sleeps).toEqual([5000]);
    expect(t.announcer.status().map((a) => a.reason)).toEqual(['stopping', 'stopping']);

    const u = await setup();
    await u.ready();
    await u.announcer.withdraw(null);
    u.tick(3000);
    await u.announcer.stop();
    expect(u.sleeps).toEqual([2000]);

    const never = await setup();
    await never.announcer.stop();
    expect(never.sleeps).toEqual([]);
  });

  it('with on_stop remove, the local routes go after the services', async () => {
    const t = await setup();
    await t.ready();
    await t.announcer.stop();
    await t.announcer.finishStop(false);
    expect(t.locals.size).toBe(2);
    await t.announcer.finishStop(true);
    expect(t.locals.size).toBe(0);
  });

  it('shows a route the kernel refused as not announced, with the reason', async () => {
    const t = await setup();
    t.failAdd.set(
      VIP2,
      'table 200 already has a route to 203.0.113.101 with protocol 4, which ipvsd did not make: left alone',
    );
    await t.ready();
    expect(t.announcer.status()[1]).toMatchObject({
      announced: false,
      reason:
        'route not installed: table 200 already has a route to 203.0.113.101 with protocol 4, which ipvsd did not make: left alone',
    });
  });

  it('a reload that drops a VIP withdraws its route, then removes its local route', async () => {
    const t = await setup();
    await t.ready();
    const smaller = parseConfig(
      `virtual_servers:\n  - { address: ${VIP}, port: 80, announce: true }\n`,
      'test.yaml',
    ).config as Config;
    await t.announcer.reload(smaller);
    await t.announcer.decided([met(`tcp/${VIP}:80`)]);
    expect([...t.routes]).toEqual([VIP]);
    expect([...t.locals]).toEqual([VIP]);
    expect(t.calls.slice(-2)).toEqual([`routes ${VIP}`, `local routes removed ${VIP2}`]);
  });

  it('a VIP a reload adds waits for the reconcile that puts its services in the kernel', async () => {
    const t = await setup();
    await t.ready();
    const bigger = config('  - { address: 203.0.113.103, port: 80, announce: true }');
    await t.announcer.reload(bigger);
    await t.announcer.decided([...allMet, met('tcp/203.0.113.103:80')]);
    expect(t.announcer.status().map((a) => [a.address, a.reason])).toEqual([
      [VIP, 'announced'],
      [VIP2, 'announced'],
      ['203.0.113.103', 'not reconciled: new in the config'],
    ]);
    expect(t.locals.has('203.0.113.103')).toBe(true);
    t.announcer.reconciled(null);
    await t.announcer.resync();
    expect([...t.routes].sort()).toEqual([VIP, VIP2, '203.0.113.103']);
  });
});

describe('announcer local routes', () => {
  it('a VIP that could not be made local is not announced, and is once it is', async () => {
    const t = await setup();
    t.locals.delete(VIP2);
    t.failLocal.set(VIP2, 'no such interface');
    await t.announcer.resync();
    await t.ready();
    expect([...t.routes]).toEqual([VIP]);
    expect(t.announcer.status()[1]).toMatchObject({
      announced: false,
      reason: 'route not installed: the VIP is not local: no such interface',
    });
    t.failLocal.clear();
    await t.announcer.resync(); // makes it local
    await t.announcer.resync(); // announces it
    expect([...t.routes].sort()).toEqual([VIP, VIP2]);
    expect(t.announcer.status()[1]).toMatchObject({ announced: true, reason: 'announced' });
  });

  it('a VIP the host holds as an address is left alone and announced', async () => {
    const t = await setup();
    t.locals.delete(VIP2);
    t.hostAddresses.add(VIP2);
    await t.announcer.resync();
    await t.ready();
    expect([...t.locals]).toEqual([VIP]);
    expect([...t.routes].sort()).toEqual([VIP, VIP2]);
  });

  it('a local route removed behind ipvsd comes back at the next resync', async () => {
    const t = await setup();
    await t.ready();
    t.locals.delete(VIP);
    await t.announcer.resync();
    expect([...t.locals].sort()).toEqual([VIP, VIP2]);
  });
});

describe('announcer kernel reads', () => {
  it('an event that moves no VIP reads no routes; a resync always does and repairs drift', async () => {
    const t = await setup();
    await t.ready();
    const before = t.calls.length;
    await t.announcer.decided(allMet);
    await t.announcer.decided(allMet);
    expect(t.calls.length).toBe(before);
    t.routes.delete(VIP); // removed by hand
    await t.announcer.resync();
    expect([...t.routes].sort()).toEqual([VIP, VIP2]);
  });
});

describe('needsSloppyTcp', () => {
  const with1 = (vs: string) =>
    parseConfig(`virtual_servers:\n  - { address: ${VIP}, port: 80, ${vs} }\n`, 'test.yaml').config as Config;
  it('only for an announced dr or tun service with a hashing scheduler', () => {
    expect(needsSloppyTcp(with1('announce: true, forwarding: dr, scheduler: mh'))).toBe(true);
    expect(needsSloppyTcp(with1('announce: true, forwarding: tun, scheduler: sh'))).toBe(true);
    expect(needsSloppyTcp(with1('announce: false, forwarding: dr, scheduler: mh'))).toBe(false);
    expect(needsSloppyTcp(with1('announce: true, forwarding: dr, scheduler: rr'))).toBe(false);
    expect(needsSloppyTcp(with1('announce: true, forwarding: nat, scheduler: mh'))).toBe(false);
  });
});
