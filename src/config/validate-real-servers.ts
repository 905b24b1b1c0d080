/**
 * One real server of a virtual server. Most of its defaults come from the virtual server (port,
 * forwarding, check), so it is read with the virtual server's settings at hand and checked against
 * them: the same address family, and for dr/tun the same port, since IPVS only translates ports in
 * NAT mode.
 */
import type { Family } from '../model/ipvs.js';
import type { IpAddress } from './addresses.js';
import { type KeywordTable, key, readSection, type ValueType } from './keywords.js';
import type { CheckConfig, ConfigForwarding, RealServerConfig } from './types.js';
import { type CheckDraft, checkType, effectiveChecks, validateCheck } from './validate-check.js';
import { bool, command, int, ipAddress, listOf, oneOf } from './value-types.js';
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
  /** The virtual server's `checks` (instead of `check`), or null. */
  readonly checks: readonly CheckDraft[] | null;
  readonly inhibitOnFailure: boolean;
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
export const ENDPOINT_KEYWORDS = {
  address: key(
    ipAddress(),
    { description: 'address, of the same family as the virtual server', required: true },
    (d: EndpointDraft, x, v) => {
      d.address = x;
      d.addressValue = v;
    },
  ),
  port: key(
    int(0, 65535),
    {
      description:
        "port; 0 (or, for fwmark services, none): the port each packet was sent to. With `dr`/`tun` it must equal the service's port",
      defaultText: "the virtual server's port (0 for fwmark services)",
    },
    (d: EndpointDraft, x, v) => {
      d.port = x;
      d.portValue = v;
    },
  ),
} satisfies KeywordTable<EndpointDraft>;

interface RealServerDraft extends EndpointDraft {
  weight?: number;
  forwarding?: ConfigForwarding;
  upperThreshold?: number;
  lowerThreshold?: number;
  lowerValue?: Value;
  check?: CheckDraft;
  checks?: CheckDraft[];
  inhibitOnFailure?: boolean;
  notifyUp?: string[];
  notifyDown?: string[];
}

/** keepalived has no limit; each check is probed on its own. */
export const MAX_CHECKS = 16;

/** A list of check blocks (`checks:`); each is read like a `check`. */
export function checkList(): ValueType<CheckDraft[]> {
  return listOf(checkType(), 'check', MAX_CHECKS, 1);
}

export const REAL_SERVER_KEYWORDS = {
  ...ENDPOINT_KEYWORDS,
  weight: key(
    int(0, MAX_WEIGHT),
    { description: 'scheduling weight; 0 takes no new connections', default: 1 },
    (d: RealServerDraft, x) => {
      d.weight = x;
    },
  ),
  forwarding: key(
    oneOf(FORWARDINGS),
    {
      description: 'forwarding method: `nat` (masquerade), `dr` or `tun`',
      defaultText: "the virtual server's",
    },
    (d: RealServerDraft, x) => {
      d.forwarding = x;
    },
  ),
  upper_threshold: key(
    int(0, MAX_U32),
    { description: 'connection limit above which no new connections go here; 0: no limit', default: 0 },
    (d: RealServerDraft, x) => {
      d.upperThreshold = x;
    },
  ),
  lower_threshold: key(
    int(0, MAX_U32),
    { description: 'connection count below which it takes connections again; ≤ upper_threshold', default: 0 },
    (d: RealServerDraft, x, v) => {
      d.lowerThreshold = x;
      d.lowerValue = v;
    },
  ),
  check: key(
    checkType(),
    {
      description: "health check; overrides the virtual server's `check` key by key",
      defaultText: "the virtual server's",
    },
    (d: RealServerDraft, x) => {
      d.check = x;
    },
  ),
  checks: key(
    checkList(),
    {
      description:
        "several health checks instead of `check`, all of which must pass (keepalived: several checkers); replaces the virtual server's",
      defaultText: "the virtual server's",
    },
    (d: RealServerDraft, x) => {
      d.checks = x;
    },
  ),
  inhibit_on_failure: key(
    bool(),
    { description: 'while down: weight 0 instead of removal', defaultText: "the virtual server's" },
    (d: RealServerDraft, x) => {
      d.inhibitOnFailure = x;
    },
  ),
  notify_up: key(
    command(),
    { description: 'run (by the daemon, no arguments added) when it comes up', defaultText: 'none' },
    (d: RealServerDraft, x) => {
      d.notifyUp = x;
    },
  ),
  notify_down: key(
    command(),
    { description: 'run (by the daemon, no arguments added) when it goes down', defaultText: 'none' },
    (d: RealServerDraft, x) => {
      d.notifyDown = x;
    },
  ),
} satisfies KeywordTable<RealServerDraft>;

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
  if (
    value === undefined ||
    service.port === undefined ||
    forwarding === 'nat' ||
    port === service.port ||
    port === 0
  )
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
  if (d.address !== undefined && d.addressValue !== undefined) {
    checkFamily(d.addressValue, d.address, service.family, 'real server');
  }
  const forwarding = d.forwarding ?? service.forwarding;
  const port = d.port ?? (service.fwmark ? 0 : service.port);
  if (d.port !== undefined) checkPortKept(d.portValue, d.port, service, forwarding);
  const upper = d.upperThreshold ?? REAL_SERVER_KEYWORDS.upper_threshold.default;
  const lower = d.lowerThreshold ?? REAL_SERVER_KEYWORDS.lower_threshold.default;
  if (upper > 0 && lower > upper) {
    d.lowerValue?.fail(`lower_threshold ${lower} must not be above upper_threshold ${upper}`);
  }
  const checkField = fields.get('check');
  if (checkField !== undefined && fields.has('checks'))
    value.ctx.report(checkField.keyNode, 'give either "check" or "checks", not both');
  // A real server's own `check` overrides the virtual server's `check`; `checks` replace either.
  const parent = service.checks === null ? service.check : null;
  if (d.check !== undefined) validateCheck(d.check, parent);
  for (const c of d.checks ?? []) validateCheck(c, null);
  if (d.address === undefined || port === undefined) return undefined;
  const address = d.address.address;
  const pos = value.pos;
  const target = { address, port };
  let checks: CheckConfig[];
  if (d.checks !== undefined) {
    checks = d.checks.flatMap((c) => effectiveChecks(c, null, target, c.value.pos));
  } else if (d.check !== undefined || service.checks === null) {
    const checkSource = (d.check ?? service.check)?.value.pos ?? pos;
    const unchecked = d.check === undefined && service.check === null && !service.checkByDefault;
    checks = unchecked
      ? [{ type: 'none', source: checkSource }]
      : effectiveChecks(d.check ?? null, parent, target, checkSource);
  } else {
    checks = service.checks.flatMap((c) => effectiveChecks(c, null, target, c.value.pos));
  }
  const portless = checks.find((c) => 'connectPort' in c && c.connectPort === 0);
  if (portless !== undefined)
    value.fail(
      `real server ${address} has no port: its ${portless.type} check needs connect_port (or give the real server a port)`,
    );
  return {
    address,
    port,
    weight: d.weight ?? REAL_SERVER_KEYWORDS.weight.default,
    forwarding,
    upperThreshold: upper,
    lowerThreshold: lower,
    check: checks[0] as CheckConfig,
    checks,
    inhibitOnFailure: d.inhibitOnFailure ?? service.inhibitOnFailure,
    notifyUp: d.notifyUp ?? null,
    notifyDown: d.notifyDown ?? null,
    source: pos,
  };
}
