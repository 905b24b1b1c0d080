import { describe, expect, it } from 'vitest';
import {
  decodeDestination,
  decodeService,
  destAttrs,
  encodeOperation,
  serviceAttrs,
} from '../../../src/ipvs/codec.js';
import * as C from '../../../src/ipvs/constants.js';
import {
  addressService,
  type Destination,
  fwmarkService,
  type VirtualService,
} from '../../../src/model/ipvs.js';
import { attr, nested, parseAttrs, u16, u16be, u32 } from '../../../src/sys/nlattr.js';

const services: VirtualService[] = [
  { key: addressService('inet', 'tcp', '192.0.2.1', 80), scheduler: 'wrr', persistence: null, flags: 0 },
  {
    key: addressService('inet', 'udp', '192.0.2.2', 53),
    scheduler: 'sh',
    persistence: { timeoutS: 300, netmask: '255.255.255.0' },
    flags: C.IP_VS_SVC_F_SCHED1 | C.IP_VS_SVC_F_SCHED2,
  },
  {
    key: addressService('inet6', 'sctp', '2001:db8::1', 9),
    scheduler: 'mh',
    persistence: { timeoutS: 60, netmask: '64' },
    flags: 0,
  },
  { key: fwmarkService('inet', 7), scheduler: 'rr', persistence: null, flags: C.IP_VS_SVC_F_ONEPACKET },
  {
    key: fwmarkService('inet6', 4294967295),
    scheduler: 'lc',
    persistence: { timeoutS: 1, netmask: '128' },
    flags: 0,
  },
];

describe('service attributes', () => {
  it.each(services)('round-trips $key.protocol $key.address $key.fwmark', (svc) => {
    const decoded = decodeService(parseAttrs(serviceAttrs(svc)));
    expect(decoded).toMatchObject({ ...svc, destinations: [] });
  });

  it('sets PERSISTENT from persistence and never sends HASHED', () => {
    const svc = { ...(services[1] as VirtualService), flags: C.IP_VS_SVC_F_HASHED | C.IP_VS_SVC_F_SCHED1 };
    const nestedAttrs = parseAttrs(parseAttrs(serviceAttrs(svc)).get(C.IPVS_CMD_ATTR_SERVICE) as Buffer);
    const flags = nestedAttrs.get(C.IPVS_SVC_ATTR_FLAGS) as Buffer;
    expect(flags.readUInt32LE(0)).toBe(C.IP_VS_SVC_F_PERSISTENT | C.IP_VS_SVC_F_SCHED1);
    expect(flags.readUInt32LE(4)).toBe(0xffffffff);
  });

  it('sends the port big-endian and the address as a 16-byte nf_inet_addr', () => {
    const nestedAttrs = parseAttrs(
      parseAttrs(serviceAttrs(services[0] as VirtualService)).get(C.IPVS_CMD_ATTR_SERVICE) as Buffer,
    );
    expect(nestedAttrs.get(C.IPVS_SVC_ATTR_PORT)?.toString('hex')).toBe('0050');
    expect(nestedAttrs.get(C.IPVS_SVC_ATTR_ADDR)?.toString('hex')).toBe(`c0000201${'0'.repeat(24)}`);
  });
});

describe('destination attributes', () => {
  const dests: Destination[] = [
    {
      address: '198.51.100.1',
      port: 8080,
      forwarding: 'nat',
      weight: 3,
      upperThreshold: 0,
      lowerThreshold: 0,
    },
    {
      address: '198.51.100.2',
      port: 80,
      forwarding: 'dr',
      weight: 0,
      upperThreshold: 100,
      lowerThreshold: 10,
    },
    {
      address: '2001:db8:1::5',
      port: 5353,
      forwarding: 'tun',
      weight: 65535,
      upperThreshold: 0,
      lowerThreshold: 0,
    },
  ];
  it.each(dests)('round-trips $address:$port $forwarding', (dest) => {
    const decoded = decodeDestination(parseAttrs(destAttrs(dest)), 'inet');
    expect(decoded).toMatchObject(dest);
  });
});

