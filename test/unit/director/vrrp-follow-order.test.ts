/**
 * DESIGN §6's order, watched end to end on fakes: two real VRRP speakers on an in-memory link, each
 * with a real follower whose kernel is the in-memory IPVS backend. Every side effect (VIP added or
 * removed, gratuitous ARP, sync daemon started or stopped, forwarding, services removed) goes into
 * one log per node, and the tests assert the order of that log.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../../src/config/index.js';
import { stopNode } from '../../../src/director/node-stop.js';
import { followedState } from '../../../src/director/sync-daemon-plan.js';
import {
  createVrrpFollower,
  type SyncDaemonKernel,
  type VrrpFollower,
} from '../../../src/director/vrrp-follower.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import type { InterfaceAddress } from '../../../src/sys/rtnetlink.js';
import { createVrrpSpeaker, type SpeakerRtnetlink, type VrrpSpeaker } from '../../../src/vrrp/speaker.js';
import {
  configFrom,
  createFakeLink,
  createFakeLinks,
  type FakeLink,
  type FakeNode,
} from '../vrrp/speaker-harness.js';

const silent = pino({ level: 'silent' });

interface Node {
  readonly log: string[];
  readonly speaker: VrrpSpeaker;
  readonly follower: VrrpFollower;
  readonly kernel: SyncDaemonKernel;
  readonly addresses: Map<string, Set<string>>;
}

function groupYaml(priority: number, extra = ''): string {
  return `
director:
  sync_daemon: { interface: eth2, sync_id: 51, follow: VG1 }
  ipvs: { on_stop: remove }
vrrp_instances:
  VI_client:
    state: backup
    interface: eth0
    virtual_router_id: 51
    priority: ${priority}
    virtual_ipaddresses: ["203.0.113.100/24"]
  VI_server:
    state: backup
    interface: eth1
    virtual_router_id: 52
    priority: ${priority}
    virtual_ipaddresses: ["198.51.100.1/24"]
vrrp_sync_groups:
  VG1: { instances: [VI_client, VI_server] }
virtual_servers:
  - address: 203.0.113.100
    port: 80
    real_servers:
      - { address: 198.51.100.11, port: 8080 }
${extra}`;
}

function instanceYaml(priority: number): string {
  return `
director:
  sync_daemon: { interface: eth0, sync_id: 7, follow: VI_1 }
vrrp_instances:
  VI_1:
    state: backup
    interface: eth0
    virtual_router_id: 51
    priority: ${priority}
    virtual_ipaddresses: ["203.0.113.100/24"]
`;
}

/**
 * How the fakes answer a takeover's batched calls (the kernel backend's switchDaemons and
 * rtnetlink's addAddressesAtOnce): `none` leaves them out (one call per step), `sent` executes
 * each batch inside the call and confirms it later (the kernel executes a datagram sent
 * inside the call), `queued` executes and confirms it later (the datagram waited behind an
 * earlier send).
 */
type Batching = 'none' | 'sent' | 'queued';

/** `f` a few microtasks later (the fake timers do not run while a test awaits a start). */
const later = <T>(f: () => T | Promise<T>): Promise<T> =>
  Promise.resolve()
    .then(() => undefined)
    .then(() => undefined)
    .then(f);

