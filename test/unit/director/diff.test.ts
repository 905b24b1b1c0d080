import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diff, diffTimeouts } from '../../../src/director/diff.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import { addressFamily, canonicalAddress, canonicalNetmask } from '../../../src/model/address.js';
import {
  addressService,
  type DesiredService,
  type Destination,
  destinationKeyString,
  type Forwarding,
  fwmarkService,
  type IpvsOperation,
  type IpvsTimeouts,
  type Persistence,
  type Protocol,
  type ServiceKey,
  type ServiceState,
  serviceKeyString,
  type VirtualService,
  ZERO_STATS,
} from '../../../src/model/ipvs.js';

// ---------------------------------------------------------------------------------------------------
// Builders

const ONEPACKET = 0x0004;
const HASHED = 0x0002;
const PERSISTENT = 0x0001;

function tcp(address: string, port = 80): ServiceKey {
  return addressService(address.includes(':') ? 'inet6' : 'inet', 'tcp', address, port);
}

function svc(
  key: ServiceKey,
  destinations: Destination[] = [],
  settings: Partial<Omit<VirtualService, 'key'>> = {},
): DesiredService {
  return { key, scheduler: 'wrr', persistence: null, flags: 0, ...settings, destinations };
}

function dst(
  address: string,
  port = 8080,
  settings: Partial<Omit<Destination, 'address' | 'port'>> = {},
): Destination {
  return { address, port, forwarding: 'nat', weight: 1, upperThreshold: 0, lowerThreshold: 0, ...settings };
}

/** What a kernel dump of `service` would hold, with some traffic on it (counters must not matter). */
function state(service: DesiredService): ServiceState {
  return {
    key: service.key,
    scheduler: service.scheduler,
    persistence: service.persistence,
    flags: service.flags,
    stats: { ...ZERO_STATS, conns: 42 },
    destinations: service.destinations.map((d) => ({
      ...d,
      activeConns: 3,
      inactiveConns: 1,
      persistConns: 0,
      stats: { ...ZERO_STATS, conns: 7 },
    })),
  };
}

function plain(service: DesiredService): VirtualService {
  return {
    key: service.key,
    scheduler: service.scheduler,
    persistence: service.persistence,
    flags: service.flags,
  };
}

const vip = tcp('203.0.113.100');
const vip2 = tcp('203.0.113.101', 443);
const rs1 = dst('198.51.100.11');
const rs2 = dst('198.51.100.12');
const rs3 = dst('198.51.100.13');
const web = svc(vip, [rs1, rs2]);
const persist: Persistence = { timeoutS: 300, netmask: '255.255.255.255' };

// ---------------------------------------------------------------------------------------------------
// Tables

interface Case {
  readonly name: string;
  readonly desired: DesiredService[];
  readonly actual: DesiredService[];
  readonly unmanaged?: 'remove' | 'keep';
  readonly expected: IpvsOperation[];
}

