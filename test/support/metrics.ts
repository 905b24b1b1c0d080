/**
 * Shared helpers for the metrics tests (unit tier, and the netns tier's promtool lint): a fake kernel
 * dump, a VRRP snapshot and a small text-exposition parser.
 */

import type { VrrpMetricsSnapshot } from '../../src/metrics/vrrp-metrics.js';
import {
  addressService,
  type DestinationState,
  fwmarkService,
  type IpvsStats,
  type ServiceKey,
  type ServiceState,
  serviceKeyString,
} from '../../src/model/ipvs.js';

export function stats(base: number): IpvsStats {
  return {
    conns: base,
    inPackets: base * 10,
    outPackets: base * 9,
    inBytes: base * 1000,
    outBytes: base * 9000,
    cps: 1,
    inPps: 2,
    outPps: 3,
    inBps: 4,
    outBps: 5,
  };
}

function dest(address: string, port: number, weight: number, base: number): DestinationState {
  return {
    address,
    port,
    forwarding: 'nat',
    weight,
    upperThreshold: 0,
    lowerThreshold: 0,
    activeConns: base + 1,
    inactiveConns: base + 2,
    persistConns: base + 3,
    stats: stats(base),
  };
}

function service(key: ServiceKey, base: number, destinations: DestinationState[]): ServiceState {
  return { key, scheduler: 'wrr', persistence: null, flags: 0, stats: stats(base), destinations };
}

export const WEB = addressService('inet', 'tcp', '203.0.113.100', 80);
/** Written the long way on purpose: labels must carry the RFC 5952 form. */
export const DNS6 = addressService('inet6', 'udp', '2001:DB8:0:0::100', 53);
export const MARK4 = fwmarkService('inet', 7);
export const MARK6 = fwmarkService('inet6', 7);
export const DIAMETER = addressService('inet', 'sctp', '203.0.113.101', 3868);

/** A table with every kind of service: tcp, udp over IPv6, fwmark in both families, sctp without backends. */
export function fakeTable(): ServiceState[] {
  return [
    service(WEB, 100, [dest('198.51.100.11', 8080, 3, 40), dest('198.51.100.12', 8080, 1, 60)]),
    service(DNS6, 200, [dest('2001:db8:0::53', 53, 5, 7)]),
    service(MARK4, 300, [dest('198.51.100.21', 0, 2, 11)]),
    service(MARK6, 400, [dest('2001:db8::21', 0, 4, 13)]),
    service(DIAMETER, 500, []),
  ];
}

/** The config's names; the fwmark services are "unmanaged" (no name). The DNS name needs escaping. */
export const NAMES: ReadonlyMap<string, string> = new Map([
  [serviceKeyString(WEB), 'web'],
  [serviceKeyString(DNS6), 'dns "v6" \\ east'],
  [serviceKeyString(DIAMETER), 'diameter'],
]);
export const serviceName = (key: ServiceKey): string | undefined => NAMES.get(serviceKeyString(key));

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the sample lines of a Prometheus text exposition (enough for what prom-client writes). */
export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    if (brace === -1 || brace > space) {
      out.push({ name: line.slice(0, space), labels: {}, value: Number(line.slice(space + 1)) });
      continue;
    }
    const labels: Record<string, string> = {};
    let i = brace + 1;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      const name = line.slice(i, eq);
      i = eq + 2; // past ="
      let value = '';
      while (line[i] !== '"') {
        if (line[i] === '\\') {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : next;
          i += 2;
        } else {
          value += line[i];
          i += 1;
        }
      }
      labels[name] = value;
      i += 1; // closing quote
      if (line[i] === ',') i += 1;
    }
    out.push({ name: line.slice(0, brace), labels, value: Number(line.slice(i + 2)) });
  }
  return out;
}

/** The one sample of `name` whose labels include `match`; throws when there is not exactly one. */
export function sample(text: string, name: string, match: Record<string, string> = {}): number {
  const found = samples(text).filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${name} ${JSON.stringify(match)}, found ${found.length}`);
  return (found[0] as Sample).value;
}

export function seriesOf(text: string, name: string): Sample[] {
  return samples(text).filter((s) => s.name === name);
}

/** family name → TYPE, from the `# TYPE` lines; and the set of families with a `# HELP`. */
export function families(text: string): { types: Map<string, string>; help: Set<string> } {
  const types = new Map<string, string>();
  const help = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] && type[2]) types.set(type[1], type[2]);
    const h = /^# HELP (\S+) \S/.exec(line);
    if (h?.[1]) help.add(h[1]);
  }
  return { types, help };
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What the VRRP side reports to the metrics: one MASTER and one BACKUP instance in a sync group. */
export const VRRP_SNAPSHOT: VrrpMetricsSnapshot = {
  instances: [
    {
      name: 'VI_client',
      state: 'MASTER',
      priority: 150,
      master_address: '203.0.113.2',
      transitions_by_state: { MASTER: 2, BACKUP: 3, FAULT: 1, INIT: 0 },
      last_transition: '2025-01-01T00:00:00.000Z',
      adverts: { sent: 40, received: 7, dropped: { bad_ttl: 2, auth_mismatch: 0 } },
    },
    { name: 'VI_server', state: 'BACKUP', priority: 100, master_address: null },
  ],
  sync_groups: [
    {
      name: 'VG1',
      state: 'BACKUP',
      members: ['VI_client', 'VI_server'],
      transitions_by_state: { MASTER: 1, BACKUP: 2, FAULT: 0, INIT: 0 },
      last_transition: '2025-01-01T00:00:01.000Z',
    },
  ],
  sockets: [
    { interface: 'eth0', family: 'inet', drops: 46065 },
    { interface: 'eth1', family: 'inet6', drops: 0 },
  ],
  sync_daemon: { running: ['backup'], wanted: 'backup', switches: 3, errors: 1 },
};