describe('destination replies', () => {
  const u64 = (type: number, value: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    return attr(type, b);
  };
  // IPVS_STATS_ATTR_CONNS … OUTBPS are 1 … 10; the byte counters (4, 5) are 64-bit in both sets.
  const counters = (base: number, wide: boolean) =>
    Array.from({ length: 10 }, (_, i) =>
      wide || i === 3 || i === 4 ? u64(i + 1, base + i) : u32(i + 1, base + i),
    );
  const reply = (withStats64: boolean) => {
    const dest = nested(C.IPVS_CMD_ATTR_DEST, [
      attr(C.IPVS_DEST_ATTR_ADDR, Buffer.from([198, 51, 100, 7, ...Array(12).fill(0)])),
      u16be(C.IPVS_DEST_ATTR_PORT, 8080),
      u32(C.IPVS_DEST_ATTR_FWD_METHOD, C.IP_VS_CONN_F_MASQ),
      u32(C.IPVS_DEST_ATTR_WEIGHT, 3),
      u32(C.IPVS_DEST_ATTR_U_THRESH, 200),
      u32(C.IPVS_DEST_ATTR_L_THRESH, 20),
      u32(C.IPVS_DEST_ATTR_ACTIVE_CONNS, 11),
      u32(C.IPVS_DEST_ATTR_INACT_CONNS, 12),
      u32(C.IPVS_DEST_ATTR_PERSIST_CONNS, 13),
      nested(C.IPVS_DEST_ATTR_STATS, counters(100, false)),
      ...(withStats64 ? [nested(C.IPVS_DEST_ATTR_STATS64, counters(5_000_000_000, true))] : []),
      u16(C.IPVS_DEST_ATTR_ADDR_FAMILY, 2),
    ]);
    return dest;
  };
  const stats = (base: number) => ({
    conns: base,
    inPackets: base + 1,
    outPackets: base + 2,
    inBytes: base + 3,
    outBytes: base + 4,
    cps: base + 5,
    inPps: base + 6,
    outPps: base + 7,
    inBps: base + 8,
    outBps: base + 9,
  });

  it.each([
    ['STATS64 (the 64-bit counters)', true, stats(5_000_000_000)],
    ['STATS when the kernel sends no STATS64', false, stats(100)],
  ])('decodes every field and the counters from %s', (_, wide, counted) => {
    const d = decodeDestination(parseAttrs(reply(wide)), 'inet');
    expect(d).toMatchObject({
      address: '198.51.100.7',
      port: 8080,
      forwarding: 'nat',
      weight: 3,
      upperThreshold: 200,
      lowerThreshold: 20,
      activeConns: 11,
      inactiveConns: 12,
      persistConns: 13,
    });
    expect(d?.stats).toEqual(counted);
  });

  it('finds no destination where the reply has none', () => {
    expect(decodeDestination(new Map(), 'inet')).toBeNull();
    expect(decodeDestination(new Map([[C.IPVS_CMD_ATTR_SERVICE, reply(true)]]), 'inet')).toBeNull();
  });
});

describe('operations', () => {
  const key = addressService('inet', 'tcp', '192.0.2.1', 80);
  const dest: Destination = {
    address: '198.51.100.1',
    port: 80,
    forwarding: 'nat',
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
  };
  it.each([
    [{ kind: 'add-service', service: services[0] } as const, C.IPVS_CMD_NEW_SERVICE],
    [{ kind: 'edit-service', service: services[0] } as const, C.IPVS_CMD_SET_SERVICE],
    [{ kind: 'delete-service', key } as const, C.IPVS_CMD_DEL_SERVICE],
    [{ kind: 'add-destination', key, destination: dest } as const, C.IPVS_CMD_NEW_DEST],
    [{ kind: 'edit-destination', key, destination: dest } as const, C.IPVS_CMD_SET_DEST],
    [{ kind: 'delete-destination', key, destination: dest } as const, C.IPVS_CMD_DEL_DEST],
    [
      { kind: 'set-timeouts', timeouts: { tcpS: 900, tcpFinS: 120, udpS: 300 } } as const,
      C.IPVS_CMD_SET_CONFIG,
    ],
  ])('%o is command %i', (op, cmd) => {
    expect(encodeOperation(op).cmd).toBe(cmd);
  });

  it('identifies the service by key only in destination commands', () => {
    const req = encodeOperation({ kind: 'add-destination', key, destination: dest });
    const svc = parseAttrs(parseAttrs(req.attrs[0] as Buffer).get(C.IPVS_CMD_ATTR_SERVICE) as Buffer);
    expect([...svc.keys()]).toEqual([
      C.IPVS_SVC_ATTR_AF,
      C.IPVS_SVC_ATTR_PROTOCOL,
      C.IPVS_SVC_ATTR_ADDR,
      C.IPVS_SVC_ATTR_PORT,
    ]);
  });
});

describe('decoding hostile input', () => {
  it('returns null instead of throwing on truncated or missing attributes', () => {
    for (let len = 0; len < 60; len++) {
      const full = serviceAttrs(services[0] as VirtualService);
      expect(() => decodeService(parseAttrs(full.subarray(0, len)))).not.toThrow();
      expect(() => decodeDestination(parseAttrs(full.subarray(0, len)), 'inet')).not.toThrow();
    }
    expect(decodeService(parseAttrs(Buffer.alloc(0)))).toBeNull();
  });
});