const cases: Case[] = [
  { name: 'empty to empty', desired: [], actual: [], expected: [] },
  {
    name: 'adds a service, then its destinations in order',
    desired: [web],
    actual: [],
    expected: [
      { kind: 'add-service', service: plain(web) },
      { kind: 'add-destination', key: vip, destination: rs1 },
      { kind: 'add-destination', key: vip, destination: rs2 },
    ],
  },
  { name: 'an equal table needs nothing (counters ignored)', desired: [web], actual: [web], expected: [] },
  {
    name: 'scheduler change is one edit-service, destinations untouched',
    desired: [svc(vip, [rs1, rs2], { scheduler: 'wlc' })],
    actual: [web],
    expected: [{ kind: 'edit-service', service: plain(svc(vip, [], { scheduler: 'wlc' })) }],
  },
  {
    name: 'persistence turned on is an edit-service',
    desired: [svc(vip, [rs1, rs2], { persistence: persist })],
    actual: [web],
    expected: [{ kind: 'edit-service', service: plain(svc(vip, [], { persistence: persist })) }],
  },
  {
    name: 'persistence turned off is an edit-service',
    desired: [web],
    actual: [svc(vip, [rs1, rs2], { persistence: persist })],
    expected: [{ kind: 'edit-service', service: plain(svc(vip)) }],
  },
  {
    name: 'persistence timeout change is an edit-service',
    desired: [svc(vip, [rs1], { persistence: { timeoutS: 600, netmask: '255.255.255.255' } })],
    actual: [svc(vip, [rs1], { persistence: persist })],
    expected: [
      {
        kind: 'edit-service',
        service: plain(svc(vip, [], { persistence: { timeoutS: 600, netmask: '255.255.255.255' } })),
      },
    ],
  },
  {
    name: 'persistence netmask change is an edit-service',
    desired: [svc(vip, [rs1], { persistence: { timeoutS: 300, netmask: '255.255.255.0' } })],
    actual: [svc(vip, [rs1], { persistence: persist })],
    expected: [
      {
        kind: 'edit-service',
        service: plain(svc(vip, [], { persistence: { timeoutS: 300, netmask: '255.255.255.0' } })),
      },
    ],
  },
  {
    name: 'a netmask written as a prefix length equals its dotted quad',
    desired: [svc(vip, [rs1], { persistence: { timeoutS: 300, netmask: '32' } })],
    actual: [svc(vip, [rs1], { persistence: persist })],
    expected: [],
  },
  {
    name: 'HASHED and PERSISTENT flags from the kernel are ignored',
    desired: [svc(vip, [rs1], { persistence: persist })],
    actual: [svc(vip, [rs1], { persistence: persist, flags: HASHED | PERSISTENT })],
    expected: [],
  },
  {
    name: 'a real flag change (ONEPACKET) is an edit-service',
    desired: [svc(tcp('203.0.113.100', 53), [], { flags: ONEPACKET })],
    actual: [svc(tcp('203.0.113.100', 53), [], { flags: HASHED })],
    expected: [
      { kind: 'edit-service', service: plain(svc(tcp('203.0.113.100', 53), [], { flags: ONEPACKET })) },
    ],
  },
  {
    name: 'weight change is an edit-destination, not delete + add',
    desired: [svc(vip, [rs1, dst('198.51.100.12', 8080, { weight: 5 })])],
    actual: [web],
    expected: [
      { kind: 'edit-destination', key: vip, destination: dst('198.51.100.12', 8080, { weight: 5 }) },
    ],
  },
  {
    name: 'weight 0 (drain) is an edit-destination',
    desired: [svc(vip, [dst('198.51.100.11', 8080, { weight: 0 }), rs2])],
    actual: [web],
    expected: [
      { kind: 'edit-destination', key: vip, destination: dst('198.51.100.11', 8080, { weight: 0 }) },
    ],
  },
  {
    name: 'forwarding change is an edit-destination',
    desired: [svc(vip, [dst('198.51.100.11', 8080, { forwarding: 'dr' }), rs2])],
    actual: [web],
    expected: [
      { kind: 'edit-destination', key: vip, destination: dst('198.51.100.11', 8080, { forwarding: 'dr' }) },
    ],
  },
  {
    name: 'threshold changes are edit-destinations',
    desired: [
      svc(vip, [
        dst('198.51.100.11', 8080, { upperThreshold: 100 }),
        dst('198.51.100.12', 8080, { upperThreshold: 50, lowerThreshold: 10 }),
      ]),
    ],
    actual: [svc(vip, [rs1, dst('198.51.100.12', 8080, { upperThreshold: 50 })])],
    expected: [
      {
        kind: 'edit-destination',
        key: vip,
        destination: dst('198.51.100.11', 8080, { upperThreshold: 100 }),
      },
      {
        kind: 'edit-destination',
        key: vip,
        destination: dst('198.51.100.12', 8080, { upperThreshold: 50, lowerThreshold: 10 }),
      },
    ],
  },
  {
    name: 'a removed destination is deleted',
    desired: [svc(vip, [rs1])],
    actual: [web],
    expected: [
      { kind: 'delete-destination', key: vip, destination: { address: '198.51.100.12', port: 8080 } },
    ],
  },
  {
    name: 'same address on another port is another destination',
    desired: [svc(vip, [rs1, dst('198.51.100.12', 8081)])],
    actual: [web],
    expected: [
      { kind: 'delete-destination', key: vip, destination: { address: '198.51.100.12', port: 8080 } },
      { kind: 'add-destination', key: vip, destination: dst('198.51.100.12', 8081) },
    ],
  },
  {
    name: 'within a service: edit-service, then deletes, edits, adds',
    desired: [svc(vip, [rs3, dst('198.51.100.12', 8080, { weight: 9 })], { scheduler: 'rr' })],
    actual: [web],
    expected: [
      { kind: 'edit-service', service: plain(svc(vip, [], { scheduler: 'rr' })) },
      { kind: 'delete-destination', key: vip, destination: { address: '198.51.100.11', port: 8080 } },
      { kind: 'edit-destination', key: vip, destination: dst('198.51.100.12', 8080, { weight: 9 }) },
      { kind: 'add-destination', key: vip, destination: rs3 },
    ],
  },
  {
    name: 'an unmanaged service is deleted with unmanaged: remove',
    desired: [],
    actual: [web],
    unmanaged: 'remove',
    expected: [{ kind: 'delete-service', key: vip }],
  },
  {
    name: 'an unmanaged service is kept with unmanaged: keep',
    desired: [],
    actual: [web],
    unmanaged: 'keep',
    expected: [],
  },
  {
    name: 'unmanaged deletions come after every desired service, in kernel order',
    desired: [svc(vip2, [rs1])],
    actual: [svc(tcp('203.0.113.102')), web],
    expected: [
      { kind: 'add-service', service: plain(svc(vip2)) },
      { kind: 'add-destination', key: vip2, destination: rs1 },
      { kind: 'delete-service', key: tcp('203.0.113.102') },
      { kind: 'delete-service', key: vip },
    ],
  },
  {
    name: 'desired services are handled in desired order',
    desired: [svc(vip2, [rs2]), svc(vip, [rs1])],
    actual: [],
    expected: [
      { kind: 'add-service', service: plain(svc(vip2)) },
      { kind: 'add-destination', key: vip2, destination: rs2 },
      { kind: 'add-service', service: plain(svc(vip)) },
      { kind: 'add-destination', key: vip, destination: rs1 },
    ],
  },
  {
    name: 'keep still deletes extra destinations of managed services',
    desired: [svc(vip, [rs1])],
    actual: [web, svc(vip2, [rs3])],
    unmanaged: 'keep',
    expected: [
      { kind: 'delete-destination', key: vip, destination: { address: '198.51.100.12', port: 8080 } },
    ],
  },
  {
    name: 'protocol is part of the key',
    desired: [svc(addressService('inet', 'udp', '203.0.113.100', 80))],
    actual: [svc(vip)],
    expected: [
      { kind: 'add-service', service: plain(svc(addressService('inet', 'udp', '203.0.113.100', 80))) },
      { kind: 'delete-service', key: vip },
    ],
  },
  {
    name: 'IPv6 service and destination addresses compare canonically',
    desired: [svc(tcp('2001:DB8:0::1'), [dst('2001:DB8:1:0:0:0:0:A', 80)])],
    actual: [svc(tcp('2001:db8::1'), [dst('2001:db8:1::a', 80)])],
    expected: [],
  },
  {
    name: 'operations carry canonical addresses',
    desired: [svc(tcp('2001:DB8:0::1'), [dst('2001:0DB8:1::A', 80)])],
    actual: [],
    expected: [
      { kind: 'add-service', service: plain(svc(tcp('2001:db8::1'))) },
      { kind: 'add-destination', key: tcp('2001:db8::1'), destination: dst('2001:db8:1::a', 80) },
    ],
  },
  {
    name: 'IPv6 weight change on a differently spelled destination is an edit',
    desired: [svc(tcp('2001:db8::1'), [dst('2001:DB8:1::A', 80, { weight: 4 })])],
    actual: [svc(tcp('2001:db8::1'), [dst('2001:db8:1::a', 80)])],
    expected: [
      {
        kind: 'edit-destination',
        key: tcp('2001:db8::1'),
        destination: dst('2001:db8:1::a', 80, { weight: 4 }),
      },
    ],
  },
  {
    name: 'fwmark services: added with destinations',
    desired: [svc(fwmarkService('inet', 7), [rs1, rs2], { scheduler: 'sh' })],
    actual: [],
    expected: [
      { kind: 'add-service', service: plain(svc(fwmarkService('inet', 7), [], { scheduler: 'sh' })) },
      { kind: 'add-destination', key: fwmarkService('inet', 7), destination: rs1 },
      { kind: 'add-destination', key: fwmarkService('inet', 7), destination: rs2 },
    ],
  },
  {
    name: 'fwmark services: equal needs nothing, a change is an edit',
    desired: [
      svc(fwmarkService('inet', 7), [rs1]),
      svc(fwmarkService('inet', 8), [rs1], { scheduler: 'mh' }),
    ],
    actual: [svc(fwmarkService('inet', 7), [rs1]), svc(fwmarkService('inet', 8), [rs1])],
    expected: [
      { kind: 'edit-service', service: plain(svc(fwmarkService('inet', 8), [], { scheduler: 'mh' })) },
    ],
  },
  {
    name: 'fwmark services: the same mark in inet and inet6 are two services',
    desired: [svc(fwmarkService('inet6', 7))],
    actual: [svc(fwmarkService('inet', 7))],
    expected: [
      { kind: 'add-service', service: plain(svc(fwmarkService('inet6', 7))) },
      { kind: 'delete-service', key: fwmarkService('inet', 7) },
    ],
  },
  {
    name: "the kernel's local forwarding is not churned against nat",
    desired: [svc(vip, [dst('203.0.113.100', 8080)])],
    actual: [svc(vip, [dst('203.0.113.100', 8080, { forwarding: 'local' })])],
    expected: [],
  },
  {
    name: 'a weight change on a local destination is an edit that asks for nat',
    desired: [svc(vip, [dst('203.0.113.100', 8080, { weight: 2 })])],
    actual: [svc(vip, [dst('203.0.113.100', 8080, { forwarding: 'local' })])],
    expected: [
      { kind: 'edit-destination', key: vip, destination: dst('203.0.113.100', 8080, { weight: 2 }) },
    ],
  },
  {
    name: 'local against a desired dr is a real change',
    desired: [svc(vip, [dst('203.0.113.100', 8080, { forwarding: 'dr' })])],
    actual: [svc(vip, [dst('203.0.113.100', 8080, { forwarding: 'local' })])],
    expected: [
      { kind: 'edit-destination', key: vip, destination: dst('203.0.113.100', 8080, { forwarding: 'dr' }) },
    ],
  },
  {
    name: 'a duplicate desired service or destination is ignored (first wins)',
    desired: [
      svc(vip, [rs1, dst('198.51.100.11', 8080, { weight: 9 })]),
      svc(vip, [rs2], { scheduler: 'rr' }),
    ],
    actual: [],
    expected: [
      { kind: 'add-service', service: plain(svc(vip)) },
      { kind: 'add-destination', key: vip, destination: rs1 },
    ],
  },
];

