/**
 * src/sys/vrrp-socket.ts over a fake addon: option validation, the shape of delivered packets,
 * and the guarantees that nothing thrown by a callback escapes and that send()/close() never
 * throw. The real socket is exercised in test/netns/vrrp-socket.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { IpvsdError } from '../../../src/errors.js';
import type { NativeVrrpPacketCallback, NativeVrrpSocketOptions } from '../../../src/sys/native.js';
import { openVrrpSocket, type VrrpPacket, type VrrpSocketOptions } from '../../../src/sys/vrrp-socket.js';

interface FakeHandle {
  options: NativeVrrpSocketOptions;
  onPacket: NativeVrrpPacketCallback;
  onError: (error: Error) => void;
  sent: { payload: Uint8Array; destination: string; source: string | undefined }[];
  closes: number;
  sendError: unknown;
  /** What receivePending() delivers (as the kernel's queue), and how often it was called. */
  queued: Parameters<NativeVrrpPacketCallback>[];
  drains: number;
}

function fakeNative() {
  const handles: FakeHandle[] = [];
  class VrrpSocket {
    readonly ifindex = 7;
    readonly #h: FakeHandle;
    constructor(
      options: NativeVrrpSocketOptions,
      onPacket: NativeVrrpPacketCallback,
      onError: (error: Error) => void,
    ) {
      this.#h = {
        options,
        onPacket,
        onError,
        sent: [],
        closes: 0,
        sendError: undefined,
        queued: [],
        drains: 0,
      };
      handles.push(this.#h);
    }
    send(payload: Uint8Array, destination: string, source?: string): void {
      if (this.#h.sendError !== undefined) throw this.#h.sendError;
      this.#h.sent.push({ payload, destination, source });
    }
    receivePending(): void {
      this.#h.drains++;
      for (const args of this.#h.queued.splice(0)) this.#h.onPacket(...args);
    }
    close(): void {
      this.#h.closes++;
    }
  }
  return { native: { VrrpSocket }, handles };
}

function open(overrides: Partial<VrrpSocketOptions> = {}) {
  const fake = fakeNative();
  const packets: VrrpPacket[] = [];
  const errors: Error[] = [];
  const socket = openVrrpSocket(
    {
      family: 'inet',
      ifname: 'eth0',
      onPacket: (p) => packets.push(p),
      onError: (e) => errors.push(e),
      ...overrides,
    },
    { native: fake.native },
  );
  const handle = fake.handles[0] as FakeHandle;
  return { socket, handle, packets, errors };
}

describe('openVrrpSocket', () => {
  it('opens the native socket with the family number, interface and hop limit 255', () => {
    const { socket, handle } = open();
    expect(handle.options).toEqual({ family: 4, ifname: 'eth0', hopLimit: 255 });
    expect(socket).toMatchObject({
      family: 'inet',
      ifname: 'eth0',
      ifindex: 7,
      group: '224.0.0.18',
      closed: false,
    });
    const v6 = open({ family: 'inet6', hopLimit: 1 });
    expect(v6.handle.options).toEqual({ family: 6, ifname: 'eth0', hopLimit: 1 });
    expect(v6.socket.group).toBe('ff02::12');
  });

  it.each<[string, Partial<VrrpSocketOptions>]>([
    ['an unknown family', { family: 'inet7' as never }],
    ['an empty interface name', { ifname: '' }],
    ['a hop limit of 0', { hopLimit: 0 }],
    ['a hop limit of 256', { hopLimit: 256 }],
    ['a fractional hop limit', { hopLimit: 1.5 }],
    ['a source that is no address', { sourceAddress: 'eth0' }],
    ['a source of the other family', { sourceAddress: '2001:db8::1' }],
  ])('refuses %s with IPVSD_ERR_USAGE before touching the addon', (_, overrides) => {
    const fake = fakeNative();
    expect(() =>
      openVrrpSocket(
        { family: 'inet', ifname: 'eth0', onPacket: () => {}, onError: () => {}, ...overrides },
        { native: fake.native },
      ),
    ).toThrow(expect.objectContaining({ code: 'IPVSD_ERR_USAGE' }));
    expect(fake.handles).toHaveLength(0);
  });

  it('lets the addon’s open error through (errno-bearing)', () => {
    const error = Object.assign(new Error('if_nametoindex ENODEV: No such device (eth9)'), {
      errno: 19,
      code: 'ENODEV',
      syscall: 'if_nametoindex',
    });
    class Failing {
      constructor() {
        throw error;
      }
    }
    expect(() =>
      openVrrpSocket(
        { family: 'inet', ifname: 'eth9', onPacket: () => {}, onError: () => {} },
        { native: { VrrpSocket: Failing as never } },
      ),
    ).toThrow(error);
  });

  it('delivers packets as values with canonical addresses', () => {
    const { handle, packets } = open({ family: 'inet6' });
    const payload = Buffer.from('3133', 'hex');
    handle.onPacket(payload, 'fe80::1', 'ff02::12', 255, 7, 1_790_000_000_123.456);
    // inet_ntop writes IPv4-compatible addresses in mixed notation; the model does not.
    handle.onPacket(payload, '::192.0.2.1', '2001:db8::2', 64, 7, undefined);
    expect(packets).toEqual([
      {
        payload,
        source: 'fe80::1',
        destination: 'ff02::12',
        ttl: 255,
        ifindex: 7,
        receivedAt: 1_790_000_000_123.456,
      },
      // No kernel timestamp: no receivedAt at all.
      { payload, source: '::c000:201', destination: '2001:db8::2', ttl: 64, ifindex: 7 },
    ]);
    expect(packets[1]).not.toHaveProperty('receivedAt');
  });

  it('turns a throwing onPacket into an IPVSD_ERR_INTERNAL error for onError', () => {
    const thrown = new Error('bug in the handler');
    const { handle, errors } = open({
      onPacket: () => {
        throw thrown;
      },
    });
    expect(() =>
      handle.onPacket(Buffer.alloc(1), '203.0.113.3', '224.0.0.18', 255, 7, undefined),
    ).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(IpvsdError);
    expect(errors[0]).toMatchObject({ code: 'IPVSD_ERR_INTERNAL', cause: thrown });
    expect(errors[0]?.message).toMatch(/VRRP packet handler on eth0 threw/);
  });

  it('drops what a throwing onError throws', () => {
    const onError = vi.fn(() => {
      throw new Error('error handler broken too');
    });
    const { handle } = open({
      onPacket: () => {
        throw new Error('handler');
      },
      onError,
    });
    expect(() =>
      handle.onPacket(Buffer.alloc(1), '203.0.113.3', '224.0.0.18', 255, 7, undefined),
    ).not.toThrow();
    const receiveError = Object.assign(new Error('recvmsg ENOBUFS'), { errno: 105, code: 'ENOBUFS' });
    expect(() => handle.onError(receiveError)).not.toThrow();
    expect(onError).toHaveBeenCalledTimes(2);
    expect(onError).toHaveBeenLastCalledWith(receiveError);
  });

  it('sends to the group by default, to a unicast peer when told, from the pinned source', () => {
    const { socket, handle } = open({ sourceAddress: '203.0.113.2' });
    const payload = Buffer.from('2133', 'hex');
    expect(socket.send(payload)).toBeUndefined();
    expect(socket.send(payload, '203.0.113.3')).toBeUndefined();
    expect(handle.sent).toEqual([
      { payload, destination: '224.0.0.18', source: '203.0.113.2' },
      { payload, destination: '203.0.113.3', source: '203.0.113.2' },
    ]);
    const v6 = open({ family: 'inet6', sourceAddress: 'FE80:0::1' });
    v6.socket.send(payload);
    expect(v6.handle.sent[0]).toMatchObject({ destination: 'ff02::12', source: 'fe80::1' });
    const unpinned = open();
    unpinned.socket.send(payload);
    expect(unpinned.handle.sent[0]?.source).toBeUndefined();
  });

  it('returns send failures as values, never throws', () => {
    const { socket, handle } = open();
    const error = Object.assign(new Error('sendmsg ENETDOWN'), { errno: 100, code: 'ENETDOWN' });
    handle.sendError = error;
    expect(socket.send(Buffer.alloc(1))).toBe(error);
    handle.sendError = 'not an Error';
    expect(socket.send(Buffer.alloc(1))).toMatchObject({ code: 'IPVSD_ERR_INTERNAL' });
  });

  it('closes once; a closed socket sends nothing and says why', () => {
    const { socket, handle } = open();
    socket.close();
    socket.close();
    expect(handle.closes).toBe(1);
    expect(socket.closed).toBe(true);
    expect(socket.send(Buffer.alloc(1))).toMatchObject({ code: 'IPVSD_ERR_INTERNAL', message: /closed/ });
    expect(handle.sent).toEqual([]);
  });

  it('receivePending delivers what the kernel holds, synchronously; nothing once closed', () => {
    const { socket, handle, packets } = open();
    const payload = Buffer.from('2133', 'hex');
    handle.queued.push([payload, '203.0.113.3', '224.0.0.18', 255, 7, 1_790_000_000_000.5]);
    socket.receivePending();
    expect(packets).toEqual([
      {
        payload,
        source: '203.0.113.3',
        destination: '224.0.0.18',
        ttl: 255,
        ifindex: 7,
        receivedAt: 1_790_000_000_000.5,
      },
    ]);
    socket.close();
    socket.receivePending();
    expect(handle.drains).toBe(1);
  });
});
