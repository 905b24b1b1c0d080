/**
 * Trackers and reload in the speaker, against the fakes of speaker-harness.ts (in-memory link,
 * fake rtnetlink, fake link states, scripted tracker results) with fake timers. Oracles:
 * status(), the VIPs the fake rtnetlink holds, and every VIP removal it saw.
 */
import { describe, expect, it, vi } from 'vitest';
import type { VrrpStateChange } from '../../../src/vrrp/speaker.js';
import {
  configFrom,
  createFakeLink,
  createFakeNode,
  type FakeLink,
  type FakeNode,
  fakeLinkPerTest,
  instanceYaml,
} from './speaker-harness.js';

const A = { eth0: '203.0.113.2', eth1: '198.51.100.2' };
const B = { eth0: '203.0.113.3', eth1: '198.51.100.3' };
const VIP0 = '203.0.113.100/24';
const VIP1 = '198.51.100.100/24';

async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

function state(node: FakeNode, name = 'VI_1'): string | undefined {
  return node.speaker.status().instances.find((i) => i.name === name)?.state;
}

function instance(name: string, priority: number, extra = ''): string {
  const second = name === 'VI_2';
  return instanceYaml({
    name,
    priority,
    vrid: second ? 52 : 51,
    iface: second ? 'eth1' : 'eth0',
    vip: second ? VIP1 : VIP0,
    extra,
  });
}

function groupYaml(priority: number, extra = '', scripts = ''): string {
  return `vrrp_instances:${instance('VI_1', priority, extra)}${instance('VI_2', priority)}
vrrp_sync_groups:
  VG1: { instances: [VI_1, VI_2] }
${scripts}`;
}

const SCRIPT = (weight: number, rise = 1, fall = 1) =>
  `vrrp_scripts:\n  chk: { script: /usr/local/bin/chk, interval: 1s, timeout: 1s, rise: ${rise}, fall: ${fall}, weight: ${weight} }\n`;

