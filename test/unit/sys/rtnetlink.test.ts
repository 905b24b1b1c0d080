import type { rt } from 'netlink';
import { describe, expect, it } from 'vitest';
import { NetlinkError } from '../../../src/errors.js';
import { parseCidr } from '../../../src/sys/ip-address.js';
import {
  AF_INET,
  AF_INET6,
  addressRequest,
  createRtnetlink,
  type RtSocket,
  removeAddressRequest,
  toInterfaceAddress,
} from '../../../src/sys/rtnetlink.js';

interface Call {
  readonly op: string;
  readonly data: unknown;
  readonly attrs: unknown;
  readonly options: unknown;
}

/** An in-memory kernel with one interface table and node-netlink's error shapes. */
function fakeKernel(links: Record<string, number>) {
  const calls: Call[] = [];
  const held: rt.AddressMessage[] = [];
  const listeners = new Map<string, (err: Error) => void>();
  let closed = false;
  const key = (d: rt.Address, a: rt.AddressAttrs) => `${d.index}/${(a.local ?? a.address)?.toString('hex')}`;
  const socket = {
    async getLink(data: rt.Link, attrs: { ifname?: string }, options: unknown) {
      calls.push({ op: 'getLink', data, attrs, options });
      const index = attrs.ifname === undefined ? undefined : links[attrs.ifname];
      if (index === undefined) throw new Error('Request rejected: ENODEV');
      return [{ kind: 'link', data: { index }, attrs: { ifname: attrs.ifname } }];
    },
    async getLinks(data: rt.Link, attrs: unknown, options: unknown) {
      calls.push({ op: 'getLinks', data, attrs, options });
      return Object.entries(links).map(([ifname, index]) => ({
        kind: 'link',
        data: { index },
        attrs: { ifname },
      }));
    },
    async getAddresses(data: rt.Address, attrs: unknown, options: unknown) {
      calls.push({ op: 'getAddresses', data, attrs, options });
      return [...held];
    },
    async newAddress(data: rt.Address, attrs: rt.AddressAttrs, options: unknown) {
      calls.push({ op: 'newAddress', data, attrs, options });
      if (held.some((m) => key(m.data, m.attrs) === key(data, attrs)))
        throw new Error('Request rejected: EEXIST');
      held.push({
        kind: 'address',
        data,
        attrs: { ...attrs, ...(data.family === AF_INET ? { label: 'eth0' } : {}) },
      });
      return [];
    },
    async delAddress(data: rt.Address, attrs: rt.AddressAttrs, options: unknown) {
      calls.push({ op: 'delAddress', data, attrs, options });
      const at = held.findIndex(
        (m) => key(m.data, m.attrs) === key(data, attrs) && m.data.prefixlen === data.prefixlen,
      );
      if (at === -1) throw new Error('Request rejected: EADDRNOTAVAIL');
      held.splice(at, 1);
      return [];
    },
    socket: {
      on(event: string, listener: (err: Error) => void) {
        listeners.set(event, listener);
        return this;
      },
      close() {
        closed = true;
      },
    },
  };
  return {
    socket: socket as unknown as RtSocket,
    calls,
    held,
    emitError: (err: Error) => listeners.get('error')?.(err),
    isClosed: () => closed,
  };
}

