/**
 * The native VRRP socket and address announcements (src/sys/vrrp-socket.ts, src/sys/garp.ts)
 * against the real kernel: two namespaces joined by a veth, our compiled code in each through
 * node agents, and the peer's neighbour table (`ip neigh`) as the oracle for announcements.
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VrrpPacket } from '../../src/sys/vrrp-socket.js';
import { createNetnsLab, type NetnsLab, type NodeAgent } from '../support/netns.js';
import { sleep } from '../support/wait.js';

const DRIVER = 'test/netns/drivers/vrrp-socket.mjs';
const A4 = '203.0.113.2';
const B4 = '203.0.113.3';
const B4_SECONDARY = '203.0.113.4';
const A6 = '2001:db8::2';
const B6 = '2001:db8::3';
// A VRRP v2 advert's bytes, and a v3 one; the socket does not look inside.
const ADVERT_V2 = '21336401aabb0000cb0071640000000000000000';
const ADVERT_V3 = '31336400000a0000200100db000000000000000000000100';
const OTHER_MAC = '02:00:5e:00:00:99';

interface Packet extends Omit<VrrpPacket, 'payload'> {
  readonly payload: string;
}
interface Stamp {
  /** The kernel's receive time (wall-clock ms), null when the packet carried none. */
  readonly receivedAt: number | null;
  /** Date.now() in the receiving agent when onPacket ran. */
  readonly readAt: number;
}
interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly errno?: number;
  readonly syscall?: string;
  readonly cause?: string;
}
interface NeighbourEntry {
  readonly dst: string;
  readonly lladdr?: string;
  readonly state?: string[];
  readonly router?: null;
}

