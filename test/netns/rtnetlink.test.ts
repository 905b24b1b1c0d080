/**
 * src/sys/rtnetlink.ts against the real kernel: our compiled module runs inside a namespace made
 * for this file (through the node agent), and `ip -j addr` in that namespace is the oracle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InterfaceAddress } from '../../src/sys/rtnetlink.js';
import {
  createNetnsLab,
  type NetnsLab,
  type NodeAgent,
  namespaceExists,
  ownNetnsId,
} from '../support/netns.js';

const V4 = '192.0.2.10/24';
const V6 = '2001:db8::10/64';

describe('rtnetlink inside a network namespace', () => {
  let lab: NetnsLab;
  let ns: string;
  let peer: string;
  let rt: NodeAgent;
  let made: string[] = [];

  beforeAll(async () => {
    lab = createNetnsLab();
    ns = await lab.namespace('rtnl');
    peer = await lab.namespace('peer');
    made = lab.namespaces.slice();
    await lab.veth({ ns, ifname: 'eth0' }, { ns: peer, ifname: 'eth0' });
    rt = await lab.nodeAgent(ns, 'test/netns/drivers/rtnetlink.mjs');
  });

  afterAll(async () => {
    await lab?.cleanup();
    for (const name of made) expect(await namespaceExists(name), `namespace ${name} removed`).toBe(false);
  });

  it('runs our code inside the namespace, not in the test runner’s', async () => {
    const inside = (await lab.execOk(ns, 'readlink', ['/proc/self/ns/net'])).trim();
    expect(await rt.netnsId()).toBe(inside);
    expect(inside).not.toBe(ownNetnsId());
  });

  it('finds the interface index the kernel reports', async () => {
    const [link] = await lab.ipJson<{ ifindex: number }[]>(ns, ['link', 'show', 'dev', 'eth0']);
    expect(await rt.call('interfaceIndex', 'eth0')).toBe(link?.ifindex);
  });

  it('adds an IPv4 and an IPv6 address that the kernel then holds', async () => {
    await rt.call('addAddress', 'eth0', V4);
    await rt.call('addAddress', 'eth0', V6);

    const oracle = await lab.ipAddresses(ns, 'eth0');
    expect(oracle).toContainEqual(
      expect.objectContaining({
        family: 'inet',
        local: '192.0.2.10',
        prefixlen: 24,
        label: 'eth0',
        broadcast: '192.0.2.255',
      }),
    );
    const v6 = oracle.find((a) => a.local === '2001:db8::10');
    expect(v6).toMatchObject({ family: 'inet6', prefixlen: 64, nodad: true });
    expect(v6?.tentative).toBeUndefined();

    const ours = await rt.call<InterfaceAddress[]>('listAddresses', 'eth0');
    expect(ours).toContainEqual(
      expect.objectContaining({
        ifname: 'eth0',
        family: 'inet',
        address: '192.0.2.10',
        prefixLength: 24,
        label: 'eth0',
      }),
    );
    expect(ours).toContainEqual(
      expect.objectContaining({
        ifname: 'eth0',
        family: 'inet6',
        address: '2001:db8::10',
        prefixLength: 64,
        tentative: false,
      }),
    );
    // Everything our dump shows, the oracle shows, and the other way round.
    const key = (family: string, address: string, prefix: number) => `${family} ${address}/${prefix}`;
    expect(ours.map((a) => key(a.family, a.address, a.prefixLength)).sort()).toEqual(
      oracle.map((a) => key(a.family, a.local, a.prefixlen)).sort(),
    );
    const all = await rt.call<InterfaceAddress[]>('listAddresses');
    expect(all.filter((a) => a.ifname === 'lo').map((a) => a.address)).toEqual(
      expect.arrayContaining(['127.0.0.1', '::1']),
    );
    expect(all.filter((a) => a.ifname === 'eth0')).toEqual(ours);

    expect(await rt.call('hasAddress', 'eth0', V4)).toBe(true);
    expect(await rt.call('hasAddress', 'eth0', '2001:DB8:0::10')).toBe(true);
    expect(await rt.call('hasAddress', 'eth0', '2001:db8::10/128')).toBe(false);
  });

  it('makes the IPv6 address usable at once (no duplicate address detection wait)', async () => {
    // Binding to a tentative address fails with EADDRNOTAVAIL; with IFA_F_NODAD it works right away.
    const script =
      "const s=require('node:net').createServer();s.on('error',e=>{console.error(e.code);process.exit(1)});" +
      "s.listen(0,'2001:db8::11',()=>{s.close();console.log('bound')})";
    await rt.call('addAddress', 'eth0', '2001:db8::11/64');
    const result = await lab.exec(ns, process.execPath, ['-e', script]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('bound');
    await rt.call('removeAddress', 'eth0', '2001:db8::11/64');
  });

  it('sets an IPv4 label', async () => {
    await rt.call('addAddress', 'eth0', '203.0.113.100/32', { label: 'eth0:vip' });
    expect(await lab.ipAddresses(ns, 'eth0')).toContainEqual(
      expect.objectContaining({ local: '203.0.113.100', prefixlen: 32, label: 'eth0:vip' }),
    );
    const ours = await rt.call<InterfaceAddress[]>('listAddresses', 'eth0');
    expect(ours).toContainEqual(
      expect.objectContaining({ address: '203.0.113.100', prefixLength: 32, label: 'eth0:vip' }),
    );
    await rt.call('removeAddress', 'eth0', '203.0.113.100/32');
  });

  it('reports adding an address twice as EEXIST, clearly', async () => {
    await expect(rt.call('addAddress', 'eth0', V4)).rejects.toMatchObject({
      name: 'NetlinkError',
      code: 'IPVSD_ERR_KERNEL_REJECTED',
      errno: 17,
      errnoName: 'EEXIST',
      message: 'adding address 192.0.2.10/24 to eth0: EEXIST (address already assigned to the interface)',
    });
    await expect(rt.call('addAddress', 'eth0', '2001:db8:0::10/64')).rejects.toMatchObject({
      errnoName: 'EEXIST',
      message: 'adding address 2001:db8::10/64 to eth0: EEXIST (address already assigned to the interface)',
    });
    expect(await rt.call('ensureAddress', 'eth0', V4)).toBe(false);
    expect(await rt.call('ensureAddress', 'eth0', V6)).toBe(false);
  });

  it('removes the addresses, and they are gone', async () => {
    await rt.call('removeAddress', 'eth0', V4);
    await rt.call('removeAddress', 'eth0', V6);
    const oracle = await lab.ipAddresses(ns, 'eth0');
    expect(oracle.map((a) => a.local)).not.toContain('192.0.2.10');
    expect(oracle.map((a) => a.local)).not.toContain('2001:db8::10');
    const ours = await rt.call<InterfaceAddress[]>('listAddresses', 'eth0');
    expect(ours.map((a) => a.address)).toEqual(oracle.map((a) => a.local));
    expect(await rt.call('hasAddress', 'eth0', V4)).toBe(false);
  });

  it('reports removing a missing address as EADDRNOTAVAIL, clearly', async () => {
    await expect(rt.call('removeAddress', 'eth0', V4)).rejects.toMatchObject({
      name: 'NetlinkError',
      code: 'IPVSD_ERR_KERNEL_REJECTED',
      errno: 99,
      errnoName: 'EADDRNOTAVAIL',
      message:
        'removing address 192.0.2.10/24 from eth0: EADDRNOTAVAIL (address not assigned to the interface)',
    });
    await expect(rt.call('removeAddress', 'eth0', V6)).rejects.toMatchObject({
      errnoName: 'EADDRNOTAVAIL',
      message:
        'removing address 2001:db8::10/64 from eth0: EADDRNOTAVAIL (address not assigned to the interface)',
    });
    expect(await rt.call('ensureNoAddress', 'eth0', V4)).toBe(false);
  });

  it('ensureAddress / ensureNoAddress change the kernel only when needed', async () => {
    expect(await rt.call('ensureAddress', 'eth0', '198.51.100.1/24')).toBe(true);
    expect(await rt.call('ensureAddress', 'eth0', '198.51.100.1/24')).toBe(false);
    expect((await lab.ipAddresses(ns, 'eth0')).filter((a) => a.local === '198.51.100.1')).toHaveLength(1);
    expect(await rt.call('ensureNoAddress', 'eth0', '198.51.100.1/24')).toBe(true);
    expect(await rt.call('ensureNoAddress', 'eth0', '198.51.100.1/24')).toBe(false);
    expect((await lab.ipAddresses(ns, 'eth0')).map((a) => a.local)).not.toContain('198.51.100.1');
  });

  it('reports an unknown interface as ENODEV, clearly', async () => {
    const noDevice = { name: 'NetlinkError', errno: 19, errnoName: 'ENODEV' };
    await expect(rt.call('interfaceIndex', 'nosuch0')).rejects.toMatchObject({
      ...noDevice,
      message: 'looking up interface nosuch0: ENODEV (no such interface)',
    });
    await expect(rt.call('addAddress', 'nosuch0', V4)).rejects.toMatchObject({
      ...noDevice,
      message: 'adding address 192.0.2.10/24 to nosuch0: ENODEV (no such interface)',
    });
    await expect(rt.call('removeAddress', 'nosuch0', V6)).rejects.toMatchObject({
      ...noDevice,
      message: 'removing address 2001:db8::10/64 from nosuch0: ENODEV (no such interface)',
    });
    await expect(rt.call('listAddresses', 'nosuch0')).rejects.toMatchObject({
      ...noDevice,
      message: 'listing addresses of nosuch0: ENODEV (no such interface)',
    });
    // The peer's interface of the same name lives in another namespace: invisible here.
    expect(await lab.ipAddresses(peer, 'eth0')).toEqual(expect.any(Array));
  });

  it('adds many addresses in one datagram, executed by the time the call returns (takeover path)', async () => {
    const [link] = await lab.ipJson<{ ifindex: number }[]>(ns, ['link', 'show', 'dev', 'eth0']);
    const ifindex = link?.ifindex as number;
    const addresses = [
      { ifname: 'eth0', ifindex, cidr: '203.0.113.100/24' },
      { ifname: 'eth0', ifindex, cidr: '198.51.100.100/24' },
      { ifname: 'eth0', ifindex, cidr: '2001:db8::20/64' },
    ];
    type Batch = {
      sent: boolean;
      inet6AtReturn: string;
      outcomes: ({ errnoName: string; message: string } | null)[];
    };
    const first = await rt.call<Batch>('addAddressesAtOnce', addresses);
    expect(first.outcomes).toEqual([null, null, null]);
    // Nothing else was in flight on the batch socket: sendmsg ran inside the call, and the kernel
    // held the address before any reply was read.
    expect(first.sent).toBe(true);
    expect(first.inet6AtReturn).toContain('20010db8000000000000000000000020');
    const oracle = await lab.ipAddresses(ns, 'eth0');
    expect(oracle).toContainEqual(
      expect.objectContaining({
        family: 'inet',
        local: '203.0.113.100',
        prefixlen: 24,
        broadcast: '203.0.113.255',
      }),
    );
    expect(oracle).toContainEqual(
      expect.objectContaining({ family: 'inet', local: '198.51.100.100', prefixlen: 24 }),
    );
    expect(oracle.find((a) => a.local === '2001:db8::20')).toMatchObject({ prefixlen: 64, nodad: true });

    // Each request has its own answer: present ones EEXIST, a stale index ENODEV, the rest added.
    const second = await rt.call<Batch>('addAddressesAtOnce', [
      addresses[0],
      { ifname: 'gone0', ifindex: 999_999, cidr: '192.0.2.77/24' },
      { ifname: 'eth0', ifindex, cidr: '192.0.2.78/32' },
      addresses[2],
    ]);
    expect(second.outcomes).toEqual([
      {
        errnoName: 'EEXIST',
        message:
          'adding address 203.0.113.100/24 to eth0: EEXIST (address already assigned to the interface)',
      },
      { errnoName: 'ENODEV', message: 'adding address 192.0.2.77/24 to gone0: ENODEV (no such interface)' },
      null,
      {
        errnoName: 'EEXIST',
        message: 'adding address 2001:db8::20/64 to eth0: EEXIST (address already assigned to the interface)',
      },
    ]);
    expect((await lab.ipAddresses(ns, 'eth0')).map((a) => a.local)).toContain('192.0.2.78');
    for (const cidr of ['203.0.113.100/24', '198.51.100.100/24', '2001:db8::20/64', '192.0.2.78/32'])
      await rt.call('removeAddress', 'eth0', cidr);
  });

  it('refuses malformed input without asking the kernel', async () => {
    await expect(rt.call('addAddress', 'eth0', '192.0.2.256/24')).rejects.toMatchObject({
      name: 'IpvsdError',
      code: 'IPVSD_ERR_USAGE',
      message: 'invalid IP address "192.0.2.256/24"',
    });
    await expect(rt.call('addAddress', 'eth0', '192.0.2.1/33')).rejects.toMatchObject({
      code: 'IPVSD_ERR_USAGE',
    });
  });
});
