import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { operationJson, operationText } from '../../../src/cli/format-operations.js';
import type {
  Destination,
  Forwarding,
  IpvsOperation,
  Protocol,
  ServiceKey,
  VirtualService,
} from '../../../src/model/ipvs.js';

/**
 * The rule operationText is written out from: kind, service, destination, then operationJson's other
 * fields as key=value, objects and non-empty lists as JSON, null and empty lists left out.
 */
function textFromJson(op: IpvsOperation): string {
  const { op: kind, service, destination, ...rest } = operationJson(op);
  const details = Object.entries(rest)
    .filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return [kind, service, destination, ...details].filter((x) => x !== undefined).join(' ');
}

const keyArb: fc.Arbitrary<ServiceKey> = fc.oneof(
  fc.record({
    family: fc.constant('inet' as const),
    protocol: fc.constantFrom<Protocol>('tcp', 'udp', 'sctp'),
    address: fc.constantFrom('203.0.113.10', '192.0.2.1'),
    port: fc.integer({ min: 1, max: 65535 }),
    fwmark: fc.constant(null),
  }),
  fc.record({
    family: fc.constant('inet6' as const),
    protocol: fc.constantFrom<Protocol>('tcp', 'udp'),
    address: fc.constantFrom('2001:db8::1', '2001:db8:0:1::80'),
    port: fc.integer({ min: 1, max: 65535 }),
    fwmark: fc.constant(null),
  }),
  fc.record({
    family: fc.constantFrom('inet' as const, 'inet6' as const),
    protocol: fc.constant(null),
    address: fc.constant(null),
    port: fc.constant(null),
    fwmark: fc.integer({ min: 1, max: 1000 }),
  }),
);

const serviceArb: fc.Arbitrary<VirtualService> = fc.record({
  key: keyArb,
  scheduler: fc.constantFrom('rr', 'wrr', 'wlc', 'sh', 'mh'),
  persistence: fc.option(
    fc.record({
      timeoutS: fc.integer({ min: 1, max: 86400 }),
      netmask: fc.constantFrom('255.255.255.255', '255.255.255.0', '128', '64'),
    }),
  ),
  flags: fc.integer({ min: 0, max: 0x7f }),
});

const destinationArb: fc.Arbitrary<Destination> = fc.record({
  address: fc.constantFrom('198.51.100.11', '2001:db8::11'),
  port: fc.integer({ min: 1, max: 65535 }),
  forwarding: fc.constantFrom<Forwarding>('nat', 'local', 'tun', 'dr'),
  weight: fc.integer({ min: 0, max: 65535 }),
  upperThreshold: fc.integer({ min: 0, max: 100000 }),
  lowerThreshold: fc.integer({ min: 0, max: 100000 }),
});

const operationArb: fc.Arbitrary<IpvsOperation> = fc.oneof(
  serviceArb.map((service) => ({ kind: 'add-service' as const, service })),
  serviceArb.map((service) => ({ kind: 'edit-service' as const, service })),
  keyArb.map((key) => ({ kind: 'delete-service' as const, key })),
  fc
    .tuple(keyArb, destinationArb)
    .map(([key, destination]) => ({ kind: 'add-destination' as const, key, destination })),
  fc
    .tuple(keyArb, destinationArb)
    .map(([key, destination]) => ({ kind: 'edit-destination' as const, key, destination })),
  fc.tuple(keyArb, destinationArb).map(([key, d]) => ({
    kind: 'delete-destination' as const,
    key,
    destination: { address: d.address, port: d.port },
  })),
  fc
    .record({
      tcpS: fc.integer({ min: 0, max: 100000 }),
      tcpFinS: fc.integer({ min: 0, max: 100000 }),
      udpS: fc.integer({ min: 0, max: 100000 }),
    })
    .map((timeouts) => ({ kind: 'set-timeouts' as const, timeouts })),
);

describe('operationText', () => {
  it('spells an operation as its JSON form says, for every kind', () => {
    fc.assert(
      fc.property(operationArb, (op) => {
        expect(operationText(op)).toBe(textFromJson(op));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads as documented for a persistent service with scheduler flags and a destination', () => {
    const key: ServiceKey = {
      family: 'inet',
      protocol: 'tcp',
      address: '203.0.113.100',
      port: 80,
      fwmark: null,
    };
    expect(
      operationText({
        kind: 'add-service',
        service: {
          key,
          scheduler: 'sh',
          persistence: { timeoutS: 300, netmask: '255.255.255.0' },
          flags: 0x0008, // IP_VS_SVC_F_SCHED1
        },
      }),
    ).toBe(
      'add-service tcp/203.0.113.100:80 scheduler=sh flags=["sh-fallback"] persistence={"timeout":300,"netmask":"255.255.255.0"}',
    );
    expect(
      operationText({
        kind: 'add-destination',
        key,
        destination: {
          address: '198.51.100.11',
          port: 8080,
          forwarding: 'nat',
          weight: 3,
          upperThreshold: 0,
          lowerThreshold: 0,
        },
      }),
    ).toBe(
      'add-destination tcp/203.0.113.100:80 198.51.100.11:8080 forwarding=nat weight=3 upperThreshold=0 lowerThreshold=0',
    );
  });
});