function createNode(
  link: FakeLink,
  name: string,
  primaries: Record<string, string>,
  config: Config,
  kernelOverride?: () => Promise<SyncDaemonKernel>,
  batching: Batching = 'none',
): Node {
  const log: string[] = [];
  const addresses = new Map<string, Set<string>>();
  const set = (ifname: string) => {
    let s = addresses.get(ifname);
    if (!s) {
      s = new Set();
      addresses.set(ifname, s);
    }
    return s;
  };
  const rtnl: SpeakerRtnetlink = {
    async ensureAddress(ifname, cidr) {
      if (set(ifname).has(cidr)) return false;
      set(ifname).add(cidr);
      log.push(`vip+ ${ifname}`);
      return true;
    },
    async ensureNoAddress(ifname, cidr) {
      const removed = set(ifname).delete(cidr);
      if (removed) log.push(`vip- ${ifname}`);
      return removed;
    },
    async listAddresses(ifname) {
      const primary = ifname === undefined ? undefined : primaries[ifname];
      if (primary === undefined || ifname === undefined) return [];
      const address: InterfaceAddress = {
        ifname,
        ifindex: 2,
        family: 'inet',
        scope: 0,
        tentative: false,
        dadFailed: false,
        address: primary,
        prefixLength: 24,
        secondary: false,
      };
      return [address];
    },
    close() {},
  };
  if (batching !== 'none') {
    rtnl.addAddressesAtOnce = (addresses) => {
      const run = () =>
        addresses.map(({ ifname, cidr }) => {
          if (set(ifname).has(cidr)) return null;
          set(ifname).add(cidr);
          log.push(`vip+ ${ifname}`);
          return null;
        });
      if (batching === 'sent') {
        const outcomes = run();
        return { sent: true, done: later(() => outcomes) };
      }
      return { sent: false, done: later(run) };
    };
  }
  // The in-memory IPVS backend (kernel rules: EEXIST/ESRCH), logging the daemon calls.
  const memory = createMemoryBackend();
  const kernel: SyncDaemonKernel = {
    daemons: () => memory.daemons(),
    async startDaemon(d) {
      await memory.startDaemon(d);
      log.push(`start ${d.state} ${d.interface}/${d.syncId}`);
    },
    async stopDaemon(state) {
      await memory.stopDaemon(state);
      log.push(`stop ${state}`);
    },
  };
  if (batching !== 'none') {
    kernel.switchDaemons = (steps) => {
      const run = () => {
        const { done } = memory.switchDaemons(steps);
        for (const step of steps)
          log.push(
            step.op === 'stop'
              ? `stop ${step.state}`
              : `start ${step.daemon.state} ${step.daemon.interface}/${step.daemon.syncId}`,
          );
        return done;
      };
      if (batching === 'sent') {
        const done = run();
        return { sent: true, done: later(() => done) };
      }
      return { sent: false, done: later(run) };
    };
  }
  let speaker: VrrpSpeaker | null = null;
  const follower = createVrrpFollower(config, {
    kernel: kernelOverride ?? (async () => kernel),
    setForwarding: async (ifname, family, on) => {
      log.push(`forwarding ${ifname} ${family} ${on ? 'on' : 'off'}`);
      return true;
    },
    currentState: (n) => followedState(speaker?.status() ?? null, n),
    logger: silent,
    timeoutMs: 1000,
  });
  const fakeNode = { name, primaries } as unknown as FakeNode;
  speaker = createVrrpSpeaker(config, {
    logger: silent,
    now: () => Date.now(),
    rtnetlink: rtnl,
    // Every link up (no tracked interfaces here): no real link monitor in a unit test.
    links: createFakeLinks(),
    openSocket: (options) => {
      const member = { node: fakeNode, options, closed: false };
      link.attach(member);
      return {
        send(payload, destination = '224.0.0.18') {
          if (member.closed) return new Error('closed');
          if (payload[2] === 0) log.push(`advert priority 0 ${options.ifname}`);
          link.deliver(member, options.ifname, {
            payload: Buffer.from(payload),
            source: primaries[options.ifname] ?? '0.0.0.0',
            destination,
            ttl: 255,
            ifindex: 2,
          });
          return undefined;
        },
        close() {
          member.closed = true;
        },
      };
    },
    // One entry for the burst on an interface (the members' bursts interleave round by round).
    announce: (ifname) => {
      const lastGarp = log.lastIndexOf(`garp ${ifname}`);
      const lastChange = Math.max(log.lastIndexOf(`vip+ ${ifname}`), log.lastIndexOf(`vip- ${ifname}`));
      if (lastGarp === -1 || lastGarp < lastChange) log.push(`garp ${ifname}`);
      return undefined;
    },
    runNotify: () => undefined,
    garp: { repeatCount: 0 },
    transitionHook: (change) => follower.onTransition(change),
  });
  return { log, speaker, follower, kernel, addresses };
}

/**
 * The log starts with exactly `first`; the rest is each VIP added and then announced (the members
 * of a group do their VIP work side by side, so only the order within an interface is fixed).
 */
