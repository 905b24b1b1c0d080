/**
 * The VRRP speaker against fakes: two (or three) speakers on an in-memory link, with fake
 * timers. The oracles are status(), the fake rtnetlink's addresses and the recorded
 * announcements and notify calls.
 */
import { describe, expect, it, vi } from 'vitest';
import type { VrrpStateChange } from '../../../src/vrrp/speaker.js';
import { advertBytes } from '../../support/vrrp-advert.js';
import {
  createFakeLink,
  createFakeNode,
  type FakeLink,
  type FakeNode,
  fakeLinkPerTest,
  instanceYaml,
} from './speaker-harness.js';

const VIP = '203.0.113.100/24';
const A = '203.0.113.2';
const B = '203.0.113.3';

function yaml(...instances: string[]): string {
  return `vrrp_instances:${instances.join('')}`;
}

function state(node: FakeNode, name = 'VI_1'): string | undefined {
  return node.speaker.status().instances.find((i) => i.name === name)?.state;
}

async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

describe('VRRP speaker', () => {
  let link: FakeLink;
  const started = fakeLinkPerTest((fresh) => {
    link = fresh;
  });

  async function start(node: FakeNode): Promise<FakeNode> {
    await node.speaker.start();
    started.push(node);
    return node;
  }

  it('elects the higher priority; the master holds the VIP and announces it in two bursts', async () => {
    const a = await start(createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 200 }))));
    const b = await start(createFakeNode(link, 'b', { eth0: B }, yaml(instanceYaml({ priority: 100 }))));
    expect(state(a)).toBe('BACKUP');
    await advance(3000);
    expect(state(a)).toBe('BACKUP');
    // Master_Down_Interval for priority 200, v2: 3 s + 56/256 s.
    await advance(300);
    expect(state(a)).toBe('MASTER');
    expect(a.vips()).toEqual([VIP]);
    expect(a.announced).toHaveLength(5);
    await advance(10_000);
    expect(state(b)).toBe('BACKUP');
    expect(b.vips()).toEqual([]);
    expect(a.announced).toHaveLength(10);
    const sa = a.speaker.status().instances[0];
    const sb = b.speaker.status().instances[0];
    expect(sa).toMatchObject({ state: 'MASTER', priority: 200, master_address: A, transitions: 2 });
    expect(sb).toMatchObject({ state: 'BACKUP', priority: 100, master_address: A });
    expect(sb?.adverts.received).toBeGreaterThanOrEqual(10);
    expect(sa?.adverts.sent).toBeGreaterThanOrEqual(10);
    expect(a.notified.map((n) => [n.state, n.kind, n.name, n.priority])).toEqual([]);
  });

  it('runs notify scripts with kind, name, state and priority', async () => {
    const extra = '    notify: { master: [/bin/m], backup: [/bin/b, x] }\n';
    const a = await start(
      createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 200, extra }))),
    );
    await advance(4000);
    expect(a.notified.map((n) => [n.argv, n.kind, n.name, n.state, n.priority])).toEqual([
      [['/bin/b', 'x'], 'INSTANCE', 'VI_1', 'BACKUP', 200],
      [['/bin/m'], 'INSTANCE', 'VI_1', 'MASTER', 200],
    ]);
  });

  it("starts a master's notify script once its VIP is added and announced, not before", async () => {
    const extra = '    notify: { master: [/bin/m] }\n';
    const a = createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 200, extra })));
    const seen: { vips: string[]; announced: number }[] = [];
    const record = a.notified.push.bind(a.notified);
    a.notified.push = (...requests) => {
      seen.push({ vips: a.vips(), announced: a.announced.length });
      return record(...requests);
    };
    await start(a);
    await advance(4000);
    expect(state(a)).toBe('MASTER');
    expect(seen).toEqual([{ vips: [VIP], announced: 5 }]);
  });

  it('removes VIPs left by an earlier run before entering BACKUP', async () => {
    const a = await start(
      createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 100 })), {
        preexisting: { eth0: [VIP, '203.0.113.50/24'] },
      }),
    );
    expect(a.vips()).toEqual(['203.0.113.50/24']);
    expect(state(a)).toBe('BACKUP');
  });

  it('stop sends priority 0: the backup takes over after its skew time, not 3 intervals', async () => {
    const a = await start(createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 200 }))));
    const b = await start(createFakeNode(link, 'b', { eth0: B }, yaml(instanceYaml({ priority: 100 }))));
    await advance(5000);
    expect(state(a)).toBe('MASTER');
    await a.speaker.stop();
    started.splice(started.indexOf(a), 1);
    expect(a.vips()).toEqual([]);
    expect(state(a)).toBe('INIT');
    // Skew_Time for priority 100, v2: 156/256 s ≈ 610 ms.
    await advance(550);
    expect(state(b)).toBe('BACKUP');
    await advance(100);
    expect(state(b)).toBe('MASTER');
    expect(b.vips()).toEqual([VIP]);
  });

  it('a silent master is replaced after 3 intervals + skew', async () => {
    const a = await start(createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 200 }))));
    const b = await start(createFakeNode(link, 'b', { eth0: B }, yaml(instanceYaml({ priority: 100 }))));
    await advance(5000);
    // a became master at ≈3219 ms and advertises every second: the last one before the cut left
    // at ≈4219 ms, so b declares it down at ≈4219 + 3000 + 610 ms.
    link.setUp(false);
    await advance(2700);
    expect(state(b)).toBe('BACKUP');
    await advance(200);
    expect(state(b)).toBe('MASTER');
    // Link back: the higher-priority one keeps or takes the mastership, the other steps down.
    link.setUp(true);
    await advance(3000);
    expect(state(a)).toBe('MASTER');
    expect(state(b)).toBe('BACKUP');
    expect(b.vips()).toEqual([]);
  });

  it('preempt: a higher priority that comes later takes over; preempt: false does not', async () => {
    const b = await start(createFakeNode(link, 'b', { eth0: B }, yaml(instanceYaml({ priority: 100 }))));
    await advance(5000);
    expect(state(b)).toBe('MASTER');
    const a = await start(createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 200 }))));
    await advance(4000);
    expect(state(a)).toBe('MASTER');
    expect(state(b)).toBe('BACKUP');
    expect(b.vips()).toEqual([]);

    const link2 = createFakeLink();
    const d = createFakeNode(link2, 'd', { eth0: B }, yaml(instanceYaml({ priority: 100 })));
    await start(d);
    await advance(5000);
    const c = await start(
      createFakeNode(link2, 'c', { eth0: A }, yaml(instanceYaml({ priority: 200, preempt: false }))),
    );
    await advance(10_000);
    expect(state(c)).toBe('BACKUP');
    expect(state(d)).toBe('MASTER');
  });

  it('counts malformed adverts by reason and ignores them', async () => {
    const a = await start(createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 100 }))));
    const good = (priority: number, vip = '203.0.113.100') =>
      advertBytes(B, { version: 2, vrid: 51, priority, advertIntervalCs: 100, addresses: [vip] });
    const corrupt = Buffer.from(good(250));
    corrupt[2] = 251; // priority changed after the checksum: bad_checksum
    link.inject('eth0', corrupt, B);
    link.inject('eth0', good(250), B, { ttl: 64 });
    link.inject('eth0', good(250, '203.0.113.101'), B);
    link.inject('eth0', Buffer.from([0x21, 51, 0]), B);
    link.inject('eth0', good(250).subarray(0, 12), B);
    // Another VRID: not ours, not counted.
    const other = Buffer.from(good(250));
    other[1] = 52;
    link.inject('eth0', other, B);
    await advance(5000);
    const s = a.speaker.status().instances[0];
    expect(s?.adverts.dropped).toMatchObject({
      bad_checksum: 1,
      bad_ttl: 1,
      address_list_mismatch: 1,
      truncated: 2,
    });
    expect(s?.adverts.received).toBe(0);
    expect(s?.state).toBe('MASTER');
  });

  it('failover hands mastership to the peer, which keeps it', async () => {
    const a = await start(createFakeNode(link, 'a', { eth0: A }, yaml(instanceYaml({ priority: 200 }))));
    const b = await start(createFakeNode(link, 'b', { eth0: B }, yaml(instanceYaml({ priority: 100 }))));
    await advance(5000);
    a.speaker.failover('VI_1');
    expect(state(a)).toBe('BACKUP');
    await advance(1000);
    expect(state(b)).toBe('MASTER');
    await advance(10_000);
    expect(state(a)).toBe('BACKUP');
    expect(state(b)).toBe('MASTER');
    expect(() => a.speaker.failover('nope')).toThrow(/no VRRP instance or sync group named nope/);
  });

  it('a sync group moves together and reports group changes around its members', async () => {
    const group = (p: number) =>
      `${yaml(
        instanceYaml({ name: 'VI_client', priority: p, vrid: 51 }),
        instanceYaml({ name: 'VI_server', priority: p, vrid: 52, iface: 'eth1', vip: '198.51.100.1/24' }),
      )}vrrp_sync_groups:\n  VG1: { instances: [VI_client, VI_server] }\n`;
    const a = createFakeNode(link, 'a', { eth0: A, eth1: '198.51.100.2' }, group(200));
    const changes: VrrpStateChange[] = [];
    a.speaker.onStateChange((c) => changes.push(c));
    await start(a);
    const b = await start(createFakeNode(link, 'b', { eth0: B, eth1: '198.51.100.3' }, group(100)));
    await advance(5000);
    expect(a.speaker.status().sync_groups).toEqual([{ name: 'VG1', state: 'MASTER' }]);
    expect(b.speaker.status().sync_groups).toEqual([{ name: 'VG1', state: 'BACKUP' }]);
    expect(a.vips('eth1')).toEqual(['198.51.100.1/24']);
    const toMaster = changes.findIndex((c) => c.kind === 'group' && c.state === 'MASTER');
    const memberMaster = changes.findIndex((c) => c.kind === 'instance' && c.state === 'MASTER');
    expect(toMaster).toBeGreaterThan(-1);
    expect(toMaster).toBeLessThan(memberMaster);

    a.speaker.failover('VG1');
    await advance(2000);
    expect(a.speaker.status().sync_groups).toEqual([{ name: 'VG1', state: 'BACKUP' }]);
    expect(b.speaker.status().sync_groups).toEqual([{ name: 'VG1', state: 'MASTER' }]);
    expect(b.vips('eth0')).toEqual([VIP]);
    expect(b.vips('eth1')).toEqual(['198.51.100.1/24']);
    expect(a.vips('eth1')).toEqual([]);
  });
});
