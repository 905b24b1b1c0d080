/**
 * The speaker's side of issue 16 against fakes (speaker-harness.ts): notify scripts in
 * keepalived's order (vrrp_notify.c send_instance_notifies: the state's own script, then the
 * generic `notify`; send_group_notifies: the same for a group with priority 0; notify_shutdown:
 * STOP for every instance and group), and where the addresses go (excluded ones and `dev` ones
 * with the VIPs, vrrp_ipaddress.c).
 */
import { describe, expect, it, vi } from 'vitest';
import {
  createFakeNode,
  type FakeLink,
  type FakeNode,
  fakeLinkPerTest,
  instanceYaml,
} from './speaker-harness.js';

const A = '203.0.113.2';

describe('VRRP speaker: keepalived features', () => {
  let link: FakeLink;
  const started = fakeLinkPerTest((fresh) => {
    link = fresh;
  });
  async function start(node: FakeNode): Promise<FakeNode> {
    await node.speaker.start();
    started.push(node);
    return node;
  }

  it('runs the state script, then the generic one; the group the same with GROUP and 0; STOP on stop', async () => {
    const extra = '    notify: { master: [/bin/m], stop: [/bin/s], any: [/bin/any] }\n';
    const yaml = `vrrp_instances:${instanceYaml({ priority: 200, extra })}vrrp_sync_groups:\n  VG1: { instances: [VI_1], notify: { master: [/bin/gm], any: [/bin/gany] } }\n`;
    const a = await start(createFakeNode(link, 'a', { eth0: A }, yaml));
    await vi.advanceTimersByTimeAsync(4000);
    const calls = () =>
      a.notified.map((n) => `${n.argv.join(' ')} ${n.kind} ${n.name} ${n.state} ${n.priority}`);
    expect(calls()).toEqual([
      '/bin/any INSTANCE VI_1 BACKUP 200',
      '/bin/gany GROUP VG1 BACKUP 0',
      // The members' scripts, then the group's (each pair: own, then generic).
      '/bin/m INSTANCE VI_1 MASTER 200',
      '/bin/any INSTANCE VI_1 MASTER 200',
      '/bin/gm GROUP VG1 MASTER 0',
      '/bin/gany GROUP VG1 MASTER 0',
    ]);
    a.notified.length = 0;
    await a.speaker.stop();
    started.length = 0;
    expect(calls()).toEqual([
      '/bin/s INSTANCE VI_1 STOP 200',
      '/bin/any INSTANCE VI_1 STOP 200',
      '/bin/gany GROUP VG1 STOP 0',
    ]);
  });

  it('adds the excluded addresses and the dev ones with the VIPs, and removes them with them', async () => {
    const extra = '    virtual_ipaddresses_excluded: ["203.0.113.101/24"]\n' + '    track_interfaces: []\n';
    const yaml = `vrrp_instances:${instanceYaml({ priority: 200, extra }).replace(
      '["203.0.113.100/24"]',
      '["203.0.113.100/24", {address: 192.0.2.50/24, dev: eth1}]',
    )}`;
    const a = await start(createFakeNode(link, 'a', { eth0: A, eth1: '198.51.100.2' }, yaml));
    await vi.advanceTimersByTimeAsync(4000);
    expect(a.vips('eth0')).toEqual(['203.0.113.100/24', '203.0.113.101/24']);
    expect(a.vips('eth1')).toEqual(['192.0.2.50/24']);
    expect(a.announced.filter((x) => x.address === '192.0.2.50').every((x) => x.ifname === 'eth1')).toBe(
      true,
    );
    a.speaker.failover('VI_1');
    await vi.advanceTimersByTimeAsync(100);
    expect(a.vips('eth0')).toEqual([]);
    expect(a.vips('eth1')).toEqual([]);
  });
});
