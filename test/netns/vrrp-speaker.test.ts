/**
 * Two VRRP speakers (src/vrrp/speaker.ts, compiled) in two namespaces joined by a veth, with the
 * real raw sockets, rtnetlink and gratuitous ARP. Oracles: `ip -n NS addr` for the VIP,
 * `ip -n NS neigh` for the announcement, the speakers' status() for states and drop counters.
 * Timings: v2 with 1 s adverts, so Master_Down_Interval is 3 s + skew (priority 200: ≈3.22 s,
 * priority 100: ≈3.61 s) and the skew after a priority-0 advert ≈0.61 s for priority 100.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VrrpSpeakerStatus } from '../../src/vrrp/speaker.js';
import { createNetnsLab, type NetnsLab, type NodeAgent } from '../support/netns.js';
import { sleep, timeUntil } from '../support/wait.js';

const DRIVER = 'test/netns/drivers/vrrp-speaker.mjs';
const SOCKET_DRIVER = 'test/netns/drivers/vrrp-socket.mjs';
const A4 = '203.0.113.2';
const B4 = '203.0.113.3';
const VIP = '203.0.113.100';
const STALE_MAC = '02:00:5e:00:00:99';

function config(priority: number, preempt = true): string {
  return `
vrrp_instances:
  VI_1:
    state: backup
    interface: eth0
    virtual_router_id: 51
    priority: ${priority}
    advert_int: 1s
    version: 2
    preempt: ${preempt}
    authentication: { type: pass, password: "secret" }
    virtual_ipaddresses: ["${VIP}/24"]
`;
}

/** A v2 advert for VRID 51 with a broken checksum (bytes after the header as the socket sends them). */
const BAD_CHECKSUM_ADVERT = '2133fa0101010000cb0071647365637265740000';