function expectThenVips(
  log: readonly string[],
  first: readonly string[],
  ifnames: readonly string[],
  alongside: readonly string[] = [],
): void {
  expect(log.slice(0, first.length)).toEqual(first);
  // `alongside` (a takeover's stop of the backup daemon) goes on beside the VIP work, after `first`.
  const rest = log.slice(first.length).filter((e) => !alongside.includes(e));
  expect(log.slice(first.length).filter((e) => alongside.includes(e))).toEqual(alongside);
  expect([...rest].sort()).toEqual(ifnames.flatMap((i) => [`garp ${i}`, `vip+ ${i}`]).sort());
  for (const i of ifnames) expect(rest.indexOf(`vip+ ${i}`)).toBeLessThan(rest.indexOf(`garp ${i}`));
}

async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

const A = { eth0: '203.0.113.2', eth1: '198.51.100.2' };
const B = { eth0: '203.0.113.3', eth1: '198.51.100.3' };

describe('the director follows VRRP in DESIGN §6 order', () => {
  let link: FakeLink;
  const running: Node[] = [];

  beforeEach(() => {
    vi.useFakeTimers();
    link = createFakeLink();
  });
  afterEach(async () => {
    for (const node of running.splice(0)) await node.speaker.stop();
    vi.useRealTimers();
  });

  async function start(node: Node): Promise<Node> {
    await node.follower.start();
    await node.speaker.start();
    running.push(node);
    return node;
  }

  it('takeover: master sync daemon before the VIPs and the gratuitous ARP; demotion: VIPs gone before backup', async () => {
    const a = await start(createNode(link, 'a', A, configFrom(groupYaml(200))));
    const b = await start(createNode(link, 'b', B, configFrom(groupYaml(100))));
    await advance(5000);
    expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    // Nothing is master before the first election: backup first, then the switch, then the VIPs.
    expectThenVips(
      a.log,
      ['forwarding eth1 inet on', 'start backup eth2/51', 'start master eth2/51'],
      ['eth0', 'eth1'],
      ['stop backup'],
    );
    expect(b.log).toEqual(['forwarding eth1 inet on', 'start backup eth2/51']);
    expect(await a.kernel.daemons()).toEqual([{ state: 'master', interface: 'eth2', syncId: 51 }]);
    expect(a.follower.status()).toMatchObject({
      follow_state: 'MASTER',
      wanted: 'master',
      running: ['master'],
    });

    a.log.length = 0;
    b.log.length = 0;
    a.speaker.failover('VG1');
    await advance(3000);
    // The old master: both VIPs gone, then (and only then) the backup daemon.
    expect(a.log.filter((e) => !e.startsWith('advert'))).toEqual([
      'vip- eth0',
      'vip- eth1',
      'stop master',
      'start backup eth2/51',
    ]);
    // The new master: the mirror image.
    expectThenVips(b.log, ['start master eth2/51'], ['eth0', 'eth1'], ['stop backup']);
    expect(await b.kernel.daemons()).toEqual([{ state: 'master', interface: 'eth2', syncId: 51 }]);
    expect(await a.kernel.daemons()).toEqual([{ state: 'backup', interface: 'eth2', syncId: 51 }]);
  });

  for (const batching of ['sent', 'queued'] as const) {
    it(`takeover with batched kernel calls (${batching}): still the master daemon, then the VIPs, then the gratuitous ARP`, async () => {
      const a = await start(createNode(link, 'a', A, configFrom(groupYaml(200)), undefined, batching));
      const b = await start(createNode(link, 'b', B, configFrom(groupYaml(100)), undefined, batching));
      await advance(5000);
      expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
      expectThenVips(
        a.log,
        ['forwarding eth1 inet on', 'start backup eth2/51', 'start master eth2/51'],
        ['eth0', 'eth1'],
        ['stop backup'],
      );
      // Both members' VIPs went to the kernel together, before either was announced.
      expect(a.log.filter((e) => e !== 'stop backup').slice(3, 5)).toEqual(['vip+ eth0', 'vip+ eth1']);
      expect(a.follower.status()).toMatchObject({ running: ['master'], errors: 0, last_error: null });

      a.log.length = 0;
      b.log.length = 0;
      a.speaker.failover('VG1');
      await advance(3000);
      expect(a.log.filter((e) => !e.startsWith('advert'))).toEqual([
        'vip- eth0',
        'vip- eth1',
        'stop master',
        'start backup eth2/51',
      ]);
      expectThenVips(b.log, ['start master eth2/51'], ['eth0', 'eth1'], ['stop backup']);
      expect(await b.kernel.daemons()).toEqual([{ state: 'master', interface: 'eth2', syncId: 51 }]);
    });
  }

  it('a takeover sent inside the call waits for no reply: the VIPs are up while the switch is unanswered', async () => {
    const a = createNode(link, 'a', A, configFrom(groupYaml(200)), undefined, 'sent');
    await start(a);
    const switchDaemons = a.kernel.switchDaemons?.bind(a.kernel);
    let answer: () => void = () => undefined;
    // The kernel executes the steps at once; the reply is held back until the test lets it go.
    a.kernel.switchDaemons = (steps) => {
      const result = switchDaemons?.(steps);
      const gate = new Promise<void>((resolve) => {
        answer = resolve;
      });
      return { sent: true, done: gate.then(() => result?.done ?? []) };
    };
    for (let ms = 0; ms < 5000 && a.speaker.status().sync_groups[0]?.state !== 'MASTER'; ms += 10)
      await advance(10);
    expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    // Well within the follower's 1000 ms bound: nothing waited for the reply.
    await advance(10);
    // The backup daemon is stopped only once the master's start is answered.
    expectThenVips(
      a.log,
      ['forwarding eth1 inet on', 'start backup eth2/51', 'start master eth2/51'],
      ['eth0', 'eth1'],
    );
    // Not confirmed yet: the status does not claim the switch.
    expect(a.follower.status()).toMatchObject({ running: ['backup'], switches: 1 });
    answer();
    await advance(10);
    expect(a.log.at(-1)).toBe('stop backup');
    expect(a.follower.status()).toMatchObject({ running: ['backup'], switches: 1 });
    answer();
    await advance(10);
    expect(a.follower.status()).toMatchObject({ running: ['master'], switches: 2, errors: 0 });
  });

  it('a takeover plans from the daemons it started (no listing); a refused step is logged, counted and re-read', async () => {
    const a = createNode(link, 'a', A, configFrom(groupYaml(200)), undefined, 'sent');
    const lists: string[] = [];
    const listDaemons = a.kernel.daemons.bind(a.kernel);
    a.kernel.daemons = () => {
      lists.push('list');
      return listDaemons();
    };
    await start(a);
    expect(lists).toEqual(['list']);
    // Someone stops the backup daemon behind the follower's back: the takeover's stop is refused.
    await a.kernel.stopDaemon('backup');
    await advance(5000);
    expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    expect(lists).toEqual(['list']);
    expect(a.follower.status()).toMatchObject({ running: ['master'], errors: 1, wanted: 'master' });
    expect(a.follower.status()?.last_error).toMatch(/stop-daemon: no backup sync daemon \(ESRCH\)/);
    // The start still went out, and the VIPs came up.
    expect(await a.kernel.daemons()).toEqual([{ state: 'master', interface: 'eth2', syncId: 51 }]);
    expect(a.addresses.get('eth0')?.size).toBe(1);
    // The next switch reads the kernel again.
    lists.length = 0;
    await a.follower.resync();
    expect(lists).toEqual(['list']);
    expect(a.follower.status()).toMatchObject({ running: ['master'], last_error: null });
  });

  it('a followed instance (no group) switches the same way', async () => {
    const a = await start(createNode(link, 'a', A, configFrom(instanceYaml(200))));
    await advance(5000);
    // No virtual servers: every member's interface is the server side (forwarding on at start).
    expectThenVips(
      a.log,
      ['forwarding eth0 inet on', 'start backup eth0/7', 'start master eth0/7'],
      ['eth0'],
      ['stop backup'],
    );
    a.log.length = 0;
    await a.speaker.stop();
    running.splice(running.indexOf(a), 1);
    expect(a.log.filter((e) => !e.startsWith('advert'))).toEqual([
      'vip- eth0',
      'stop master',
      'start backup eth0/7',
    ]);
  });

  it('stop with on_stop: remove: forwarding off first, then priority 0 and VIPs, backup, services, no daemon', async () => {
    const a = await start(createNode(link, 'a', A, configFrom(groupYaml(200))));
    await advance(5000);
    a.log.length = 0;
    running.splice(running.indexOf(a), 1);
    await stopNode(
      {
        follower: a.follower,
        speaker: a.speaker,
        closeEndpoints: async () => {
          a.log.push('endpoints closed');
        },
        director: {
          async stop({ removeServices }) {
            a.log.push(`services ${removeServices ? 'removed' : 'kept'}`);
          },
        },
        logger: silent,
      },
      true,
    );
    expect(a.log).toEqual([
      // The server-side instance's interface: VI_server's VIP is the real servers' gateway.
      'forwarding eth1 inet off',
      'advert priority 0 eth0',
      'advert priority 0 eth1',
      'vip- eth0',
      'vip- eth1',
      'stop master',
      'start backup eth2/51',
      'endpoints closed',
      'services removed',
      'stop backup',
    ]);
    expect(await a.kernel.daemons()).toEqual([]);
  });

  it('stop with on_stop: keep leaves forwarding, services and the backup daemon for a restart', async () => {
    const a = await start(createNode(link, 'a', A, configFrom(groupYaml(200))));
    await advance(5000);
    a.log.length = 0;
    running.splice(running.indexOf(a), 1);
    await stopNode(
      {
        follower: a.follower,
        speaker: a.speaker,
        closeEndpoints: async () => undefined,
        director: {
          async stop({ removeServices }) {
            a.log.push(`services ${removeServices ? 'removed' : 'kept'}`);
          },
        },
        logger: silent,
      },
      false,
    );
    expect(a.log.filter((e) => !e.startsWith('advert'))).toEqual([
      'vip- eth0',
      'vip- eth1',
      'stop master',
      'start backup eth2/51',
      'services kept',
    ]);
    expect(await a.kernel.daemons()).toEqual([{ state: 'backup', interface: 'eth2', syncId: 51 }]);
  });

  it('no IPVS in the kernel: the VIPs still come up, the status shows the error', async () => {
    const noIpvs = async (): Promise<SyncDaemonKernel> => {
      throw new Error('the kernel has no IPVS (generic netlink family "IPVS" not found)');
    };
    const a = await start(createNode(link, 'a', A, configFrom(groupYaml(200)), noIpvs));
    await advance(5000);
    expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    expectThenVips(a.log, ['forwarding eth1 inet on'], ['eth0', 'eth1']);
    expect(a.follower.status()).toMatchObject({
      follow_state: 'MASTER',
      wanted: 'master',
      running: [],
      // start, the group's INIT -> BACKUP, its BACKUP -> MASTER: each one tried and failed.
      errors: 3,
      last_error: 'the kernel has no IPVS (generic netlink family "IPVS" not found)',
    });
  });

  it('a kernel that never answers holds the VIPs back only until the timeout', async () => {
    const hung = () => new Promise<SyncDaemonKernel>(() => undefined);
    const a = createNode(link, 'a', A, configFrom(groupYaml(200)), hung);
    void a.follower.start();
    await a.speaker.start();
    await advance(3500);
    expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    expect(a.log).toEqual(['forwarding eth1 inet on']);
    await advance(1000);
    expectThenVips(a.log, ['forwarding eth1 inet on'], ['eth0', 'eth1']);
    // The stop, too, waits for the kernel at most the timeout.
    const stopping = a.speaker.stop();
    await advance(1500);
    await stopping;
    expect(a.log.slice(-2).sort()).toEqual(['vip- eth0', 'vip- eth1']);
  });

  it('resync repairs a daemon stopped behind its back; a reload with another sync id restarts it', async () => {
    const a = await start(createNode(link, 'a', A, configFrom(groupYaml(200))));
    await advance(5000);
    await a.kernel.stopDaemon('master');
    a.log.length = 0;
    await a.follower.resync();
    expect(a.log).toEqual(['start master eth2/51']);
    a.log.length = 0;
    await a.follower.reload(configFrom(groupYaml(200).replace('sync_id: 51', 'sync_id: 52')));
    expect(a.log).toEqual(['forwarding eth1 inet on', 'stop master', 'start master eth2/52']);
    a.log.length = 0;
    await a.follower.reload(
      configFrom(
        groupYaml(200).replace('  sync_daemon: { interface: eth2, sync_id: 51, follow: VG1 }\n', ''),
      ),
    );
    expect(a.log).toEqual(['forwarding eth1 inet on', 'stop master']);
    expect(a.follower.status()).toBeNull();
  });
});