describe('VRRP trackers and reload', () => {
  let link: FakeLink;
  const started = fakeLinkPerTest((fresh) => {
    link = fresh;
  });

  async function start(node: FakeNode): Promise<FakeNode> {
    await node.speaker.start();
    started.push(node);
    return node;
  }

  it('a tracked interface going down takes the whole sync group to FAULT; the peer group takes over; back up → BACKUP, then preempts', async () => {
    const a = await start(createFakeNode(link, 'a', A, groupYaml(200, '    track_interfaces: [eth2]\n')));
    const b = await start(createFakeNode(link, 'b', B, groupYaml(100)));
    await advance(5000);
    expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    expect(a.links.watched()).toEqual(['eth0', 'eth1', 'eth2']);
    const changes: VrrpStateChange[] = [];
    a.speaker.onStateChange((c) => changes.push(c));

    a.links.set('eth2', false);
    await advance(0);
    expect(state(a, 'VI_1')).toBe('FAULT');
    expect(state(a, 'VI_2')).toBe('FAULT');
    expect(a.speaker.status().sync_groups[0]?.state).toBe('FAULT');
    // The member without the tracker is judged by it too (and carries the group's reason).
    for (const i of a.speaker.status().instances) {
      expect(i.faults).toEqual(['interface eth2', 'sync group VG1']);
    }
    expect(a.vips('eth0')).toEqual([]);
    expect(a.vips('eth1')).toEqual([]);
    expect(a.notified.filter((n) => n.state === 'FAULT')).toEqual([]); // no fault notify configured
    // The master sent priority 0 on entering FAULT: the peer takes over after its skew time.
    await advance(700);
    expect(b.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    expect(b.vips('eth0')).toEqual([VIP0]);
    expect(b.vips('eth1')).toEqual([VIP1]);

    a.links.set('eth2', true);
    await advance(0);
    expect(state(a, 'VI_1')).toBe('BACKUP');
    expect(state(a, 'VI_2')).toBe('BACKUP');
    expect(a.speaker.status().instances[1]?.faults).toEqual([]);
    // Higher priority with preempt: it discards b's adverts and takes the group back.
    await advance(4000);
    expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    expect(b.speaker.status().sync_groups[0]?.state).toBe('BACKUP');
    expect(changes.filter((c) => c.kind === 'group').map((c) => c.state)).toEqual([
      'FAULT',
      'BACKUP',
      'MASTER',
    ]);
  });

  it("the instance's own interface going down is a fault too, and an interface down at start starts in FAULT", async () => {
    const a = createFakeNode(link, 'a', A, `vrrp_instances:${instance('VI_1', 200)}`);
    a.links.set('eth0', false);
    await start(a);
    expect(state(a)).toBe('FAULT');
    a.links.set('eth0', true);
    await advance(0);
    expect(state(a)).toBe('BACKUP');
    await advance(4000);
    expect(state(a)).toBe('MASTER');
    a.links.set('eth0', false);
    await advance(0);
    expect(state(a)).toBe('FAULT');
    expect(a.vips()).toEqual([]);
  });

  it('a failing weighted script lowers the priority and the peer preempts; recovering raises it back', async () => {
    const extra = '    track_scripts: [chk]\n';
    const a = await start(
      createFakeNode(link, 'a', A, `vrrp_instances:${instance('VI_1', 200, extra)}\n${SCRIPT(-150, 2, 2)}`),
    );
    const b = await start(createFakeNode(link, 'b', B, `vrrp_instances:${instance('VI_1', 100)}`));
    await advance(5000);
    expect(state(a)).toBe('MASTER');
    expect(a.scriptRuns.length).toBeGreaterThanOrEqual(5);
    a.scriptResults.set('/usr/local/bin/chk', false);
    await advance(1000);
    // fall 2: one failure is not enough.
    expect(a.speaker.status().instances[0]?.priority).toBe(200);
    await advance(1000);
    expect(a.speaker.status().instances[0]).toMatchObject({
      priority: 50,
      base_priority: 200,
      state: 'MASTER',
    });
    // b discards the lower-priority adverts and takes over after its master-down interval.
    await advance(4000);
    expect(state(b)).toBe('MASTER');
    expect(state(a)).toBe('BACKUP');
    a.scriptResults.set('/usr/local/bin/chk', true);
    await advance(2000);
    expect(a.speaker.status().instances[0]?.priority).toBe(200);
    await advance(4000);
    expect(state(a)).toBe('MASTER');
    expect(state(b)).toBe('BACKUP');
  });

  it('a positive weight adds while the script succeeds; weight 0 is a fault while it fails', async () => {
    const plus = await start(
      createFakeNode(
        link,
        'plus',
        A,
        `vrrp_instances:${instance('VI_1', 100, '    track_scripts: [chk]\n')}\n${SCRIPT(25)}`,
      ),
    );
    await advance(100);
    expect(plus.speaker.status().instances[0]?.priority).toBe(125);
    plus.scriptResults.set('/usr/local/bin/chk', false);
    await advance(1000);
    expect(plus.speaker.status().instances[0]?.priority).toBe(100);

    const link2 = createFakeLink();
    const zero = await start(
      createFakeNode(
        link2,
        'zero',
        A,
        `vrrp_instances:${instance('VI_1', 100, '    track_scripts: [chk]\n')}\n${SCRIPT(0)}`,
      ),
    );
    await advance(5000);
    expect(state(zero)).toBe('MASTER');
    zero.scriptResults.set('/usr/local/bin/chk', false);
    await advance(1000);
    expect(zero.speaker.status().instances[0]).toMatchObject({ state: 'FAULT', faults: ['script chk'] });
    expect(zero.vips()).toEqual([]);
    zero.scriptResults.set('/usr/local/bin/chk', true);
    await advance(1000);
    expect(state(zero)).toBe('BACKUP');
  });

  it("a weighted script on one sync-group member moves every member's priority", async () => {
    const a = await start(
      createFakeNode(link, 'a', A, groupYaml(200, '    track_scripts: [chk]\n', SCRIPT(-150))),
    );
    const b = await start(createFakeNode(link, 'b', B, groupYaml(100)));
    await advance(5000);
    expect(a.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    a.scriptResults.set('/usr/local/bin/chk', false);
    await advance(1000);
    expect(a.speaker.status().instances.map((i) => i.priority)).toEqual([50, 50]);
    await advance(5000);
    expect(b.speaker.status().sync_groups[0]?.state).toBe('MASTER');
    expect(a.speaker.status().sync_groups[0]?.state).toBe('BACKUP');
    expect(b.vips('eth1')).toEqual([VIP1]);
  });

  it('reload: a priority change keeps the master without a VIP flap; new VIPs are added, removed ones go', async () => {
    const a = await start(createFakeNode(link, 'a', A, `vrrp_instances:${instance('VI_1', 200)}`));
    const b = await start(createFakeNode(link, 'b', B, `vrrp_instances:${instance('VI_1', 100)}`));
    await advance(5000);
    expect(state(a)).toBe('MASTER');
    const transitions = a.speaker.status().instances[0]?.transitions;
    const announced = a.announced.length;
    let vipGone = false;
    const watch = setInterval(() => {
      if (!a.vips().includes(VIP0)) vipGone = true;
    }, 1);

    await a.speaker.reload(configFrom(`vrrp_instances:${instance('VI_1', 150)}`));
    await advance(5000);
    expect(a.speaker.status().instances[0]).toMatchObject({ state: 'MASTER', priority: 150, transitions });
    expect(state(b)).toBe('BACKUP');

    const twoVips = instanceYaml({ name: 'VI_1', priority: 150, extra: '' }).replace(
      `["${VIP0}"]`,
      `["${VIP0}", "203.0.113.101/24"]`,
    );
    await a.speaker.reload(configFrom(`vrrp_instances:${twoVips}`));
    await advance(10);
    expect(a.vips()).toEqual([VIP0, '203.0.113.101/24']);
    expect(a.announced.length).toBeGreaterThan(announced);
    // The peer (old config) now drops our adverts (address list mismatch) — that is the
    // operator's to align; here we only check our side.
    await a.speaker.reload(configFrom(`vrrp_instances:${instance('VI_1', 150)}`));
    await advance(10);
    expect(a.vips()).toEqual([VIP0]);
    clearInterval(watch);
    expect(vipGone).toBe(false);
    expect(a.speaker.status().instances[0]?.transitions).toBe(transitions);
  });

  it('reload: a lower priority lets the peer preempt; removed instances stop; new ones start', async () => {
    const a = await start(createFakeNode(link, 'a', A, `vrrp_instances:${instance('VI_1', 200)}`));
    const b = await start(createFakeNode(link, 'b', B, `vrrp_instances:${instance('VI_1', 100)}`));
    await advance(5000);
    await a.speaker.reload(configFrom(`vrrp_instances:${instance('VI_1', 50)}`));
    await advance(5000);
    expect(state(b)).toBe('MASTER');
    expect(state(a)).toBe('BACKUP');

    // B: VI_1 removed, VI_2 added.
    await b.speaker.reload(configFrom(`vrrp_instances:${instance('VI_2', 100)}`));
    expect(b.vips('eth0')).toEqual([]);
    expect(b.speaker.status().instances.map((i) => [i.name, i.state])).toEqual([['VI_2', 'BACKUP']]);
    // A hears priority 0 and takes VI_1 after its skew time.
    await advance(1000);
    expect(state(a)).toBe('MASTER');
    await advance(4000);
    expect(state(b, 'VI_2')).toBe('MASTER');
    expect(b.vips('eth1')).toEqual([VIP1]);
  });

  it('reload: tracking changes apply at once; a script no longer tracked stops running', async () => {
    const a = await start(createFakeNode(link, 'a', A, `vrrp_instances:${instance('VI_1', 200)}`));
    await advance(5000);
    expect(state(a)).toBe('MASTER');
    a.links.set('eth3', false);
    await a.speaker.reload(
      configFrom(`vrrp_instances:${instance('VI_1', 200, '    track_interfaces: [eth3]\n')}`),
    );
    expect(state(a)).toBe('FAULT');
    await a.speaker.reload(
      configFrom(`vrrp_instances:${instance('VI_1', 200, '    track_scripts: [chk]\n')}\n${SCRIPT(-20)}`),
    );
    expect(state(a)).toBe('BACKUP');
    expect(a.links.watched()).toEqual(['eth0']);
    a.scriptResults.set('/usr/local/bin/chk', false);
    await advance(1000);
    expect(a.speaker.status().instances[0]?.priority).toBe(180);
    await a.speaker.reload(configFrom(`vrrp_instances:${instance('VI_1', 200)}`));
    expect(a.speaker.status().instances[0]?.priority).toBe(200);
    const runs = a.scriptRuns.length;
    await advance(5000);
    expect(a.scriptRuns.length).toBe(runs);
  });

  it('reload: a script whose interval changed keeps its verdict; a new command starts unknown', async () => {
    const tracked = `vrrp_instances:${instance('VI_1', 200, '    track_scripts: [chk]\n')}\n`;
    const a = await start(createFakeNode(link, 'a', A, `${tracked}${SCRIPT(-20)}`));
    a.scriptResults.set('/usr/local/bin/chk', false);
    await advance(1000);
    expect(a.speaker.status().instances[0]?.priority).toBe(180);
    await a.speaker.reload(configFrom(`${tracked}${SCRIPT(-20).replace('interval: 1s', 'interval: 2s')}`));
    expect(a.speaker.status().instances[0]?.priority).toBe(180);
    await a.speaker.reload(
      configFrom(`${tracked}${SCRIPT(-20).replace('/usr/local/bin/chk', '/usr/local/bin/chk2')}`),
    );
    // Not run yet under the new command: no weight applies until its first result.
    expect(a.speaker.status().instances[0]?.priority).toBe(200);
    await advance(10);
    expect(a.scriptRuns.at(-1)).toBe('/usr/local/bin/chk2');
  });

  it('an interface deleted and re-created: FAULT, then a new socket on the new device', async () => {
    const a = await start(createFakeNode(link, 'a', A, `vrrp_instances:${instance('VI_1', 200)}`));
    const b = await start(createFakeNode(link, 'b', B, `vrrp_instances:${instance('VI_1', 100)}`));
    await advance(5000);
    expect(state(a)).toBe('MASTER');
    const socketsBefore = link.members.filter((m) => m.node === a).length;
    a.links.set('eth0', false, null);
    await advance(0);
    expect(state(a)).toBe('FAULT');
    await advance(1000);
    expect(state(b)).toBe('MASTER');
    a.links.set('eth0', true, 7);
    await advance(0);
    expect(state(a)).toBe('BACKUP');
    expect(link.members.filter((m) => m.node === a)).toHaveLength(socketsBefore + 1);
    expect(link.members.filter((m) => m.node === a && !m.closed)).toHaveLength(1);
    // b steps down only if it hears a's adverts, i.e. through the new socket.
    await advance(5000);
    expect(state(a)).toBe('MASTER');
    expect(state(b)).toBe('BACKUP');
  });
});