describe('VRRP speakers between two namespaces', () => {
  let lab: NetnsLab;
  let nsA: string;
  let nsB: string;
  let a: NodeAgent;
  let b: NodeAgent;
  let macA: string;
  let macB: string;

  async function hasVip(ns: string): Promise<boolean> {
    const addrs = await lab.ipAddresses(ns, 'eth0');
    return addrs.some((x) => x.local === VIP);
  }

  /** The ms it took: the takeover tests bound it. */
  const waitFor = (what: string, predicate: () => Promise<boolean>, timeoutMs: number) =>
    timeUntil(what, predicate, { timeoutMs, intervalMs: 25 });

  const state = async (agent: NodeAgent) =>
    (await agent.call<VrrpSpeakerStatus>('status')).instances[0]?.state ?? 'none';

  async function neighbourMac(ns: string, address: string): Promise<string | undefined> {
    const entries = await lab.ipJson<{ dst: string; lladdr?: string }[]>(ns, [
      'neigh',
      'show',
      address,
      'dev',
      'eth0',
    ]);
    return entries.find((e) => e.dst === address)?.lladdr;
  }

  async function mac(ns: string): Promise<string> {
    const [link] = await lab.ipJson<{ address: string }[]>(ns, ['link', 'show', 'dev', 'eth0']);
    return link?.address ?? '';
  }

  beforeAll(async () => {
    lab = createNetnsLab();
    nsA = await lab.namespace('spk-a');
    nsB = await lab.namespace('spk-b');
    await lab.veth(
      { ns: nsA, ifname: 'eth0', cidr: `${A4}/24` },
      { ns: nsB, ifname: 'eth0', cidr: `${B4}/24` },
    );
    macA = await mac(nsA);
    macB = await mac(nsB);
    a = await lab.nodeAgent(nsA, DRIVER);
    b = await lab.nodeAgent(nsB, DRIVER);
  });

  afterAll(async () => {
    await lab?.cleanup();
  });

  it('elects the higher priority: it holds the VIP, and its gratuitous ARP updates the peer', async () => {
    // An existing neighbour entry with another MAC: the gratuitous ARP must update it
    // (without arp_accept, Linux only updates entries, never creates them).
    await lab.execOk(nsB, 'ip', [
      'neigh',
      'replace',
      VIP,
      'lladdr',
      STALE_MAC,
      'dev',
      'eth0',
      'nud',
      'stale',
    ]);
    await b.call('start', config(100));
    await a.call('start', config(200));
    await waitFor('A to become MASTER', async () => (await state(a)) === 'MASTER', 6000);
    expect(await hasVip(nsA)).toBe(true);
    await sleep(1500);
    expect(await state(b)).toBe('BACKUP');
    expect(await hasVip(nsB)).toBe(false);
    const sb = (await b.call<VrrpSpeakerStatus>('status')).instances[0];
    expect(sb).toMatchObject({ state: 'BACKUP', priority: 100, master_address: A4 });
    expect(sb?.adverts.received).toBeGreaterThan(0);
    expect(await neighbourMac(nsB, VIP)).toBe(macA);
  });

  it('counts a malformed advert under its drop reason', async () => {
    const sender = await lab.nodeAgent(nsB, SOCKET_DRIVER);
    try {
      await sender.call('open', 'bad', { family: 'inet', ifname: 'eth0' });
      await sender.call('open', 'lowttl', { family: 'inet', ifname: 'eth0', hopLimit: 64 });
      expect(await sender.call('send', 'bad', BAD_CHECKSUM_ADVERT)).toBeNull();
      expect(await sender.call('send', 'lowttl', BAD_CHECKSUM_ADVERT)).toBeNull();
      await waitFor(
        'the drops to be counted',
        async () => {
          const s = (await a.call<VrrpSpeakerStatus>('status')).instances[0];
          return (s?.adverts.dropped.bad_checksum ?? 0) >= 1 && (s?.adverts.dropped.bad_ttl ?? 0) >= 1;
        },
        2000,
      );
      expect(await state(a)).toBe('MASTER');
    } finally {
      await sender.close();
    }
  });

  it('a stopping master sends priority 0: the backup takes the VIP within about a second', async () => {
    await lab.execOk(nsA, 'sysctl', ['-q', '-w', 'net.ipv4.conf.eth0.arp_accept=1']);
    await a.call('stop');
    expect(await hasVip(nsA)).toBe(false);
    const took = await waitFor('B to hold the VIP', () => hasVip(nsB), 3000);
    expect(took).toBeLessThan(1200);
    expect(await state(b)).toBe('MASTER');
    await waitFor(
      'A to learn B’s MAC for the VIP',
      async () => (await neighbourMac(nsA, VIP)) === macB,
      2000,
    );
  });

  it('preempt: the higher priority coming back takes the VIP back', async () => {
    await a.call('start', config(200));
    const took = await waitFor('A to hold the VIP', () => hasVip(nsA), 6000);
    expect(took).toBeGreaterThan(2500);
    await waitFor('B to drop the VIP', async () => !(await hasVip(nsB)), 1000);
    expect(await state(b)).toBe('BACKUP');
  });

  it('kill -9 of the master: the backup takes over after 3 intervals + skew', async () => {
    await a.process.kill('SIGKILL');
    const killedAt = Date.now();
    // The VIP stays behind in A's namespace (nobody removed it).
    expect(await hasVip(nsA)).toBe(true);
    await waitFor('B to hold the VIP', () => hasVip(nsB), 6000);
    const gap = Date.now() - killedAt;
    expect(gap).toBeGreaterThan(2500);
    expect(gap).toBeLessThan(4800);
    expect(await state(b)).toBe('MASTER');
  });

  it('a restarted speaker removes the VIP left behind, then preempts again', async () => {
    a = await lab.nodeAgent(nsA, DRIVER);
    await a.call('start', config(200));
    expect(await state(a)).toBe('BACKUP');
    expect(await hasVip(nsA)).toBe(false);
    await waitFor('A to hold the VIP', () => hasVip(nsA), 6000);
    await waitFor('B to drop the VIP', async () => !(await hasVip(nsB)), 1000);
  });

  it('preempt: false: the higher priority coming back stays BACKUP', async () => {
    await a.call('stop');
    await waitFor('B to hold the VIP', () => hasVip(nsB), 3000);
    await a.call('start', config(200, false));
    await sleep(5000);
    expect(await state(a)).toBe('BACKUP');
    expect(await hasVip(nsA)).toBe(false);
    expect(await state(b)).toBe('MASTER');
    expect(await hasVip(nsB)).toBe(true);
  });

  it('failover hands the mastership over at once', async () => {
    await b.call('failover', 'VI_1');
    expect(await state(b)).toBe('BACKUP');
    await waitFor('A to hold the VIP', () => hasVip(nsA), 2000);
    await sleep(3000);
    expect(await state(b)).toBe('BACKUP');
    expect(await hasVip(nsB)).toBe(false);
    await a.call('stop');
    await b.call('stop');
  });
});