describe('createRtnetlink with a fake socket', () => {
  it('adds, lists and removes an IPv4 and an IPv6 address', async () => {
    const kernel = fakeKernel({ lo: 1, eth0: 2 });
    const rtnl = createRtnetlink({ timeoutMs: 1234 }, { openSocket: () => kernel.socket });
    await rtnl.addAddress('eth0', '192.0.2.10/24');
    await rtnl.addAddress('eth0', '2001:DB8::10/64');
    expect(await rtnl.listAddresses('eth0')).toEqual([
      expect.objectContaining({
        ifname: 'eth0',
        ifindex: 2,
        family: 'inet',
        address: '192.0.2.10',
        prefixLength: 24,
        label: 'eth0',
      }),
      expect.objectContaining({ ifname: 'eth0', family: 'inet6', address: '2001:db8::10', prefixLength: 64 }),
    ]);
    expect(await rtnl.hasAddress('eth0', '192.0.2.10/24')).toBe(true);
    expect(await rtnl.hasAddress('eth0', '192.0.2.10')).toBe(true);
    expect(await rtnl.hasAddress('eth0', '192.0.2.10/25')).toBe(false);
    expect(await rtnl.hasAddress('lo', '192.0.2.10/24')).toBe(false);
    expect((await rtnl.listAddresses()).map((a) => a.ifname)).toEqual(['eth0', 'eth0']);

    const add = kernel.calls.find((c) => c.op === 'newAddress');
    // NLM_F_CREATE | NLM_F_EXCL, so an existing address is EEXIST rather than silently kept.
    expect(add?.options).toEqual({ timeout: 1234, flags: 0x400 | 0x200 });

    await rtnl.removeAddress('eth0', '192.0.2.10/24');
    await rtnl.removeAddress('eth0', '2001:db8::10/64');
    expect(await rtnl.listAddresses('eth0')).toEqual([]);
    rtnl.close();
    expect(kernel.isClosed()).toBe(true);
  });

  it('maps EEXIST, EADDRNOTAVAIL and ENODEV to NetlinkErrors that name the address and interface', async () => {
    const kernel = fakeKernel({ eth0: 2 });
    const rtnl = createRtnetlink({}, { openSocket: () => kernel.socket });
    await rtnl.addAddress('eth0', '192.0.2.10/24');
    await expect(rtnl.addAddress('eth0', '192.0.2.10/24')).rejects.toMatchObject({
      name: 'NetlinkError',
      code: 'IPVSD_ERR_KERNEL_REJECTED',
      errno: 17,
      errnoName: 'EEXIST',
      message: 'adding address 192.0.2.10/24 to eth0: EEXIST (address already assigned to the interface)',
    });
    await expect(rtnl.removeAddress('eth0', '198.51.100.1/24')).rejects.toMatchObject({
      errno: 99,
      errnoName: 'EADDRNOTAVAIL',
      message:
        'removing address 198.51.100.1/24 from eth0: EADDRNOTAVAIL (address not assigned to the interface)',
    });
    await expect(rtnl.addAddress('eth9', '192.0.2.10/24')).rejects.toMatchObject({
      errnoName: 'ENODEV',
      message: 'adding address 192.0.2.10/24 to eth9: ENODEV (no such interface)',
    });
    await expect(rtnl.interfaceIndex('eth9')).rejects.toThrow(
      'looking up interface eth9: ENODEV (no such interface)',
    );
    await expect(rtnl.listAddresses('eth9')).rejects.toThrow(
      'listing addresses of eth9: ENODEV (no such interface)',
    );
    rtnl.close();
  });

  it('refuses bad input before asking the kernel', async () => {
    const kernel = fakeKernel({ eth0: 2 });
    const rtnl = createRtnetlink({}, { openSocket: () => kernel.socket });
    await expect(rtnl.addAddress('eth0', '192.0.2.300/24')).rejects.toMatchObject({
      code: 'IPVSD_ERR_USAGE',
    });
    await expect(rtnl.addAddress('a-very-long-interface-name', '192.0.2.1/24')).rejects.toMatchObject({
      code: 'IPVSD_ERR_USAGE',
      message: expect.stringContaining('invalid interface name'),
    });
    await expect(rtnl.addAddress('eth0', '192.0.2.1/24', { label: 'wlan0:1' })).rejects.toMatchObject({
      code: 'IPVSD_ERR_USAGE',
      message: expect.stringContaining('invalid label'),
    });
    await expect(rtnl.addAddress('eth0', '2001:db8::1/64', { label: 'eth0:1' })).rejects.toMatchObject({
      code: 'IPVSD_ERR_USAGE',
    });
    expect(kernel.calls).toEqual([]);
    rtnl.close();
  });

  it('ensureAddress and ensureNoAddress are idempotent', async () => {
    const kernel = fakeKernel({ eth0: 2 });
    const rtnl = createRtnetlink({}, { openSocket: () => kernel.socket });
    expect(await rtnl.ensureAddress('eth0', '203.0.113.100/24')).toBe(true);
    expect(await rtnl.ensureAddress('eth0', '203.0.113.100/24')).toBe(false);
    expect(kernel.held).toHaveLength(1);
    expect(await rtnl.ensureNoAddress('eth0', '203.0.113.100/24')).toBe(true);
    expect(await rtnl.ensureNoAddress('eth0', '203.0.113.100/24')).toBe(false);
    await expect(rtnl.ensureNoAddress('eth9', '203.0.113.100/24')).rejects.toMatchObject({
      errnoName: 'ENODEV',
    });
    rtnl.close();
  });

  it('ensureAddress still fails when the address is held with another prefix length', async () => {
    const kernel = fakeKernel({ eth0: 2 });
    const rtnl = createRtnetlink({}, { openSocket: () => kernel.socket });
    await rtnl.addAddress('eth0', '2001:db8::10/64');
    await expect(rtnl.ensureAddress('eth0', '2001:db8::10/128')).rejects.toMatchObject({
      errnoName: 'EEXIST',
      message: expect.stringContaining('(eth0 holds it as 2001:db8::10/64)'),
    });
    rtnl.close();
  });

  it('runs one request at a time', async () => {
    const kernel = fakeKernel({ eth0: 2 });
    let inFlight = 0;
    let maxInFlight = 0;
    const slow = kernel.socket.getAddresses.bind(kernel.socket);
    kernel.socket.getAddresses = async (...args: Parameters<RtSocket['getAddresses']>) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return slow(...args);
    };
    const rtnl = createRtnetlink({}, { openSocket: () => kernel.socket });
    await Promise.all([rtnl.listAddresses('eth0'), rtnl.listAddresses('eth0'), rtnl.listAddresses()]);
    expect(maxInFlight).toBe(1);
    rtnl.close();
  });

  it('rejects pending and later calls once closed or after a socket error', async () => {
    const kernel = fakeKernel({ eth0: 2 });
    kernel.socket.getAddresses = () => new Promise(() => {});
    const rtnl = createRtnetlink({}, { openSocket: () => kernel.socket });
    const pending = rtnl.listAddresses('eth0');
    await new Promise((r) => setTimeout(r, 1));
    rtnl.close();
    await expect(pending).rejects.toThrow('listing addresses of eth0: the rtnetlink socket was closed');
    await expect(rtnl.interfaceIndex('eth0')).rejects.toThrow('the rtnetlink socket is closed');
    rtnl.close();

    const broken = fakeKernel({ eth0: 2 });
    broken.socket.getAddresses = () => new Promise(() => {});
    const rtnl2 = createRtnetlink({}, { openSocket: () => broken.socket });
    const pending2 = rtnl2.listAddresses('eth0');
    await new Promise((r) => setTimeout(r, 1));
    broken.emitError(
      Object.assign(new Error('Error when receiving Netlink message: no buffer space available'), {
        errno: 105,
        code: 'ENOBUFS',
      }),
    );
    await expect(pending2).rejects.toBeInstanceOf(NetlinkError);
    await expect(pending2).rejects.toThrow(
      'listing addresses of eth0: rtnetlink socket failed: ENOBUFS (no buffer space available)',
    );
    rtnl2.close();
  });
});

