/**
 * One real server of a virtual server. Most of its defaults come from the virtual server (port,
 * forwarding, check), so it is read with the virtual server's settings at hand and checked against
 * them: the same address family, and for dr/tun the same port, since IPVS only translates ports in
 * NAT mode.
 */
import type { Family } from '../model/ipvs.js';
import type { IpAddress } from './addresses.js';
import { type KeywordTable, readSection, requireKeys } from './keywords.js';
import type { ConfigForwarding, RealServerConfig } from './types.js';
import { type CheckDraft, effectiveCheck, readCheck, validateCheck } from './validate-check.js';
import type { Value } from './values.js';

export const FORWARDINGS: readonly ConfigForwarding[] = ['nat', 'dr', 'tun'];
/** The kernel refuses negative weights in an int: the largest is INT_MAX. */
export const MAX_WEIGHT = 2 ** 31 - 1;
const MAX_U32 = 2 ** 32 - 1;

/** What a real server inherits from and is checked against. */
export interface ServiceContext {
  readonly family: Family | undefined;
  readonly fwmark: boolean;
  /** undefined for fwmark services, and when the service's own port is bad (already reported). */
  readonly port: number | undefined;
  readonly forwarding: ConfigForwarding;
  readonly check: CheckDraft | null;
  /** A TCP connect says nothing about a UDP or SCTP server: with no check block they get none. */
  readonly checkByDefault: boolean;
}

/** An address and a port, kept with their values so later checks can point at them. */
export interface EndpointDraft {
  address?: IpAddress;
  addressValue?: Value;
  port?: number;
  portValue?: Value;
}

/** The `address` and `port` keys shared by real servers and the sorry server. */
export const ENDPOINT_KEYWORDS: KeywordTable<EndpointDraft> = {
  address: (v, d) => {
    d.address = v.ip();
    d.addressValue = v;
  },
  port: (v, d) => {
    d.port = v.int(1, 65535);
    d.portValue = v;
  },
};

interface RealServerDraft extends EndpointDraft {
  weight?: number;
  forwarding?: ConfigForwarding;
  upperThreshold?: number;
  lowerThreshold?: number;
  lowerValue?: Value;
  check?: CheckDraft;
}

const REAL_SERVER_KEYWORDS: KeywordTable<RealServerDraft> = {
  ...ENDPOINT_KEYWORDS,
  weight: (v, d) => {
    d.weight = v.int(0, MAX_WEIGHT);
  },
  forwarding: (v, d) => {
    d.forwarding = v.oneOf(FORWARDINGS);
  },
  upper_threshold: (v, d) => {
    d.upperThreshold = v.int(0, MAX_U32);
  },
  lower_threshold: (v, d) => {
    d.lowerThreshold = v.int(0, MAX_U32);
    d.lowerValue = v;
  },
  check: (v, d) => {
    d.check = readCheck(v);
  },
};

export function familyName(family: Family): string {
  return family === 'inet6' ? 'IPv6' : 'IPv4';
}

/** Reports an address whose family differs from the service's; true when it fits. */
export function checkFamily(
  value: Value,
  address: IpAddress,
  family: Family | undefined,
  what: string,
): boolean {
  if (family === undefined || address.family === family) return true;
  value.fail(
    `${what} address ${address.address} is ${familyName(address.family)} but the virtual server is ${familyName(family)}`,
  );
  return false;
}

/** Reports a dr/tun destination whose port differs from the service's. */
export function checkPortKept(
  value: Value | undefined,
  port: number,
  service: ServiceContext,
  forwarding: ConfigForwarding,
): void {
  if (value === undefined || service.port === undefined || forwarding === 'nat' || port === service.port)
    return;
  value.fail(
    `port ${port} differs from the virtual server's port ${service.port}; with ${forwarding} forwarding IPVS does not translate ports, so it must be ${service.port}`,
  );
}

/** Reads one real server; undefined when it is unusable (issues reported). */
export function readRealServer(value: Value, service: ServiceContext): RealServerConfig | undefined {
  const d: RealServerDraft = {};
  const fields = readSection(value, 'real server', REAL_SERVER_KEYWORDS, d);
  if (fields === undefined) return undefined;
  requireKeys(value, 'real server', fields, service.fwmark ? ['address', 'port'] : ['address']);
  if (d.address !== undefined && d.addressValue !== undefined) {
    checkFamily(d.addressValue, d.address, service.family, 'real server');
  }
  const forwarding = d.forwarding ?? service.forwarding;
  const port = d.port ?? service.port;
  if (d.port !== undefined) checkPortKept(d.portValue, d.port, service, forwarding);
  const upper = d.upperThreshold ?? 0;
  const lower = d.lowerThreshold ?? 0;
  if (upper > 0 && lower > upper) {
    d.lowerValue?.fail(`lower_threshold ${lower} must not be above upper_threshold ${upper}`);
  }
  if (d.check !== undefined) validateCheck(d.check, service.check);
  if (d.address === undefined || port === undefined) return undefined;
  const address = d.address.address;
  const checkSource = (d.check ?? service.check)?.value.pos ?? value.pos;
  const unchecked = d.check === undefined && service.check === null && !service.checkByDefault;
  return {
    address,
    port,
    weight: d.weight ?? 1,
    forwarding,
    upperThreshold: upper,
    lowerThreshold: lower,
    check: unchecked
      ? { type: 'none', source: checkSource }
      : effectiveCheck(d.check ?? null, service.check, { address, port }, checkSource),
    source: value.pos,
  };
}
