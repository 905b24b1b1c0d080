/**
 * The VRRP features keepalived configs bring along (issue 16), with two real speakers
 * (src/vrrp/speaker.ts, compiled) in two namespaces joined by eth0 and eth1: A (priority 200)
 * and B (100) run the same instance VI_1 (in sync group VG1) with
 * - a VIP on eth0's VMAC (use_vmac: macvlan vrrp.71, MAC 00:00:5e:00:01:47, made over rtnetlink),
 * - a VIP on another interface (`{address, dev: eth1, label}`) and an excluded address,
 * - adverts to a configured multicast group (224.0.0.99, keepalived's vrrp_mcast_group4),
 * - a route and a policy rule that only the master holds (virtual_routes / virtual_rules),
 * - a weighted tracked interface (trk0, weight −150) and a track file (weight −60),
 * - notify scripts: master and the generic `notify` (any) on the instance and the group.
 * Oracles: `ip -j` for addresses, links, routes and rules; tcpdump on B's eth0 for the adverts
 * (MAC, group, addresses carried); the notify log.
 * keepalived semantics cited per test; v2 at 1 s adverts (a master-down interval is ≈3.2–3.6 s).
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VrrpSpeakerStatus } from '../../src/vrrp/speaker.js';
import { createNetnsLab, type NetnsLab, type NodeAgent } from '../support/netns.js';
import { sleep, timeUntil } from '../support/wait.js';

const DRIVER = 'test/netns/drivers/vrrp-speaker.mjs';
const VIP = '203.0.113.100';
const DEV_VIP = '192.0.2.50';
const EXCLUDED = '203.0.113.101';
const VMAC = 'vrrp.71';

describe('keepalived VRRP features between two namespaces', () => {
  let lab: NetnsLab;
  let nsA: string;
  let nsB: string;
  let a: NodeAgent;
  let b: NodeAgent;
  let dir: string;
  let notifyLog: string;

  function config(who: 'a' | 'b', priority: number): string {
    const notify = join(dir, 'notify.sh');
    return `
vrrp_track_files:
  tf: { file: ${join(dir, `tf-${who}`)}, weight: -60 }
vrrp_instances:
  VI_1:
    interface: eth0
    virtual_router_id: 71
    priority: ${priority}
    advert_int: 1s
    version: 2
    use_vmac: true
    mcast_group: 224.0.0.99
    virtual_ipaddresses: ["${VIP}/24", { address: "${DEV_VIP}/24", dev: eth1, label: "eth1:vip" }]
    virtual_ipaddresses_excluded: ["${EXCLUDED}/24"]
    track_interfaces: [{ interface: trk0, weight: -150 }]
    track_files: [tf]
    virtual_routes:
      - { to: 192.0.2.128/26, dev: eth1, table: 100 }
      - { to: 192.0.2.192/26, type: blackhole }
    virtual_rules:
      - { from: ${VIP}/32, table: 100, priority: 1000 }
    notify: { master: [${notify}, master-${who}], any: [${notify}, any-${who}], stop: [${notify}, stop-${who}] }
vrrp_sync_groups:
  VG1: { instances: [VI_1], notify: { any: [${notify}, group-${who}] } }
`;
  }

  const addressesOf = async (ns: string, ifname: string) =>
    (await lab.ipAddresses(ns, ifname)).map(
      (x) => `${x.local}${x.label !== undefined && x.label !== ifname ? ` ${x.label}` : ''}`,
    );
  const held = async (ns: string) => {
    const out: string[] = [];
    for (const ifname of ['eth0', 'eth1', VMAC]) {
      const r = await lab.exec(ns, 'ip', ['-j', 'addr', 'show', 'dev', ifname]);
      if (r.code !== 0) continue;
      for (const a of await addressesOf(ns, ifname))
        if ([VIP, DEV_VIP, EXCLUDED].some((x) => a.startsWith(`${x}`))) out.push(`${ifname} ${a}`);
    }
    return out.sort();
  };
  const status = (agent: NodeAgent) => agent.call<VrrpSpeakerStatus>('status');
  const state = async (agent: NodeAgent) => (await status(agent)).instances[0]?.state;
  const waitFor = (what: string, predicate: () => Promise<boolean>, timeoutMs: number) =>
    timeUntil(what, predicate, { timeoutMs, intervalMs: 50 });
  const routes = async (ns: string) =>
    (
      await lab.ipJson<{ dst: string; type?: string; dev?: string; table?: string }[]>(ns, [
        'route',
        'show',
        'table',
        'all',
      ])
    )
      .filter((r) => r.dst === '192.0.2.128/26' || r.dst === '192.0.2.192/26')
      .map(
        (r) =>
          `${r.type ?? 'unicast'} ${r.dst}${r.dev !== undefined ? ` dev ${r.dev}` : ''}${r.table !== undefined ? ` table ${r.table}` : ''}`,
      )
      .sort();
  const rules = async (ns: string) =>
    (
      await lab.ipJson<{ priority: number; src?: string; srclen?: number; table?: string }[]>(ns, [
        'rule',
        'show',
      ])
    )
      .filter((r) => r.priority === 1000)
      .map(
        (r) => `${r.priority} from ${r.src}${r.srclen !== undefined ? `/${r.srclen}` : ''} lookup ${r.table}`,
      );
  const masterRoutes = ['blackhole 192.0.2.192/26', 'unicast 192.0.2.128/26 dev eth1 table 100'];

  beforeAll(async () => {
    lab = createNetnsLab();
    dir = await lab.tempDir('ipvsd-vrrp-kaf-');
    notifyLog = join(dir, 'notify.log');
    writeFileSync(join(dir, 'notify.sh'), `#!/bin/sh\necho "$@" >> ${notifyLog}\n`);
    chmodSync(join(dir, 'notify.sh'), 0o755);
    nsA = await lab.namespace('kaf-a');
    nsB = await lab.namespace('kaf-b');
    await lab.veth(
      { ns: nsA, ifname: 'eth0', cidr: '203.0.113.2/24' },
      { ns: nsB, ifname: 'eth0', cidr: '203.0.113.3/24' },
    );
    await lab.veth(
      { ns: nsA, ifname: 'eth1', cidr: '198.51.100.2/24' },
      { ns: nsB, ifname: 'eth1', cidr: '198.51.100.3/24' },
    );
    await lab.veth({ ns: nsA, ifname: 'trk0' }, { ns: nsA, ifname: 'trk1' });
    await lab.veth({ ns: nsB, ifname: 'trk0' }, { ns: nsB, ifname: 'trk1' });
    a = await lab.nodeAgent(nsA, DRIVER);
    b = await lab.nodeAgent(nsB, DRIVER);
    await b.call('start', config('b', 100));
    await a.call('start', config('a', 200));
    await waitFor('A to become master', async () => (await state(a)) === 'MASTER', 8000);
    await waitFor('A to hold its addresses', async () => (await held(nsA)).length === 3, 3000);
  });

  afterAll(async () => {
    await a?.call('stop').catch(() => undefined);
    await b?.call('stop').catch(() => undefined);
    await lab?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('use_vmac: a private macvlan vrrp.71 on eth0 with 00:00:5e:00:01:47 holds the VIPs (keepalived vrrp_vmac.c netlink_link_add_vmac)', async () => {
    const [link] = await lab.ipJson<
      { address: string; link: string; linkinfo?: { info_kind: string; info_data?: { mode: string } } }[]
    >(nsA, ['-d', 'link', 'show', 'dev', VMAC]);
    expect(link?.address).toBe('00:00:5e:00:01:47');
    expect(link?.link).toBe('eth0');
    expect(link?.linkinfo?.info_kind).toBe('macvlan');
    expect(link?.linkinfo?.info_data?.mode).toBe('private');
    // The VIP and the excluded address on the VMAC, the `dev` one on eth1 with its label.
    expect(await held(nsA)).toEqual(
      [`${VMAC} ${VIP}`, `${VMAC} ${EXCLUDED}`, `eth1 ${DEV_VIP} eth1:vip`].sort(),
    );
    expect(await held(nsB)).toEqual([]);
  });

  it('adverts go to 224.0.0.99 from the virtual MAC and carry the VIPs but not the excluded address', async () => {
    // keepalived vrrp.c vrrp_build_vrrp_v2: only vrrp->vip goes into the advert, never evip.
    const capture = await lab.exec(nsB, 'timeout', [
      '4',
      'tcpdump',
      '-i',
      'eth0',
      '-n',
      '-e',
      '-v',
      '-l',
      '-c',
      '2',
      '-p',
      'ip proto 112',
    ]);
    const text = capture.stdout;
    expect(text).toMatch(/00:00:5e:00:01:47 > 01:00:5e:00:00:63/);
    expect(text).toMatch(/203\.0\.113\.2 > 224\.0\.0\.99: VRRPv2/);
    expect(text).toMatch(/vrid 71, prio 200/);
    expect(text).toMatch(/addrs\(2\): 203\.0\.113\.100,192\.0\.2\.50/);
    expect(text).not.toContain(EXCLUDED);
    // The native socket joined the configured group on the VMAC, and not the RFC's.
    const maddr = await lab.execOk(nsB, 'ip', ['maddr', 'show', 'dev', VMAC]);
    expect(maddr).toContain('224.0.0.99');
    expect(maddr).not.toContain('224.0.0.18');
  });

  it('virtual routes and rules: present on the master only (keepalived vrrp_iproute.c / vrrp_iprule.c)', async () => {
    expect(await routes(nsA)).toEqual(masterRoutes);
    expect(await rules(nsA)).toEqual([`1000 from ${VIP} lookup 100`]); // ip prints a /32 without its length
    expect(await routes(nsB)).toEqual([]);
    expect(await rules(nsB)).toEqual([]);
  });

  it('notify: the state script, then the generic one with INSTANCE NAME STATE PRIORITY; the group with GROUP NAME STATE 0 (vrrp_notify.c)', async () => {
    await waitFor(
      'the notify lines',
      async () => readFileSync(notifyLog, 'utf8').includes('any-a INSTANCE VI_1 MASTER 200'),
      3000,
    );
    const lines = readFileSync(notifyLog, 'utf8').trim().split('\n');
    const aLines = lines.filter((l) => l.endsWith(' MASTER 200') || l.startsWith('group-a'));
    expect(aLines).toContain('master-a INSTANCE VI_1 MASTER 200');
    expect(aLines).toContain('any-a INSTANCE VI_1 MASTER 200');
    expect(lines).toContain('group-a GROUP VG1 MASTER 0');
    expect(lines).toContain('group-b GROUP VG1 BACKUP 0');
  });

  it('weighted track_interface: trk0 down lowers the priority by 150 and B takes over with the routes; up again, A takes back', async () => {
    await lab.execOk(nsA, 'ip', ['link', 'set', 'trk0', 'down']);
    await waitFor('priority 50', async () => (await status(a)).instances[0]?.priority === 50, 3000);
    expect((await status(a)).instances[0]?.faults).toEqual([]);
    await waitFor('B master', async () => (await state(b)) === 'MASTER', 8000);
    await waitFor('B holds the addresses', async () => (await held(nsB)).length === 3, 3000);
    await waitFor('A dropped them', async () => (await held(nsA)).length === 0, 3000);
    expect(await routes(nsB)).toEqual(masterRoutes);
    await waitFor('A without the routes', async () => (await routes(nsA)).length === 0, 3000);
    expect(await rules(nsA)).toEqual([]);
    await lab.execOk(nsA, 'ip', ['link', 'set', 'trk0', 'up']);
    await waitFor('A master again', async () => (await state(a)) === 'MASTER', 8000);
    await waitFor('A holds the addresses again', async () => (await held(nsA)).length === 3, 3000);
  });

  it('track_file: value × weight moves the priority, and ≤ −254 is FAULT (keepalived track_file.c process_update_vrrp_track_file_status)', async () => {
    writeFileSync(join(dir, 'tf-a'), '2\n');
    await waitFor('priority 80', async () => (await status(a)).instances[0]?.priority === 80, 3000);
    await waitFor('B master', async () => (await state(b)) === 'MASTER', 8000);
    writeFileSync(join(dir, 'tf-a'), '0x5\n'); // strtol base 0: 5 × −60 = −300 → FAULT
    await waitFor('A in FAULT', async () => (await state(a)) === 'FAULT', 3000);
    expect((await status(a)).instances[0]?.faults).toContain('file tf');
    rmSync(join(dir, 'tf-a')); // a deleted file counts as 0
    await waitFor('A master again', async () => (await state(a)) === 'MASTER', 8000);
    expect((await status(a)).instances[0]?.priority).toBe(200);
  });

  it('stop: the VMAC is deleted, and notify stop and the generic notify run with STOP', async () => {
    await a.call('stop');
    await waitFor('B master', async () => (await state(b)) === 'MASTER', 5000);
    const r = await lab.exec(nsA, 'ip', ['link', 'show', 'dev', VMAC]);
    expect(r.code).not.toBe(0);
    await waitFor(
      'the stop notify',
      async () => readFileSync(notifyLog, 'utf8').includes('stop-a INSTANCE VI_1 STOP'),
      3000,
    );
    const lines = readFileSync(notifyLog, 'utf8');
    expect(lines).toMatch(/any-a INSTANCE VI_1 STOP \d+/);
    expect(lines).toContain('group-a GROUP VG1 STOP 0');
    expect(await routes(nsA)).toEqual([]);
    await sleep(100);
  });
});

describe('dont_track_primary between two namespaces', () => {
  let lab: NetnsLab;
  let nsA: string;
  let a: NodeAgent;

  const cfg = (dontTrack: boolean) => `
vrrp_instances:
  VI_1:
    interface: eth0
    virtual_router_id: 72
    priority: 200
    advert_int: 1s
    virtual_ipaddresses: ["${VIP}/24"]
${dontTrack ? '    dont_track_primary: true\n' : ''}`;

  beforeAll(async () => {
    lab = createNetnsLab();
    nsA = await lab.namespace('dtp-a');
    const nsB = await lab.namespace('dtp-b');
    await lab.veth(
      { ns: nsA, ifname: 'eth0', cidr: '203.0.113.2/24' },
      { ns: nsB, ifname: 'eth0', cidr: '203.0.113.3/24' },
    );
    a = await lab.nodeAgent(nsA, DRIVER);
  });

  afterAll(async () => {
    await a?.call('stop').catch(() => undefined);
    await lab?.cleanup();
  });

  it('without it, the interface going down is FAULT; with it, the instance stays MASTER (vrrp_track.c: VRRP_NOT_TRACK_IF)', async () => {
    const st = async () => (await a.call<VrrpSpeakerStatus>('status')).instances[0]?.state;
    for (const dontTrack of [false, true]) {
      await a.call('start', cfg(dontTrack));
      await timeUntil('master', async () => (await st()) === 'MASTER', { timeoutMs: 6000, intervalMs: 50 });
      await lab.execOk(nsA, 'ip', ['link', 'set', 'eth0', 'down']);
      await sleep(1500);
      expect(await st()).toBe(dontTrack ? 'MASTER' : 'FAULT');
      await lab.execOk(nsA, 'ip', ['link', 'set', 'eth0', 'up']);
      await a.call('stop');
    }
  });
});