describe('diff', () => {
  it.each(cases)('$name', ({ desired, actual, unmanaged = 'remove', expected }) => {
    expect(diff(desired, actual.map(state), { unmanaged })).toEqual(expected);
  });

  it.each(cases)('applying the operations converges: $name', async ({
    desired,
    actual,
    unmanaged = 'remove',
  }) => {
    const backend = createMemoryBackend(actual.map(state));
    const results = await backend.apply(diff(desired, await backend.dump(), { unmanaged }));
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    expect(diff(desired, await backend.dump(), { unmanaged })).toEqual([]);
  });

  it('does not churn a destination the backend turned into local', async () => {
    const desired = [svc(vip, [dst('203.0.113.100', 8080), rs1])];
    const backend = createMemoryBackend([], { localAddresses: ['203.0.113.100'] });
    await backend.apply(diff(desired, await backend.dump(), { unmanaged: 'remove' }));
    const dump = await backend.dump();
    expect(dump[0]?.destinations.map((d) => d.forwarding)).toEqual(['local', 'nat']);
    expect(diff(desired, dump, { unmanaged: 'remove' })).toEqual([]);
  });

  it('does not mutate its inputs', () => {
    const desired = [svc(tcp('2001:DB8::1'), [dst('2001:DB8::A', 80)])];
    const actual = [state(svc(vip, [rs1]))];
    const before = JSON.stringify([desired, actual]);
    diff(desired, actual, { unmanaged: 'remove' });
    expect(JSON.stringify([desired, actual])).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------------
// diffTimeouts

const kernelTimeouts: IpvsTimeouts = { tcpS: 900, tcpFinS: 120, udpS: 300 };

describe('diffTimeouts', () => {
  it.each<[string, Partial<IpvsTimeouts>, IpvsOperation | null]>([
    ['nothing configured', {}, null],
    ['configured values equal the kernel', { tcpS: 900, udpS: 300 }, null],
    ['all equal', { tcpS: 900, tcpFinS: 120, udpS: 300 }, null],
    ['0 means unset', { tcpS: 0 }, null],
    [
      'one differs: the rest keep the kernel values',
      { tcpS: 600 },
      { kind: 'set-timeouts', timeouts: { tcpS: 600, tcpFinS: 120, udpS: 300 } },
    ],
    [
      'udp differs',
      { udpS: 60, tcpS: 900 },
      { kind: 'set-timeouts', timeouts: { tcpS: 900, tcpFinS: 120, udpS: 60 } },
    ],
    [
      'all differ',
      { tcpS: 1, tcpFinS: 2, udpS: 3 },
      { kind: 'set-timeouts', timeouts: { tcpS: 1, tcpFinS: 2, udpS: 3 } },
    ],
  ])('%s', (_name, desired, expected) => {
    expect(diffTimeouts(desired, kernelTimeouts)).toEqual(expected);
  });

  it('converges through the memory backend', async () => {
    const backend = createMemoryBackend();
    const op = diffTimeouts({ tcpFinS: 30 }, await backend.timeouts());
    expect(op).not.toBeNull();
    if (op !== null) await backend.apply([op]);
    expect(await backend.timeouts()).toEqual({ tcpS: 900, tcpFinS: 30, udpS: 300 });
    expect(diffTimeouts({ tcpFinS: 30 }, await backend.timeouts())).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------
// Address helpers (src/model/address.ts)

describe('canonicalAddress', () => {
  it.each([
    ['2001:DB8:0::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // longest run wins
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'], // leftmost on a tie
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::FFFF:192.0.2.1', '::ffff:192.0.2.1'],
    ['::ffff:c000:0201', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::c000:201'],
    ['1:2:3:4:5:6:192.0.2.1', '1:2:3:4:5:6:c000:201'],
    ['FE80::0001%eth0', 'fe80::1%eth0'],
    ['192.0.2.1', '192.0.2.1'],
    ['not-an-address', 'not-an-address'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalAddress(input)).toBe(expected);
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.ipV6(), (address) => {
        const once = canonicalAddress(address);
        expect(canonicalAddress(once)).toBe(once);
        expect(addressFamily(once)).toBe('inet6');
      }),
    );
  });

  it('agrees with the WHATWG URL serialiser (RFC 5952 too) outside IPv4-mapped addresses', () => {
    fc.assert(
      fc.property(fc.ipV6(), (address) => {
        const expected = new URL(`http://[${address}]/`).hostname.slice(1, -1);
        fc.pre(!expected.startsWith('::ffff:'));
        expect(canonicalAddress(address)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['inet', '32', '255.255.255.255'],
    ['inet', '/24', '255.255.255.0'],
    ['inet', '0', '0.0.0.0'],
    ['inet', '255.255.0.0', '255.255.0.0'],
    ['inet6', '/64', '64'],
    ['inet6', '128', '128'],
  ] as const)('canonicalNetmask(%s, %s) → %s', (family, netmask, expected) => {
    expect(canonicalNetmask(family, netmask)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties: random tables through the memory backend

const SERVICE_ADDRESSES = ['203.0.113.1', '203.0.113.2', '2001:db8::1', '2001:DB8:0::1', '2001:db8:0:0::2'];
const DEST_ADDRESSES = [
  '198.51.100.1',
  '198.51.100.2',
  '198.51.100.3',
  '2001:db8:1::a',
  '2001:DB8:1:0::A',
  '2001:db8:1::b',
];

const keyArb: fc.Arbitrary<ServiceKey> = fc.oneof(
  fc
    .record({
      protocol: fc.constantFrom<Protocol>('tcp', 'udp', 'sctp'),
      address: fc.constantFrom(...SERVICE_ADDRESSES),
      port: fc.constantFrom(80, 443),
    })
    .map(({ protocol, address, port }) =>
      addressService(addressFamily(address) ?? 'inet', protocol, address, port),
    ),
  fc
    .record({
      family: fc.constantFrom('inet' as const, 'inet6' as const),
      mark: fc.integer({ min: 1, max: 3 }),
    })
    .map(({ family, mark }) => fwmarkService(family, mark)),
);

function destinationArb(forwardings: readonly Forwarding[]): fc.Arbitrary<Destination> {
  return fc
    .record({
      address: fc.constantFrom(...DEST_ADDRESSES),
      port: fc.constantFrom(80, 8080),
      forwarding: fc.constantFrom(...forwardings),
      weight: fc.integer({ min: 0, max: 3 }),
      upperThreshold: fc.integer({ min: 0, max: 3 }),
      lowerFraction: fc.integer({ min: 0, max: 3 }),
    })
    .map(({ lowerFraction, ...d }) => ({ ...d, lowerThreshold: Math.min(lowerFraction, d.upperThreshold) }));
}

function serviceArb(
  forwardings: readonly Forwarding[],
  flags: readonly number[],
): fc.Arbitrary<DesiredService> {
  return fc
    .record({
      key: keyArb,
      scheduler: fc.constantFrom('rr', 'wrr', 'wlc', 'sh', 'mh'),
      persistence: fc.option(
        fc.record({ timeoutS: fc.constantFrom(300, 600), prefix: fc.constantFrom(24, 32) }),
        { nil: null },
      ),
      flags: fc.constantFrom(...flags),
      destinations: fc.uniqueArray(destinationArb(forwardings), {
        maxLength: 4,
        selector: (d) => destinationKeyString({ address: canonicalAddress(d.address), port: d.port }),
      }),
    })
    .map(({ persistence, ...s }) => ({
      ...s,
      persistence:
        persistence === null
          ? null
          : {
              timeoutS: persistence.timeoutS,
              netmask:
                s.key.family === 'inet6' ? String(persistence.prefix + 96) : String(persistence.prefix),
            },
    }));
}

function tableArb(
  forwardings: readonly Forwarding[],
  flags: readonly number[],
): fc.Arbitrary<DesiredService[]> {
  return fc.uniqueArray(serviceArb(forwardings, flags), {
    maxLength: 5,
    selector: (s) =>
      s.key.fwmark === null
        ? serviceKeyString({ ...s.key, address: canonicalAddress(s.key.address) })
        : serviceKeyString(s.key),
  });
}

const desiredArb = tableArb(['nat', 'dr', 'tun'], [0, ONEPACKET, 0x8, 0x10]);
/** The kernel side may report local forwarding and the HASHED/PERSISTENT bits. */
const actualArb = tableArb(
  ['nat', 'dr', 'tun', 'local'],
  [0, HASHED, HASHED | PERSISTENT, ONEPACKET | HASHED, 0x8],
);

/** IPv6 addresses spelled differently from how the config wrote them (the diff must not care). */
function respell(address: string): string {
  return address.includes(':')
    ? address.toUpperCase().replace('::', ':0::').replace(/^:0::/, '0::')
    : address;
}

function perturbDestination(d: Destination): fc.Arbitrary<Destination | null> {
  return fc
    .record({
      present: fc.integer({ min: 0, max: 5 }),
      weight: fc.constantFrom(d.weight, d.weight, d.weight + 1),
      forwarding: fc.constantFrom<Forwarding>(
        d.forwarding,
        d.forwarding,
        d.forwarding === 'nat' ? 'local' : 'nat',
        'dr',
      ),
      upperThreshold: fc.constantFrom(d.upperThreshold, d.upperThreshold, d.upperThreshold + 2),
      respell: fc.boolean(),
    })
    .map(({ present, respell: again, ...changes }) =>
      present === 0 ? null : { ...d, ...changes, address: again ? respell(d.address) : d.address },
    );
}

/** A kernel table near `desired`: some services and destinations dropped, changed or respelled. */
function nearbyActual(
  desired: readonly DesiredService[],
  extra: readonly DesiredService[],
): fc.Arbitrary<DesiredService[]> {
  const perturbService = (s: DesiredService): fc.Arbitrary<DesiredService | null> =>
    fc
      .record({
        present: fc.integer({ min: 0, max: 5 }),
        scheduler: fc.constantFrom(s.scheduler, s.scheduler, 'rr'),
        persistence: fc.constantFrom<Persistence | null>(s.persistence, s.persistence, null, {
          timeoutS: 900,
          netmask: s.key.family === 'inet6' ? '128' : '255.255.255.255',
        }),
        flags: fc.constantFrom(s.flags, s.flags | HASHED, 0),
        respell: fc.boolean(),
        destinations: fc.tuple(...s.destinations.map(perturbDestination)),
        added: fc.array(destinationArb(['nat', 'dr', 'local']), { maxLength: 2 }),
      })
      .map(({ present, respell: again, destinations, added, ...changes }) => {
        if (present === 0) return null;
        const kept = destinations.filter((d): d is Destination => d !== null);
        const ids = new Set(
          kept.map((d) => destinationKeyString({ address: canonicalAddress(d.address), port: d.port })),
        );
        for (const d of added) {
          const id = destinationKeyString({ address: canonicalAddress(d.address), port: d.port });
          if (!ids.has(id)) kept.push(d);
          ids.add(id);
        }
        const key = again && s.key.fwmark === null ? { ...s.key, address: respell(s.key.address) } : s.key;
        return { ...s, ...changes, key, destinations: kept };
      });
  return fc.tuple(...desired.map(perturbService)).map((perturbed) => {
    const table = perturbed.filter((s): s is DesiredService => s !== null);
    const ids = new Set(table.map((s) => keyId(s.key)));
    return [...table, ...extra.filter((s) => !ids.has(keyId(s.key)))];
  });
}

/** Pairs (desired, actual) that overlap a lot, so edits and in-place changes are exercised. */
const pairArb: fc.Arbitrary<[DesiredService[], DesiredService[]]> = fc.oneof(
  fc.tuple(desiredArb, actualArb),
  fc
    .tuple(desiredArb, actualArb)
    .chain(([desired, extra]) =>
      nearbyActual(desired, extra).map((actual): [DesiredService[], DesiredService[]] => [desired, actual]),
    ),
);

/** A comparable view: canonical, counters dropped, local read as nat, sorted. */
function view(table: readonly DesiredService[]): unknown[] {
  return table
    .map((s) => {
      const key = s.key.fwmark === null ? { ...s.key, address: canonicalAddress(s.key.address) } : s.key;
      return {
        id: serviceKeyString(key),
        scheduler: s.scheduler,
        persistence:
          s.persistence === null
            ? null
            : {
                timeoutS: s.persistence.timeoutS,
                netmask: canonicalNetmask(key.family, s.persistence.netmask),
              },
        flags: s.flags & ~(HASHED | PERSISTENT),
        destinations: s.destinations
          .map((d) => ({
            id: destinationKeyString({ address: canonicalAddress(d.address), port: d.port }),
            forwarding: d.forwarding === 'local' ? 'nat' : d.forwarding,
            weight: d.weight,
            upperThreshold: d.upperThreshold,
            lowerThreshold: d.lowerThreshold,
          }))
          .sort((a, b) => a.id.localeCompare(b.id)),
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

function keyId(key: ServiceKey): string {
  return key.fwmark === null
    ? serviceKeyString({ ...key, address: canonicalAddress(key.address) })
    : serviceKeyString(key);
}

/** Structural minimality: nothing is both removed and re-added, at most one service-level op per key. */
function assertNoChurn(ops: readonly IpvsOperation[]): void {
  const serviceOps = new Map<string, number>();
  const removed = new Set<string>();
  for (const op of ops) {
    if (op.kind === 'set-timeouts') continue;
    const key = op.kind === 'add-service' || op.kind === 'edit-service' ? op.service.key : op.key;
    const id = keyId(key);
    if (op.kind === 'add-service' || op.kind === 'edit-service' || op.kind === 'delete-service') {
      serviceOps.set(id, (serviceOps.get(id) ?? 0) + 1);
    }
    if (op.kind === 'delete-destination') removed.add(`${id} ${destinationKeyString(op.destination)}`);
    if (op.kind === 'add-destination')
      expect(removed.has(`${id} ${destinationKeyString(op.destination)}`)).toBe(false);
  }
  for (const count of serviceOps.values()) expect(count).toBe(1);
}

describe('diff properties', () => {
  it('unmanaged remove: applying the diff yields exactly the desired table, and a second diff is empty', async () => {
    await fc.assert(
      fc.asyncProperty(pairArb, async ([desired, actual]) => {
        const backend = createMemoryBackend(actual.map(state), {
          localAddresses: ['198.51.100.3', '2001:db8:1::b'],
        });
        const ops = diff(desired, actual.map(state), { unmanaged: 'remove' });
        expect(diff(desired, await backend.dump(), { unmanaged: 'remove' })).toEqual(ops);
        assertNoChurn(ops);
        const results = await backend.apply(ops);
        expect(results.filter((r) => r.error !== null)).toEqual([]);
        const after = await backend.dump();
        expect(view(after)).toEqual(view(desired));
        expect(diff(desired, after, { unmanaged: 'remove' })).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('unmanaged keep: desired services match, every other kernel service is untouched', async () => {
    await fc.assert(
      fc.asyncProperty(pairArb, async ([desired, actual]) => {
        const backend = createMemoryBackend(actual.map(state), {
          localAddresses: ['198.51.100.3', '2001:db8:1::b'],
        });
        const ops = diff(desired, await backend.dump(), { unmanaged: 'keep' });
        expect(ops.some((op) => op.kind === 'delete-service')).toBe(false);
        assertNoChurn(ops);
        const results = await backend.apply(ops);
        expect(results.filter((r) => r.error !== null)).toEqual([]);
        const after = await backend.dump();
        const desiredIds = new Set(desired.map((s) => keyId(s.key)));
        const untouched = actual.filter((s) => !desiredIds.has(keyId(s.key)));
        expect(view(after)).toEqual(view([...desired, ...untouched]));
        expect(diff(desired, after, { unmanaged: 'keep' })).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('a table diffed against itself is empty', () => {
    fc.assert(
      fc.property(desiredArb, (desired) => {
        expect(diff(desired, desired.map(state), { unmanaged: 'remove' })).toEqual([]);
      }),
    );
  });
});