describe('VRRP raw sockets and address announcements between two namespaces', () => {
  let lab: NetnsLab;
  let nsA: string;
  let nsB: string;
  let a: NodeAgent;
  let b: NodeAgent;
  let ifindexA: number;
  let macA: string;
  let linkLocalA: string;
  let linkLocalB: string;

  async function linkLocal(ns: string): Promise<string> {
    // accept_dad=0 makes the link-local address usable at once; wait for it all the same.
    for (let i = 0; i < 100; i++) {
      const addrs = await lab.ipAddresses(ns, 'eth0');
      const ll = addrs.find((x) => x.family === 'inet6' && x.scope === 'link' && x.tentative !== true);
      if (ll !== undefined) return ll.local;
      await sleep(50);
    }
    throw new Error(`no usable link-local address on eth0 in ${ns}`);
  }

  async function neighbour(ns: string, address: string): Promise<NeighbourEntry | undefined> {
    const entries = await lab.ipJson<NeighbourEntry[]>(ns, ['neigh', 'show', address, 'dev', 'eth0']);
    return entries.find((e) => e.dst === address);
  }

  /** Seeds a stale entry for `address` pointing at `lladdr`, as a peer that talked to another box has. */
  async function staleNeighbour(ns: string, address: string, lladdr: string): Promise<void> {
    await lab.execOk(ns, 'ip', [
      'neigh',
      'replace',
      address,
      'lladdr',
      lladdr,
      'dev',
      'eth0',
      'nud',
      'stale',
    ]);
    expect((await neighbour(ns, address))?.lladdr).toBe(lladdr);
  }

  async function waitForNeighbour(
    ns: string,
    address: string,
    lladdr: string,
  ): Promise<NeighbourEntry | undefined> {
    let entry: NeighbourEntry | undefined;
    for (let i = 0; i < 50; i++) {
      entry = await neighbour(ns, address);
      if (entry?.lladdr === lladdr) return entry;
      await sleep(40);
    }
    return entry;
  }

  const sysctl = (ns: string, setting: string) => lab.execOk(ns, 'sysctl', ['-q', '-w', setting]);

  /**
   * Sends `count` adverts from B's socket and checks that A's socket delivered each with a kernel
   * receive time: a wall-clock time after the send began and not after JavaScript read it (both
   * agents and this process share the host's CLOCK_REALTIME). Sanity bounds only, no timing:
   * 5 ms of slack for Date.now()'s truncation to whole milliseconds.
   */
  async function expectStamped(from: string, to: string, count: number, destination?: string) {
    await a.call('takePackets', to);
    await a.call('takeStamps', to);
    const before = Date.now();
    for (let i = 0; i < count; i++) expect(await b.call('send', from, ADVERT_V2, destination)).toBeNull();
    expect(await a.call<Packet[]>('takePackets', to, count)).toHaveLength(count);
    const after = Date.now();
    const stamps = await a.call<Stamp[]>('takeStamps', to);
    expect(stamps).toHaveLength(count);
    for (const { receivedAt, readAt } of stamps) {
      expect(typeof receivedAt).toBe('number');
      expect(receivedAt).toBeGreaterThanOrEqual(before - 5);
      expect(receivedAt).toBeLessThanOrEqual(readAt + 5);
      expect(readAt).toBeLessThanOrEqual(after + 5);
    }
    // In arrival order.
    const times = stamps.map((x) => x.receivedAt ?? 0);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  }

  beforeAll(async () => {
    lab = createNetnsLab();
    nsA = await lab.namespace('vrrp-a');
    nsB = await lab.namespace('vrrp-b');
    for (const ns of [nsA, nsB]) {
      await sysctl(ns, 'net.ipv6.conf.default.accept_dad=0');
      await sysctl(ns, 'net.ipv6.conf.all.accept_dad=0');
    }
    await lab.veth(
      { ns: nsA, ifname: 'eth0', cidr: `${A4}/24` },
      { ns: nsB, ifname: 'eth0', cidr: `${B4}/24` },
    );
    await lab.addAddress(nsB, 'eth0', `${B4_SECONDARY}/24`);
    await lab.addAddress(nsA, 'eth0', `${A6}/64`);
    await lab.addAddress(nsB, 'eth0', `${B6}/64`);
    const [link] = await lab.ipJson<{ ifindex: number; address: string }[]>(nsA, [
      'link',
      'show',
      'dev',
      'eth0',
    ]);
    ifindexA = link?.ifindex ?? -1;
    macA = link?.address ?? '';
    linkLocalA = await linkLocal(nsA);
    linkLocalB = await linkLocal(nsB);
    a = await lab.nodeAgent(nsA, DRIVER);
    b = await lab.nodeAgent(nsB, DRIVER);
  });

  afterAll(async () => {
    await lab?.cleanup();
  });

  describe('IPv4', () => {
    beforeAll(async () => {
      await a.call('open', 'a4', { family: 'inet', ifname: 'eth0' });
      await b.call('open', 'b4', { family: 'inet', ifname: 'eth0' });
    });

    it('opens bound to the interface, with the VRRP group as default destination', async () => {
      const opened = await a.call('open', 'a4-probe', { family: 'inet', ifname: 'eth0' });
      expect(opened).toEqual({ ifindex: ifindexA, group: '224.0.0.18', family: 'inet' });
      await a.call('closeSocket', 'a4-probe');
    });

    it('receives a multicast advert with payload, source, destination, TTL 255 and interface', async () => {
      expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
      const got = await a.call<Packet[]>('takePackets', 'a4', 1);
      expect(got).toEqual([
        { payload: ADVERT_V2, source: B4, destination: '224.0.0.18', ttl: 255, ifindex: ifindexA },
      ]);
      // Multicast loop is off: the sender does not hear itself.
      expect(await b.call<Packet[]>('takePackets', 'b4', 1, 300)).toEqual([]);
    });

    it('receives a unicast advert (unicast peers)', async () => {
      expect(await b.call('send', 'b4', ADVERT_V2, A4)).toBeNull();
      expect(await a.call<Packet[]>('takePackets', 'a4', 1)).toEqual([
        { payload: ADVERT_V2, source: B4, destination: A4, ttl: 255, ifindex: ifindexA },
      ]);
    });

    it('sends from a pinned source address, multicast and unicast', async () => {
      await b.call('open', 'b4-src', { family: 'inet', ifname: 'eth0', sourceAddress: B4_SECONDARY });
      expect(await b.call('send', 'b4-src', ADVERT_V3)).toBeNull();
      expect(await b.call('send', 'b4-src', ADVERT_V3, A4)).toBeNull();
      const got = await a.call<Packet[]>('takePackets', 'a4', 2);
      expect(got.map((p) => [p.source, p.destination, p.ttl])).toEqual([
        [B4_SECONDARY, '224.0.0.18', 255],
        [B4_SECONDARY, A4, 255],
      ]);
      await b.call('closeSocket', 'b4-src');
    });

    it('returns a send from a source that is not local as an errno-bearing value', async () => {
      await b.call('open', 'b4-bad', { family: 'inet', ifname: 'eth0', sourceAddress: '198.51.100.7' });
      const error = await b.call<SerializedError | null>('send', 'b4-bad', ADVERT_V2);
      // The route lookup refuses a source no interface holds (measured: ENETUNREACH on 6.18).
      expect(error).toMatchObject({ syscall: 'sendmsg', code: 'ENETUNREACH', errno: 101 });
      await b.call('closeSocket', 'b4-bad');
    });

    it('delivers an advert sent with TTL 64 with its TTL, so the codec can drop it', async () => {
      await b.call('open', 'b4-ttl', { family: 'inet', ifname: 'eth0', hopLimit: 64 });
      expect(await b.call('send', 'b4-ttl', ADVERT_V2)).toBeNull();
      expect(await b.call('send', 'b4-ttl', ADVERT_V2, A4)).toBeNull();
      const got = await a.call<Packet[]>('takePackets', 'a4', 2);
      expect(got.map((p) => [p.destination, p.ttl])).toEqual([
        ['224.0.0.18', 64],
        [A4, 64],
      ]);
      await b.call('closeSocket', 'b4-ttl');
    });

    it('delivers the kernel receive time of each advert (SO_TIMESTAMPNS), multicast and unicast', async () => {
      await expectStamped('b4', 'a4', 3);
      await expectStamped('b4', 'a4', 2, A4);
    });

    it('receivePending() delivers a queued advert while the event loop is blocked', async () => {
      await a.call('takePackets', 'a4');
      const flag = join(tmpdir(), `ipvsd-rxtime-drain-${process.pid}`);
      rmSync(flag, { force: true });
      try {
        const drained = a.call<number>('drainWhileBlocked', 'a4', flag);
        for (let i = 0; i < 500 && !existsSync(flag); i++) await sleep(20);
        expect(existsSync(flag)).toBe(true);
        // A's loop is blocked now: only receivePending() can read this one.
        expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
        expect(await drained).toBe(1);
        expect(await a.call<Packet[]>('takePackets', 'a4')).toEqual([
          { payload: ADVERT_V2, source: B4, destination: '224.0.0.18', ttl: 255, ifindex: ifindexA },
        ]);
      } finally {
        rmSync(flag, { force: true });
      }
    });

    it('counts what the kernel dropped on a full receive queue (SO_RXQ_OVFL)', async () => {
      await a.call('takePackets', 'a4');
      expect(await a.call<number>('drops', 'a4')).toBe(0);
      const flag = join(tmpdir(), `ipvsd-rxq-ovfl-${process.pid}`);
      rmSync(flag, { force: true });
      let sent = 0;
      try {
        // Long enough for the flood to be sent on a loaded machine while nothing reads.
        const blocked = a.call('blockFor', 4000, flag);
        for (let i = 0; i < 500 && !existsSync(flag); i++) await sleep(20);
        expect(existsSync(flag)).toBe(true);
        // Far more than the default receive buffer holds, while nothing reads it.
        sent = (await b.call<{ sent: number }>('flood', 'b4', ADVERT_V2, 5000)).sent;
        await blocked;
      } finally {
        rmSync(flag, { force: true });
      }
      // The count travels with each packet queued after the drops: one more to carry it.
      expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
      await sleep(200);
      const received = (await a.call<Packet[]>('takePackets', 'a4')).length;
      const drops = await a.call<number>('drops', 'a4');
      expect(drops).toBeGreaterThan(0);
      expect(sent).toBeGreaterThan(1000);
      expect(received + drops).toBeLessThanOrEqual(sent + 1);
      expect(received).toBeGreaterThan(0);
    });

    it('fails to open on a missing interface with ENODEV', async () => {
      await expect(a.call('open', 'nope', { family: 'inet', ifname: 'nope0' })).rejects.toMatchObject({
        code: 'ENODEV',
        errno: 19,
      });
    });
  });

  describe('IPv6', () => {
    beforeAll(async () => {
      await a.call('open', 'a6', { family: 'inet6', ifname: 'eth0' });
      await b.call('open', 'b6', { family: 'inet6', ifname: 'eth0' });
    });

    it('receives a multicast advert to ff02::12 from the link-local source with hop limit 255', async () => {
      expect(await b.call('send', 'b6', ADVERT_V3)).toBeNull();
      expect(await a.call<Packet[]>('takePackets', 'a6', 1)).toEqual([
        { payload: ADVERT_V3, source: linkLocalB, destination: 'ff02::12', ttl: 255, ifindex: ifindexA },
      ]);
      expect(await b.call<Packet[]>('takePackets', 'b6', 1, 300)).toEqual([]);
    });

    it('receives unicast adverts to a global and to a link-local address', async () => {
      expect(await b.call('send', 'b6', ADVERT_V3, A6)).toBeNull();
      expect(await b.call('send', 'b6', ADVERT_V3, linkLocalA)).toBeNull();
      const got = await a.call<Packet[]>('takePackets', 'a6', 2);
      expect(got).toEqual([
        { payload: ADVERT_V3, source: B6, destination: A6, ttl: 255, ifindex: ifindexA },
        { payload: ADVERT_V3, source: linkLocalB, destination: linkLocalA, ttl: 255, ifindex: ifindexA },
      ]);
    });

    it('sends from a pinned source and delivers a lowered hop limit as is', async () => {
      await b.call('open', 'b6-low', { family: 'inet6', ifname: 'eth0', sourceAddress: B6, hopLimit: 1 });
      expect(await b.call('send', 'b6-low', ADVERT_V3)).toBeNull();
      expect(await a.call<Packet[]>('takePackets', 'a6', 1)).toEqual([
        { payload: ADVERT_V3, source: B6, destination: 'ff02::12', ttl: 1, ifindex: ifindexA },
      ]);
      await b.call('closeSocket', 'b6-low');
    });

    it('delivers the kernel receive time of each advert, multicast and unicast', async () => {
      await expectStamped('b6', 'a6', 3);
      await expectStamped('b6', 'a6', 2, A6);
    });

    it('leaves the checksum alone (no IPV6_CHECKSUM): the bytes arrive as sent', async () => {
      const odd = 'deadbeef00';
      expect(await b.call('send', 'b6', odd)).toBeNull();
      expect((await a.call<Packet[]>('takePackets', 'a6', 1)).map((p) => p.payload)).toEqual([odd]);
    });
  });

  describe('closing and throwing callbacks', () => {
    it('stops delivery once closed, while a socket still open keeps receiving', async () => {
      await a.call('open', 'a4-closing', { family: 'inet', ifname: 'eth0' });
      await a.call('open', 'a4-control', { family: 'inet', ifname: 'eth0' });
      expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
      expect(await a.call<Packet[]>('takePackets', 'a4-closing', 1)).toHaveLength(1);
      expect(await a.call<Packet[]>('takePackets', 'a4-control', 1)).toHaveLength(1);

      await a.call('closeSocket', 'a4-closing');
      expect(await a.call('isClosed', 'a4-closing')).toBe(true);
      expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
      expect(await a.call<Packet[]>('takePackets', 'a4-control', 1)).toHaveLength(1);
      expect(await a.call<Packet[]>('takePackets', 'a4-closing', 1, 300)).toEqual([]);
      // Closing twice is fine; sending on a closed socket is an error value.
      await a.call('closeSocket', 'a4-closing');
      expect(await a.call('send', 'a4-closing', ADVERT_V2)).toMatchObject({ code: 'IPVSD_ERR_INTERNAL' });
      await a.call('closeSocket', 'a4-control');
      await a.call('takePackets', 'a4');
    });

    it('turns a throwing onPacket into an onError call and keeps receiving', async () => {
      await a.call('setThrowing', 'a4', true, true);
      expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
      expect(await b.call('send', 'b4', ADVERT_V3)).toBeNull();
      expect(await a.call<Packet[]>('takePackets', 'a4', 2)).toHaveLength(2);
      const errors = await a.call<SerializedError[]>('errors', 'a4');
      expect(errors).toHaveLength(2);
      expect(errors[0]).toMatchObject({ code: 'IPVSD_ERR_INTERNAL', cause: 'onPacket threw on purpose' });
      await a.call('setThrowing', 'a4', false, false);
      expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
      expect(await a.call<Packet[]>('takePackets', 'a4', 1)).toHaveLength(1);
      expect(a.process.exitStatus()).toBeNull();
    });

    it('survives JavaScript exceptions thrown straight into the addon (no TypeScript guard)', async () => {
      const pid = await a.call<number>('$pid');
      await a.call('openNativeThrowing', 'a4-raw', 4, 'eth0');
      for (let i = 0; i < 3; i++) expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
      expect(await a.call<Packet[]>('takePackets', 'a4-raw', 3)).toHaveLength(3);
      // Each onPacket exception reached onError (which threw too, and was dropped).
      const errors = await a.call<SerializedError[]>('errors', 'a4-raw');
      expect(errors.map((e) => e.message)).toEqual(Array(3).fill('native onPacket threw on purpose'));
      expect(await a.call<number>('$pid')).toBe(pid);
      expect(a.process.exitStatus()).toBeNull();
      expect(a.process.stderr()).not.toMatch(/threw on purpose/);
      await a.call('closeSocket', 'a4-raw');
      await a.call('takePackets', 'a4');
    });

    it('survives a worker thread terminated with sockets open and packets arriving', async () => {
      // The libuv close callback must run before the addon is unloaded with the worker (it
      // crashed with SIGSEGV before the async cleanup hook), and nothing may throw into a dying
      // environment (node-addon-api aborts then).
      await b.call('open', 'b4-flood', { family: 'inet', ifname: 'eth0' });
      const flood = setInterval(() => void b.call('send', 'b4-flood', ADVERT_V2).catch(() => {}), 2);
      try {
        for (const lingerMs of [0, 5, 50, 200]) {
          const result = await a.call<{ received: number; exitCode: number }>(
            'terminateWorkerWithOpenSockets',
            'eth0',
            lingerMs,
          );
          expect(result.exitCode).toBe(1);
          if (lingerMs === 200) expect(result.received).toBeGreaterThan(0);
        }
      } finally {
        clearInterval(flood);
      }
      expect(a.process.exitStatus()).toBeNull();
      expect(await b.call('send', 'b4', ADVERT_V2)).toBeNull();
      await a.call('takePackets', 'a4', 1);
      await b.call('closeSocket', 'b4-flood');
    });
  });

  describe('gratuitous ARP', () => {
    it('moves an existing neighbour entry to our MAC (default arp_accept=0)', async () => {
      const vip = '203.0.113.101';
      await staleNeighbour(nsB, vip, OTHER_MAC);
      expect(await a.call('gratuitousArp', 'eth0', vip)).toBeNull();
      expect((await waitForNeighbour(nsB, vip, macA))?.lladdr).toBe(macA);
    });

    it('creates the entry in a peer with arp_accept=1', async () => {
      const vip = '203.0.113.100';
      await sysctl(nsB, 'net.ipv4.conf.eth0.arp_accept=1');
      expect(await neighbour(nsB, vip)).toBeUndefined();
      expect(await a.call('announce', 'eth0', vip)).toBeNull();
      expect((await waitForNeighbour(nsB, vip, macA))?.lladdr).toBe(macA);
    });

    it('returns errors as values: wrong family, missing interface, non-Ethernet link', async () => {
      expect(await a.call('gratuitousArp', 'eth0', A6)).toMatchObject({ code: 'IPVSD_ERR_USAGE' });
      expect(await a.call('gratuitousArp', 'nope0', '203.0.113.100')).toMatchObject({ code: 'ENODEV' });
      expect(await a.call('gratuitousArp', 'lo', '203.0.113.100')).toMatchObject({
        code: 'ENOTSUP',
        errno: 95,
      });
    });
  });

  describe('unsolicited neighbour advertisement', () => {
    it('overrides an existing neighbour entry with our MAC', async () => {
      const vip = '2001:db8::101';
      await staleNeighbour(nsB, vip, OTHER_MAC);
      expect(await a.call('unsolicitedNa', 'eth0', vip)).toBeNull();
      const entry = await waitForNeighbour(nsB, vip, macA);
      expect(entry?.lladdr).toBe(macA);
      expect(entry?.router).toBeUndefined();
    });

    it('creates the entry on a router peer that accepts untracked adverts, with the Router flag', async () => {
      const vip = '2001:db8::100';
      // RFC 9131 (Linux ≥ 5.19): only routers create entries from unsolicited adverts.
      await sysctl(nsB, 'net.ipv6.conf.eth0.forwarding=1');
      await sysctl(nsB, 'net.ipv6.conf.eth0.drop_unsolicited_na=0');
      await sysctl(nsB, 'net.ipv6.conf.eth0.accept_untracked_na=1');
      expect(await neighbour(nsB, vip)).toBeUndefined();
      expect(await a.call('announce', 'eth0', vip, { router: true })).toBeNull();
      const entry = await waitForNeighbour(nsB, vip, macA);
      expect(entry?.lladdr).toBe(macA);
      expect(entry).toHaveProperty('router');
    });

    it('sends from a pinned local source, and refuses one that is not local', async () => {
      const vip = '2001:db8::102';
      await lab.execOk(nsB, 'ip', [
        'neigh',
        'replace',
        vip,
        'lladdr',
        OTHER_MAC,
        'dev',
        'eth0',
        'nud',
        'stale',
      ]);
      expect(await a.call('unsolicitedNa', 'eth0', vip, { source: A6 })).toBeNull();
      expect((await waitForNeighbour(nsB, vip, macA))?.lladdr).toBe(macA);
      expect(await a.call('unsolicitedNa', 'eth0', vip, { source: '2001:db8::77' })).toMatchObject({
        syscall: 'sendmsg',
        code: 'EINVAL',
      });
    });

    it('returns errors as values for the wrong family', async () => {
      expect(await a.call('unsolicitedNa', 'eth0', A4)).toMatchObject({ code: 'IPVSD_ERR_USAGE' });
    });
  });
});
