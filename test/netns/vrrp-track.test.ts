/**
 * Trackers and reload with two real speakers (src/vrrp/speaker.ts, compiled) in two namespaces
 * joined by two veths (eth0: the client side, eth1: the server side), each running the sync group
 * VG1 = {VI_1 on eth0, VI_2 on eth1}. A tracks `trk0` (one end of a veth pair inside A) (link state from the
 * kernel's RTNLGRP_LINK notifications) and a script whose result a flag file decides.
 * Oracles: `ip -n NS addr` for the VIPs, `ip monitor address` for flaps, the notify log, and the
 * speakers' status(). v2 at 1 s adverts: a master-down interval is ≈3.2–3.6 s.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VrrpSpeakerStatus } from '../../src/vrrp/speaker.js';
import { createNetnsLab, type NetnsLab, type NodeAgent } from '../support/netns.js';
import { sleep, timeUntil } from '../support/wait.js';

const DRIVER = 'test/netns/drivers/vrrp-speaker.mjs';
const VIP0 = '203.0.113.100';
const VIP1 = '198.51.100.100';

describe('VRRP trackers and reload between two namespaces', () => {
  let lab: NetnsLab;
  let nsA: string;
  let nsB: string;
  let a: NodeAgent;
  let b: NodeAgent;
  let dir: string;
  let flag: string;
  let notifyLog: string;

  function config(opts: { priority: number; track: boolean }): string {
    const track = opts.track
      ? `    track_interfaces: [trk0]\n    track_scripts: [chk]\n    notify: { fault: [${join(dir, 'notify.sh')}], master: [${join(dir, 'notify.sh')}] }\n`
      : '';
    const instance = (name: string, vrid: number, ifname: string, vip: string) => `
  ${name}:
    state: backup
    interface: ${ifname}
    virtual_router_id: ${vrid}
    priority: ${opts.priority}
    advert_int: 1s
    version: 2
    virtual_ipaddresses: ["${vip}/24"]
${name === 'VI_1' ? track : ''}`;
    return `
vrrp_scripts:
  chk: { script: [/usr/bin/test, "!", "-e", "${flag}"], interval: 1s, timeout: 1s, rise: 1, fall: 1, weight: -150 }
vrrp_instances:${instance('VI_1', 61, 'eth0', VIP0)}${instance('VI_2', 62, 'eth1', VIP1)}
vrrp_sync_groups:
  VG1: { instances: [VI_1, VI_2] }
`;
  }

  async function vips(ns: string): Promise<string[]> {
    const out: string[] = [];
    for (const ifname of ['eth0', 'eth1']) {
      for (const x of await lab.ipAddresses(ns, ifname)) {
        if (x.local === VIP0 || x.local === VIP1) out.push(x.local);
      }
    }
    return out.sort();
  }

  const waitFor = (what: string, predicate: () => Promise<boolean>, timeoutMs: number) =>
    timeUntil(what, predicate, { timeoutMs, intervalMs: 50 });

  const status = (agent: NodeAgent) => agent.call<VrrpSpeakerStatus>('status');
  const groupState = async (agent: NodeAgent) => (await status(agent)).sync_groups[0]?.state;
  const both = [VIP1, VIP0].sort();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ipvsd-vrrp-track-'));
    flag = join(dir, 'fail');
    notifyLog = join(dir, 'notify.log');
    writeFileSync(join(dir, 'notify.sh'), `#!/bin/sh\necho "$@" >> ${notifyLog}\n`);
    chmodSync(join(dir, 'notify.sh'), 0o755);
    lab = createNetnsLab();
    nsA = await lab.namespace('trk-a');
    nsB = await lab.namespace('trk-b');
    await lab.veth(
      { ns: nsA, ifname: 'eth0', cidr: '203.0.113.2/24' },
      { ns: nsB, ifname: 'eth0', cidr: '203.0.113.3/24' },
    );
    await lab.veth(
      { ns: nsA, ifname: 'eth1', cidr: '198.51.100.2/24' },
      { ns: nsB, ifname: 'eth1', cidr: '198.51.100.3/24' },
    );
    // The tracked link: a veth pair inside A (this kernel has no dummy driver).
    await lab.veth({ ns: nsA, ifname: 'trk0' }, { ns: nsA, ifname: 'trk1' });
    a = await lab.nodeAgent(nsA, DRIVER);
    b = await lab.nodeAgent(nsB, DRIVER);
    await b.call('start', config({ priority: 100, track: false }));
    await a.call('start', config({ priority: 200, track: true }));
    await waitFor('A to hold both VIPs', async () => (await vips(nsA)).length === 2, 8000);
    expect(await groupState(a)).toBe('MASTER');
  });

  afterAll(async () => {
    await a?.call('stop').catch(() => undefined);
    await b?.call('stop').catch(() => undefined);
    await lab?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('tracked interface down: the whole group goes to FAULT, both VIPs leave, the peer group takes both', async () => {
    await lab.execOk(nsA, 'ip', ['link', 'set', 'trk0', 'down']);
    await waitFor('A to drop both VIPs', async () => (await vips(nsA)).length === 0, 3000);
    const s = await status(a);
    expect(s.sync_groups[0]?.state).toBe('FAULT');
    expect(s.instances.map((i) => i.state)).toEqual(['FAULT', 'FAULT']);
    expect(s.instances[1]?.faults).toContain('interface trk0');
    // A sent priority 0 on the way out: B takes over after its skew time, well before 3 intervals.
    await waitFor('B to hold both VIPs', async () => (await vips(nsB)).length === 2, 3000);
    expect(await vips(nsB)).toEqual(both);
    expect(await groupState(b)).toBe('MASTER');
    await waitFor(
      'the fault notify',
      async () => existsSync(notifyLog) && readFileSync(notifyLog, 'utf8').includes('INSTANCE VI_1 FAULT'),
      3000,
    );
  });

  it('tracked interface back up: BACKUP, then the higher priority takes the group back', async () => {
    await lab.execOk(nsA, 'ip', ['link', 'set', 'trk0', 'up']);
    await waitFor('A to leave FAULT', async () => (await groupState(a)) === 'BACKUP', 3000);
    expect((await status(a)).instances.map((i) => i.state)).toEqual(['BACKUP', 'BACKUP']);
    expect(await vips(nsA)).toEqual([]);
    await waitFor('A to hold both VIPs again', async () => (await vips(nsA)).length === 2, 8000);
    await waitFor('B to drop both VIPs', async () => (await vips(nsB)).length === 0, 3000);
    expect(await groupState(a)).toBe('MASTER');
  });

  it('a failing weighted script lowers the group’s priority and the peer preempts; recovery takes it back', async () => {
    writeFileSync(flag, '');
    await waitFor(
      'the priority to drop',
      async () => (await status(a)).instances.every((i) => i.priority === 50),
      4000,
    );
    expect((await status(a)).instances.map((i) => i.base_priority)).toEqual([200, 200]);
    await waitFor('B to hold both VIPs', async () => (await vips(nsB)).length === 2, 8000);
    await waitFor('A to drop both VIPs', async () => (await vips(nsA)).length === 0, 3000);
    expect(await groupState(a)).toBe('BACKUP');
    rmSync(flag);
    await waitFor(
      'the priority to recover',
      async () => (await status(a)).instances.every((i) => i.priority === 200),
      4000,
    );
    await waitFor('A to hold both VIPs again', async () => (await vips(nsA)).length === 2, 8000);
    expect(await groupState(a)).toBe('MASTER');
  });

  it('reload with a new priority: no re-election, no VIP flap', async () => {
    const before = await status(a);
    const monitor = lab.spawn(nsA, 'ip', ['-o', 'monitor', 'address']);
    await sleep(300);
    const after = await a.call<VrrpSpeakerStatus>('reload', config({ priority: 180, track: true }));
    expect(after.instances.map((i) => i.priority)).toEqual([180, 180]);
    await sleep(3000);
    // The oracle sees deletions: one of our own, on the spare link, must show up.
    await lab.addAddress(nsA, 'trk1', '192.0.2.77/32');
    await lab.execOk(nsA, 'ip', ['addr', 'del', '192.0.2.77/32', 'dev', 'trk1']);
    await monitor.waitForOutput(/Deleted.*192\.0\.2\.77/, 5000);
    await monitor.kill();
    expect(monitor.stdout()).not.toMatch(/Deleted.*(203\.0\.113\.100|198\.51\.100\.100)/);
    const s = await status(a);
    expect(s.sync_groups[0]?.state).toBe('MASTER');
    expect(s.instances.map((i) => i.transitions)).toEqual(before.instances.map((i) => i.transitions));
    expect(await vips(nsA)).toEqual(both);
    expect(await groupState(b)).toBe('BACKUP');
  });

  it('reload below the peer’s priority: the peer preempts', async () => {
    await a.call('reload', config({ priority: 90, track: true }));
    await waitFor('B to hold both VIPs', async () => (await vips(nsB)).length === 2, 8000);
    await waitFor('A to drop both VIPs', async () => (await vips(nsA)).length === 0, 3000);
    expect(await groupState(a)).toBe('BACKUP');
  });
});