describe('request messages', () => {
  it('IPv4: IFA_LOCAL and IFA_ADDRESS, broadcast, label', () => {
    expect(addressRequest(3, parseCidr('192.0.2.10/24'), { label: 'eth0:vip' }, 'eth0')).toEqual({
      data: { family: AF_INET, prefixlen: 24, index: 3, scope: 0 },
      attrs: {
        local: Buffer.from([192, 0, 2, 10]),
        address: Buffer.from([192, 0, 2, 10]),
        broadcast: Buffer.from([192, 0, 2, 255]),
        label: 'eth0:vip',
      },
    });
    expect(
      addressRequest(3, parseCidr('192.0.2.10/24'), { broadcast: false }).attrs.broadcast,
    ).toBeUndefined();
    expect(addressRequest(3, parseCidr('192.0.2.10/31')).attrs.broadcast).toBeUndefined();
    expect(addressRequest(3, parseCidr('192.0.2.10')).data.prefixlen).toBe(32);
  });

  it('IPv6: IFA_F_NODAD in the header and in IFA_FLAGS', () => {
    const bytes = Buffer.from('20010db8000000000000000000000010', 'hex');
    expect(addressRequest(3, parseCidr('2001:db8::10/64'))).toEqual({
      data: { family: AF_INET6, prefixlen: 64, index: 3, scope: 0, flags: { nodad: true } },
      attrs: { local: bytes, address: bytes, flags: { nodad: true } },
    });
  });

  it('removal names the address and prefix length', () => {
    expect(removeAddressRequest(3, parseCidr('2001:db8::10/64'))).toEqual({
      data: { family: AF_INET6, prefixlen: 64, index: 3 },
      attrs: { local: Buffer.from('20010db8000000000000000000000010', 'hex') },
    });
    expect(removeAddressRequest(3, parseCidr('192.0.2.10/24')).attrs).toEqual({
      local: Buffer.from([192, 0, 2, 10]),
      address: Buffer.from([192, 0, 2, 10]),
    });
  });
});

describe('toInterfaceAddress', () => {
  const names = new Map([[3, 'eth0']]);
  it('prefers IFA_LOCAL, reads IFA_FLAGS over the header flags', () => {
    const message: rt.AddressMessage = {
      kind: 'address',
      data: { family: AF_INET6, prefixlen: 64, index: 3, scope: 0, flags: { permanent: true } },
      attrs: {
        address: Buffer.from('20010db8000000000000000000000010', 'hex'),
        flags: { permanent: true, tentative: true },
      },
    };
    expect(toInterfaceAddress(message, names)).toEqual({
      ifname: 'eth0',
      ifindex: 3,
      family: 'inet6',
      address: '2001:db8::10',
      prefixLength: 64,
      scope: 0,
      secondary: false,
      tentative: true,
      dadFailed: false,
    });
    const ptp: rt.AddressMessage = {
      kind: 'address',
      data: { family: AF_INET, prefixlen: 32, index: 4, scope: 0, flags: { secondary: true } },
      attrs: { local: Buffer.from([192, 0, 2, 1]), address: Buffer.from([192, 0, 2, 2]), label: 'tun0' },
    };
    expect(toInterfaceAddress(ptp, names)).toMatchObject({
      ifname: 'if4',
      address: '192.0.2.1',
      label: 'tun0',
      secondary: true,
    });
  });

  it('skips other families and malformed entries', () => {
    expect(
      toInterfaceAddress({ kind: 'address', data: { family: 17, index: 3 }, attrs: {} }, names),
    ).toBeNull();
    expect(
      toInterfaceAddress(
        { kind: 'address', data: { family: AF_INET, index: 3 }, attrs: { local: Buffer.alloc(16) } },
        names,
      ),
    ).toBeNull();
  });
});
