/**
 * Debian's keepalived as the reference for issue 16's VRRP features: one keepalived.conf (use_vmac,
 * vrrp_mcast_group4, a VIP on eth1 with a label, an excluded address, a virtual route and rule)
 * is run by keepalived in namespace B and, converted by `ipvsctl convert`'s code, by ipvsd's
 * speaker in namespace A. Compared: what each master holds (addresses and where, the VMAC, the
 * route and the rule) and its adverts on the wire (source MAC, group, addresses carried). Then
 * both run together, ipvsd with the higher priority: keepalived must hear ipvsd through the
 * shared virtual MAC and group and stay BACKUP, and take over when ipvsd stops.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSourceFs } from '../../src/cli/convert.js';
import { convertKeepalived } from '../../src/config/keepalived/index.js';
import type { VrrpSpeakerStatus } from '../../src/vrrp/speaker.js';
import { createNetnsLab, type NetnsLab, type NodeAgent, type SpawnedProcess } from '../support/netns.js';
import { timeUntil } from '../support/wait.js';

const DRIVER = 'test/netns/drivers/vrrp-speaker.mjs';
const HAVE_KEEPALIVED = spawnSync('/usr/sbin/keepalived', ['--version']).status === 0;

function conf(priority: number): string {
  return `global_defs {
  router_id ref
  vrrp_mcast_group4 224.0.0.99
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 71
  priority ${priority}
  advert_int 1
  use_vmac
  virtual_ipaddress {
    203.0.113.100/24
    192.0.2.50/24 dev eth1 label eth1:vip
  }
  virtual_ipaddress_excluded {
    203.0.113.101/24
  }
  virtual_routes {
    192.0.2.128/26 dev eth1 table 100
  }
  virtual_rules {
    from 203.0.113.100 table 100 priority 1000
  }
}
`;
}

function trackConf(dir: string): string {
  return `track_file tf {
  file ${dir}/tf
  weight -60
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 72
  priority 200
  advert_int 1
  track_interface {
    trk0 weight -150
  }
  track_file {
    tf
  }
  virtual_ipaddress {
    203.0.113.110/24
  }
}
`;
}

describe.skipIf(!HAVE_KEEPALIVED)('keepalived and ipvsd with the same VRRP features', () => {
  let lab: NetnsLab;
  let nsA: string;
  let nsB: string;
  let dir: string;
  let agent: NodeAgent;

  async function held(ns: string): Promise<string[]> {
    const out: string[] = [];
    for (const ifname of ['eth0', 'eth1', 'vrrp.71']) {
      const r = await lab.exec(ns, 'ip', ['-j', 'addr', 'show', 'dev', ifname]);
      if (r.code !== 0) continue;
      for (const x of await lab.ipAddresses(ns, ifname)) {
        if (!/^(203\.0\.113\.10[01]|192\.0\.2\.50)$/.test(x.local)) continue;
        out.push(
          `${ifname} ${x.local}/${x.prefixlen}${x.label !== undefined && x.label !== ifname ? ` ${x.label}` : ''}`,
        );
      }
    }
    return out.sort();
  }
  async function extras(ns: string): Promise<string[]> {
    const routes = await lab.ipJson<{ dst: string; dev?: string; table?: string }[]>(ns, [
      'route',
      'show',
      'table',
      '100',
    ]);
    const rules = await lab.ipJson<{ priority: number; src?: string; table?: string }[]>(ns, [
      'rule',
      'show',
    ]);
    return [
      ...routes.filter((r) => r.dst === '192.0.2.128/26').map((r) => `route ${r.dst} dev ${r.dev}`),
      ...rules.filter((r) => r.priority === 1000).map((r) => `rule 1000 from ${r.src} lookup ${r.table}`),
    ];
  }
  async function vmac(ns: string): Promise<string | null> {
    const r = await lab.exec(ns, 'ip', ['-j', '-d', 'link', 'show', 'dev', 'vrrp.71']);
    if (r.code !== 0) return null;
    const [link] = JSON.parse(r.stdout) as {
      address: string;
      link: string;
      linkinfo: { info_kind: string; info_data: { mode: string } };
    }[];
    return `${link?.address} on ${link?.link} ${link?.linkinfo.info_kind} ${link?.linkinfo.info_data.mode}`;
  }
  /** Two adverts seen in `ns` on eth0, without the sender's own address. */
  async function adverts(ns: string): Promise<string> {
    const r = await lab.exec(ns, 'timeout', [
      '5',
      'tcpdump',
      '-i',
      'eth0',
      '-n',
      '-e',
      '-v',
      '-l',
      '-c',
      '1',
      '-p',
      'ip proto 112',
    ]);
    const m =
      /(\S+ > \S+), ethertype[\s\S]*?> (224\.0\.0\.\d+): (VRRPv\d), Advertisement, vrid (\d+), prio (\d+)[\s\S]*?addrs\(\d+\): (\S+)/.exec(
        r.stdout,
      );
    return m === null ? r.stdout : `${m[1]} → ${m[2]} ${m[3]} vrid ${m[4]} prio ${m[5]} ${m[6]}`;
  }

  function startKeepalived(ns: string, priority: number): SpawnedProcess {
    const file = join(dir, `keepalived-${priority}.conf`);
    writeFileSync(file, conf(priority));
    return lab.spawn(ns, '/usr/sbin/keepalived', [
      '--dont-fork',
      '--log-console',
      '--vrrp',
      '--use-file',
      file,
      '--pid',
      join(dir, `k${priority}.pid`),
      '--vrrp_pid',
      join(dir, `k${priority}-vrrp.pid`),
    ]);
  }

  function converted(priority: number): string {
    const file = join(dir, `convert-${priority}.conf`);
    writeFileSync(file, conf(priority));
    const result = convertKeepalived(file, nodeSourceFs);
    if (result.yaml === null) throw new Error(`not converted: ${JSON.stringify(result.diagnostics)}`);
    return result.yaml;
  }

  const ipvsdState = async () => (await agent.call<VrrpSpeakerStatus>('status')).instances[0]?.state;
  const waitFor = (what: string, predicate: () => Promise<boolean>, timeoutMs: number) =>
    timeUntil(what, predicate, { timeoutMs, intervalMs: 100 });

  beforeAll(async () => {
    lab = createNetnsLab();
    dir = await lab.tempDir('ipvsd-ka-ref-');
    nsA = await lab.namespace('karef-a');
    nsB = await lab.namespace('karef-b');
    await lab.veth(
      { ns: nsA, ifname: 'eth0', cidr: '203.0.113.2/24' },
      { ns: nsB, ifname: 'eth0', cidr: '203.0.113.3/24' },
    );
    await lab.veth(
      { ns: nsA, ifname: 'eth1', cidr: '198.51.100.2/24' },
      { ns: nsB, ifname: 'eth1', cidr: '198.51.100.3/24' },
    );
    agent = await lab.nodeAgent(nsA, DRIVER);
  });

  afterAll(async () => {
    await agent?.call('stop').catch(() => undefined);
    await lab?.cleanup();
  });

  it('alone, each master holds the same addresses, VMAC, route and rule, and sends the same adverts', async () => {
    const k = startKeepalived(nsB, 150);
    await waitFor('keepalived to hold its addresses', async () => (await held(nsB)).length === 3, 15_000);
    await waitFor('keepalived to add its route', async () => (await extras(nsB)).length === 2, 5000);
    const reference = {
      held: await held(nsB),
      vmac: await vmac(nsB),
      extras: await extras(nsB),
      adverts: await adverts(nsA),
    };
    await k.kill('SIGTERM');
    await waitFor('keepalived to leave', async () => (await held(nsB)).length === 0, 10_000);

    await agent.call('start', converted(150));
    await waitFor('ipvsd to become master', async () => (await ipvsdState()) === 'MASTER', 8000);
    await waitFor('ipvsd to hold its addresses', async () => (await held(nsA)).length === 3, 3000);
    const ours = {
      held: await held(nsA),
      vmac: await vmac(nsA),
      extras: await extras(nsA),
      adverts: await adverts(nsB),
    };
    expect(ours).toEqual(reference);
    expect(reference.vmac).toBe('00:00:5e:00:01:47 on eth0 macvlan private');
    expect(reference.adverts).toBe(
      '00:00:5e:00:01:47 > 01:00:5e:00:00:63 → 224.0.0.99 VRRPv2 vrid 71 prio 150 203.0.113.100,192.0.2.50',
    );
    await agent.call('stop');
  });

  it('weighted track_interface and track_file move the advertised priority the same way (vrrp_track.c, track_file.c)', async () => {
    await lab.veth({ ns: nsA, ifname: 'trk0' }, { ns: nsA, ifname: 'trk1' }).catch(() => undefined);
    await lab.veth({ ns: nsB, ifname: 'trk0' }, { ns: nsB, ifname: 'trk1' }).catch(() => undefined);
    /** The priority in the next advert seen by `observer` (0 within 4 s: none, as in FAULT). */
    const prio = async (observer: string): Promise<number> => {
      const r = await lab.exec(observer, 'timeout', [
        '3',
        'tcpdump',
        '-i',
        'eth0',
        '-n',
        '-v',
        '-l',
        '-c',
        '1',
        '-p',
        'ip proto 112',
      ]);
      return Number(/prio (\d+)/.exec(r.stdout)?.[1] ?? -1);
    };
    const steps = async (ns: string, observer: string): Promise<number[]> => {
      const out: number[] = [];
      const settle = () => new Promise((r) => setTimeout(r, 1500));
      writeFileSync(join(dir, 'tf'), '0\n');
      await settle();
      out.push(await prio(observer));
      await lab.execOk(ns, 'ip', ['link', 'set', 'trk0', 'down']);
      await settle();
      out.push(await prio(observer)); // 200 − 150
      await lab.execOk(ns, 'ip', ['link', 'set', 'trk0', 'up']);
      writeFileSync(join(dir, 'tf'), '2\n');
      await settle();
      out.push(await prio(observer)); // 200 + 2 × −60
      writeFileSync(join(dir, 'tf'), '-1\n');
      await settle();
      out.push(await prio(observer)); // 200 + 60 = 260 → 254 (keepalived's cap below the owner)
      writeFileSync(join(dir, 'tf'), '0\n');
      return out;
    };
    const file = join(dir, 'track.conf');
    writeFileSync(join(dir, 'tf'), '0\n');
    writeFileSync(file, trackConf(dir));
    const k = lab.spawn(nsB, '/usr/sbin/keepalived', [
      '--dont-fork',
      '--log-console',
      '--vrrp',
      '--use-file',
      file,
      '--pid',
      join(dir, 'kt.pid'),
      '--vrrp_pid',
      join(dir, 'kt-vrrp.pid'),
    ]);
    await k.waitForOutput(/Entering MASTER STATE/, 15_000);
    const reference = await steps(nsB, nsA);
    await k.kill('SIGTERM');
    const result = convertKeepalived(file, nodeSourceFs);
    if (result.yaml === null) throw new Error(`not converted: ${JSON.stringify(result.diagnostics)}`);
    await agent.call('start', result.yaml);
    await waitFor('ipvsd to become master', async () => (await ipvsdState()) === 'MASTER', 8000);
    const ours = await steps(nsA, nsB);
    await agent.call('stop');
    expect(reference).toEqual([200, 50, 80, 254]);
    expect(ours).toEqual(reference);
  });

  it('together: keepalived hears ipvsd through the shared VMAC and group, stays BACKUP, and takes over when ipvsd stops', async () => {
    await agent.call('start', converted(200));
    await waitFor('ipvsd to become master', async () => (await ipvsdState()) === 'MASTER', 8000);
    const k = startKeepalived(nsB, 100);
    await k.waitForOutput(/Entering BACKUP STATE/, 15_000);
    await new Promise((r) => setTimeout(r, 4000));
    expect(k.stdout() + k.stderr()).not.toMatch(/Entering MASTER STATE/);
    expect(await held(nsB)).toEqual([]);
    expect(await ipvsdState()).toBe('MASTER');
    await agent.call('stop');
    await k.waitForOutput(/Entering MASTER STATE/, 5000);
    await waitFor('keepalived to hold the addresses', async () => (await held(nsB)).length === 3, 5000);
    expect(readFileSync(join(dir, 'keepalived-100.conf'), 'utf8')).toContain('use_vmac');
    await k.kill('SIGTERM');
  });
});
