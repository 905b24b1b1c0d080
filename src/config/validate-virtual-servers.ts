/**
 * The `virtual_servers` list. A service is either address+port+protocol or a firewall mark (with a
 * family); everything else about it (persistence netmask, real servers, sorry server) depends on
 * which, so the keyword handlers only convert values, and the cross-key rules run once the whole
 * entry has been read. Duplicate services, names and real servers are reported at the second entry.
 */

import { isScalar } from 'yaml';
import { quote } from '../errors.js';
import { addressToBytes } from '../model/address.js';
import {
  addressService,
  DEFAULT_NETMASK,
  destinationKeyString,
  type Family,
  fwmarkService,
  type Persistence,
  type Protocol,
  SCHEDULERS,
  type ServiceKey,
  serviceKeyString,
} from '../model/ipvs.js';
import { type IpAddress, ipv4MaskPrefix } from './addresses.js';
import { type Fields, type KeywordTable, key, readSection, requireKeys, type ValueType } from './keywords.js';
import { formatPos } from './positions.js';
import { SCHEDULER_FLAG_NAMES, SCHEDULER_FLAGS } from './schedulers.js';
import type {
  ConfigForwarding,
  RealServerConfig,
  Scheduler,
  SchedulerFlag,
  SorryServerConfig,
  SourcePos,
  VirtualServerConfig,
} from './types.js';
import { type CheckDraft, checkType, validateCheck } from './validate-check.js';
import { MAX_KERNEL_TIMEOUT_S } from './validate-director.js';
import {
  checkFamily,
  checkPortKept,
  ENDPOINT_KEYWORDS,
  type EndpointDraft,
  FORWARDINGS,
  MAX_WEIGHT,
  REAL_SERVER_KEYWORDS,
  readRealServer,
  type ServiceContext,
} from './validate-real-servers.js';
import { bool, deferred, int, ipAddress, listOfMaps, mapOf, oneOf, seconds, string } from './value-types.js';
import { describeNode, type Value } from './values.js';

/** Far above any real director, so that the count itself is bounded (and shown in the schema). */
export const MAX_VIRTUAL_SERVERS = 65_536;
export const MAX_REAL_SERVERS = 65_536;

const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];
const FAMILIES: readonly Family[] = ['inet', 'inet6'];

interface VirtualServerDraft {
  name?: string;
  address?: IpAddress;
  port?: number;
  protocol?: Protocol;
  fwmark?: number;
  family?: Family;
  scheduler?: Scheduler;
  schedulerFlags?: { flag: SchedulerFlag; value: Value }[];
  forwarding?: ConfigForwarding;
  fullNat?: IpAddress;
  fullNatValue?: Value;
  persistence?: Value;
  quorum?: number;
  hysteresis?: number;
  sorryServer?: Value;
  inhibitOnFailure?: boolean;
  announce?: boolean;
  check?: CheckDraft;
  realServers?: Value[];
}

interface PersistenceDraft {
  timeoutS?: number;
  netmask?: Value;
}

export const PERSISTENCE_KEYWORDS = {
  timeout: key(
    seconds(MAX_KERNEL_TIMEOUT_S),
    { description: 'how long a client stays with its real server after its last connection', default: 300 },
    (d: PersistenceDraft, x) => {
      d.timeoutS = x;
    },
  ),
  netmask: key(
    deferred(
      () => ({
        anyOf: [
          { type: 'string', format: 'ipv4' },
          { type: 'integer', minimum: 1, maximum: 128 },
          { type: 'string', pattern: '^[0-9]{1,3}$' },
        ],
      }),
      'dotted mask (IPv4), prefix length 1–128 (IPv6)',
    ),
    {
      description: 'clients in one network (this mask) count as one client',
      defaultText: '`255.255.255.255` (IPv4), `128` (IPv6)',
    },
    (d: PersistenceDraft, x) => {
      d.netmask = x;
    },
  ),
} satisfies KeywordTable<PersistenceDraft>;

const SCHEDULER_FLAG_LIST: ValueType<{ flag: SchedulerFlag; value: Value }[]> = {
  read: (v) =>
    v
      .list('scheduler flag', SCHEDULER_FLAG_NAMES.length)
      ?.map((item) => ({ flag: item.oneOf(SCHEDULER_FLAG_NAMES), value: item }))
      .filter((f): f is { flag: SchedulerFlag; value: Value } => f.flag !== undefined),
  schema: () => ({
    type: 'array',
    items: oneOf(SCHEDULER_FLAG_NAMES).schema(),
    uniqueItems: true,
    maxItems: SCHEDULER_FLAG_NAMES.length,
  }),
  summary: `list of ${oneOf(SCHEDULER_FLAG_NAMES).summary}`,
};

export const VIRTUAL_SERVER_KEYWORDS = {
  name: key(
    string(),
    {
      description: 'unique name, used by the CLI and in metrics',
      defaultText: '`tcp/ADDR:PORT` or `fwmark/N`',
    },
    (d: VirtualServerDraft, x) => {
      d.name = x;
    },
  ),
  address: key(
    ipAddress(),
    { description: 'the virtual IP (IPv4 or IPv6); needs `port`. Either this or `fwmark`' },
    (d: VirtualServerDraft, x) => {
      d.address = x;
    },
  ),
  port: key(
    int(1, 65535),
    { description: 'the service port, with `address`' },
    (d: VirtualServerDraft, x) => {
      d.port = x;
    },
  ),
  protocol: key(
    oneOf(PROTOCOLS),
    { description: 'with `address`', default: 'tcp' },
    (d: VirtualServerDraft, x) => {
      d.protocol = x;
    },
  ),
  fwmark: key(
    int(1, 2 ** 32 - 1),
    { description: 'instead of address/port/protocol: a firewall-mark service' },
    (d: VirtualServerDraft, x) => {
      d.fwmark = x;
    },
  ),
  family: key(
    oneOf(FAMILIES),
    { description: 'only with `fwmark`', default: 'inet' },
    (d: VirtualServerDraft, x) => {
      d.family = x;
    },
  ),
  scheduler: key(
    oneOf(SCHEDULERS),
    { description: 'IPVS scheduler (the kernel needs the module `ip_vs_<name>`)', default: 'wlc' },
    (d: VirtualServerDraft, x) => {
      d.scheduler = x;
    },
  ),
  scheduler_flags: key(
    SCHEDULER_FLAG_LIST,
    {
      description:
        '`sh-fallback`, `sh-port` (with `sh`), `mh-fallback`, `mh-port` (with `mh`), `ops` (one-packet scheduling, udp)',
      defaultText: 'none',
    },
    (d: VirtualServerDraft, x) => {
      d.schedulerFlags = x;
    },
  ),
  forwarding: key(
    oneOf(FORWARDINGS),
    {
      description: 'default forwarding method of the real servers: `nat` (masquerade), `dr`, `tun`',
      default: 'nat',
    },
    (d: VirtualServerDraft, x) => {
      d.forwarding = x;
    },
  ),
  full_nat: key(
    ipAddress(),
    {
      description:
        "full NAT (NAT forwarding only): what is forwarded to the real servers leaves with this source address, the director's own server-side address, so replies come back to this director whatever the real servers' default route (daemon)",
      defaultText: 'none (the real servers see the client address and must route back through the director)',
    },
    (d: VirtualServerDraft, x, v) => {
      d.fullNat = x;
      d.fullNatValue = v;
    },
  ),
  persistence: key(
    mapOf(PERSISTENCE_KEYWORDS),
    {
      description: 'client affinity: connections from one client (network) go to one real server',
      defaultText: 'none (not persistent)',
      nullable: true,
    },
    (d: VirtualServerDraft, x) => {
      d.persistence = x;
    },
  ),
  quorum: key(
    int(1, MAX_WEIGHT),
    {
      description: 'sum of the live weights needed; below it the sorry server takes over (daemon)',
      default: 1,
    },
    (d: VirtualServerDraft, x) => {
      d.quorum = x;
    },
  ),
  hysteresis: key(
    int(0, MAX_WEIGHT),
    {
      description: 'quorum is lost below `quorum - hysteresis`, regained at `quorum + hysteresis`',
      default: 0,
    },
    (d: VirtualServerDraft, x) => {
      d.hysteresis = x;
    },
  ),
  sorry_server: key(
    mapOf(ENDPOINT_KEYWORDS),
    {
      description: '`{address, port}` used while quorum is lost (daemon); port defaults to the service port',
      defaultText: 'none',
      nullable: true,
    },
    (d: VirtualServerDraft, x) => {
      d.sorryServer = x;
    },
  ),
  inhibit_on_failure: key(
    bool(),
    { description: 'a failed real server gets weight 0 instead of being removed (daemon)', default: false },
    (d: VirtualServerDraft, x) => {
      d.inhibitOnFailure = x;
    },
  ),
  announce: key(
    bool(),
    {
      description:
        'announce the VIP (a host route in `director.announce.table`, exported by BIRD or FRR) while this director can serve it (daemon); every service on the address must agree',
      default: false,
    },
    (d: VirtualServerDraft, x) => {
      d.announce = x;
    },
  ),
  check: key(
    checkType(),
    {
      description: 'health check of every real server (the daemon runs it; `apply` ignores it)',
      defaultText: '`{type: tcp}` for tcp and fwmark services, none for udp and sctp',
    },
    (d: VirtualServerDraft, x) => {
      d.check = x;
    },
  ),
  real_servers: key(
    listOfMaps(REAL_SERVER_KEYWORDS, 'real_servers', MAX_REAL_SERVERS),
    { description: 'the real servers', defaultText: 'none', nullable: true },
    (d: VirtualServerDraft, _x, v) => {
      d.realServers = v.list('real server', MAX_REAL_SERVERS);
    },
  ),
} satisfies KeywordTable<VirtualServerDraft>;

/** The service key, or undefined when address/port/fwmark are missing or bad (reported). */
function serviceKey(value: Value, fields: Fields, d: VirtualServerDraft): ServiceKey | undefined {
  const fwmark = fields.get('fwmark');
  if (fields.has('address') && fwmark !== undefined) {
    fwmark.value.fail('give either "address" (with "port") or "fwmark", not both');
    return undefined;
  }
  if (fwmark !== undefined) {
    for (const key of ['port', 'protocol']) {
      fields.get(key)?.value.fail(`${key} is not used with fwmark: the mark alone selects the packets`);
    }
    return d.fwmark === undefined
      ? undefined
      : fwmarkService(d.family ?? VIRTUAL_SERVER_KEYWORDS.family.default, d.fwmark);
  }
  if (!fields.has('address')) {
    value.fail('virtual server needs "address" and "port", or "fwmark"');
    return undefined;
  }
  fields
    .get('family')
    ?.value.fail('family is only for fwmark services; an address service takes it from its address');
  requireKeys(value, 'virtual server', fields, ['port']);
  if (d.address === undefined || d.port === undefined) return undefined;
  return addressService(
    d.address.family,
    d.protocol ?? VIRTUAL_SERVER_KEYWORDS.protocol.default,
    d.address.address,
    d.port,
  );
}

/** The address family, when it can be known (for checking real servers even if the key is bad). */
function serviceFamily(fields: Fields, d: VirtualServerDraft): Family | undefined {
  if (fields.has('fwmark')) return d.family ?? VIRTUAL_SERVER_KEYWORDS.family.default;
  return d.address?.family;
}

function checkSchedulerFlags(d: VirtualServerDraft, scheduler: Scheduler, fields: Fields): SchedulerFlag[] {
  const seen = new Set<SchedulerFlag>();
  for (const { flag, value } of d.schedulerFlags ?? []) {
    const needs = SCHEDULER_FLAGS[flag].scheduler;
    if (seen.has(flag)) value.fail(`scheduler flag "${flag}" is listed twice`);
    else if (needs !== null && needs !== scheduler) {
      value.fail(`scheduler flag "${flag}" needs scheduler ${needs}, not ${scheduler}`);
    } else if (
      flag === 'ops' &&
      !fields.has('fwmark') &&
      (d.protocol ?? VIRTUAL_SERVER_KEYWORDS.protocol.default) !== 'udp'
    ) {
      value.fail(
        `scheduler flag "ops" (one-packet scheduling) needs protocol udp, not ${d.protocol ?? VIRTUAL_SERVER_KEYWORDS.protocol.default}`,
      );
    }
    seen.add(flag);
  }
  return [...seen];
}

/** Dotted quad for inet, prefix length for inet6, as the model's Persistence wants. */
function netmask(value: Value, family: Family): string | undefined {
  const raw = isScalar(value.node) ? value.node.value : undefined;
  if (family === 'inet') {
    const prefix = typeof raw === 'string' ? ipv4MaskPrefix(raw) : null;
    if (typeof raw === 'string' && prefix !== null && prefix > 0) return raw;
    return value.fail(
      `netmask must be a contiguous dotted mask like 255.255.255.0 for an IPv4 service, got ${describeNode(value.node)}`,
    );
  }
  const prefix =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (Number.isInteger(prefix) && prefix >= 1 && prefix <= 128) return String(prefix);
  return value.fail(
    `netmask must be a prefix length from 1 to 128 for an IPv6 service, got ${describeNode(value.node)}`,
  );
}

function readPersistence(value: Value | undefined, family: Family | undefined): Persistence | null {
  if (value === undefined) return null;
  const d: PersistenceDraft = {};
  readSection(value, 'persistence', PERSISTENCE_KEYWORDS, d);
  const mask = d.netmask === undefined || family === undefined ? undefined : netmask(d.netmask, family);
  return {
    timeoutS: d.timeoutS ?? PERSISTENCE_KEYWORDS.timeout.default,
    netmask: mask ?? DEFAULT_NETMASK[family ?? 'inet'],
  };
}

function readSorryServer(value: Value | undefined, service: ServiceContext): SorryServerConfig | null {
  if (value === undefined) return null;
  const d: EndpointDraft = {};
  const fields = readSection(value, 'sorry_server', ENDPOINT_KEYWORDS, d);
  if (fields === undefined) return null;
  if (service.fwmark) requireKeys(value, 'sorry_server', fields, ['port']);
  if (d.address !== undefined && d.addressValue !== undefined) {
    checkFamily(d.addressValue, d.address, service.family, 'sorry server');
  }
  if (d.port !== undefined) checkPortKept(d.portValue, d.port, service, service.forwarding);
  const port = d.port ?? service.port;
  if (d.address === undefined || port === undefined) return null;
  return { address: d.address.address, port, source: value.pos };
}

function dedupeRealServers(realServers: readonly RealServerConfig[], value: Value, vsName: string): void {
  const first = new Map<string, SourcePos>();
  for (const rs of realServers) {
    const key = destinationKeyString(rs);
    const seen = first.get(key);
    if (seen === undefined) first.set(key, rs.source);
    else
      value.ctx.report(
        rs.source,
        `real server ${key} is listed twice in virtual server ${quote(vsName)} (first at ${formatPos(seen)})`,
      );
  }
}

/** Why the forwarding methods other than NAT cannot take `full_nat`. */
const NO_FULL_NAT: Readonly<Record<Exclude<ConfigForwarding, 'nat'>, string>> = {
  dr: 'with dr the director only changes the MAC address and the real servers answer the client directly, so there is no forwarded connection whose source it could rewrite (dr keeps the client address; with several directors use the mh scheduler)',
  tun: 'with tun the packet reaches the real server unchanged inside a tunnel and the real servers answer the client directly, so there is no forwarded connection whose source it could rewrite',
};

/**
 * The `full_nat` address, checked against the service: same family, NAT forwarding for the
 * service and each of its real servers, a unicast address. Null when absent or refused (reported).
 */
function readFullNat(
  d: VirtualServerDraft,
  family: Family | undefined,
  forwarding: ConfigForwarding,
  realServers: readonly RealServerConfig[],
  value: Value,
): string | null {
  const v = d.fullNatValue;
  if (d.fullNat === undefined || v === undefined) return null;
  if (!checkFamily(v, d.fullNat, family, 'full_nat')) return null;
  const notUnicast = nonUnicast(d.fullNat);
  if (notUnicast !== null) {
    v.fail(`full_nat ${d.fullNat.address} is ${notUnicast}; it must be a unicast address of this director`);
    return null;
  }
  if (forwarding !== 'nat') {
    v.fail(`full_nat needs forwarding nat, not ${forwarding}: ${NO_FULL_NAT[forwarding]}`);
    return null;
  }
  let ok = true;
  for (const rs of realServers)
    if (rs.forwarding !== 'nat') {
      ok = false;
      value.ctx.report(
        rs.source,
        `real server ${destinationKeyString(rs)} uses ${rs.forwarding} forwarding, but its virtual server has full_nat, which needs nat: ${NO_FULL_NAT[rs.forwarding]}`,
      );
    }
  return ok ? d.fullNat.address : null;
}

/** What kind of non-unicast address this is (a source address must be unicast), or null. */
function nonUnicast(ip: IpAddress): string | null {
  const b = addressToBytes(ip.address);
  if (b === null) return null;
  if (ip.family === 'inet') {
    const [a = 0] = b;
    if (a === 0) return 'in 0.0.0.0/8 ("this network")';
    if (a === 127) return 'a loopback address';
    if (a >= 224 && a < 240) return 'a multicast address';
    if (a >= 240)
      return ip.address === '255.255.255.255' ? 'the broadcast address' : 'reserved (240.0.0.0/4)';
    return null;
  }
  if (b.every((x) => x === 0)) return 'the unspecified address';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'the loopback address';
  if (b[0] === 0xff) return 'a multicast address';
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return 'an IPv4-mapped address (use the IPv4 address in an IPv4 virtual server)';
  return null;
}

/** Reads one virtual server; undefined when unusable (issues reported). */
export function readVirtualServer(value: Value): VirtualServerConfig | undefined {
  const d: VirtualServerDraft = {};
  const fields = readSection(value, 'virtual server', VIRTUAL_SERVER_KEYWORDS, d);
  if (fields === undefined) return undefined;
  const key = serviceKey(value, fields, d);
  const family = serviceFamily(fields, d);
  const scheduler = d.scheduler ?? VIRTUAL_SERVER_KEYWORDS.scheduler.default;
  const schedulerFlags = checkSchedulerFlags(d, scheduler, fields);
  const persistence = readPersistence(d.persistence, family);
  if (d.check !== undefined) validateCheck(d.check, null);
  if (d.announce === true && fields.has('fwmark'))
    fields
      .get('announce')
      ?.value.fail('announce needs an address service: a firewall mark names no address to announce');
  const service: ServiceContext = {
    family,
    fwmark: fields.has('fwmark'),
    port: fields.has('fwmark') ? undefined : d.port,
    forwarding: d.forwarding ?? VIRTUAL_SERVER_KEYWORDS.forwarding.default,
    check: d.check ?? null,
    checkByDefault:
      fields.has('fwmark') || (d.protocol ?? VIRTUAL_SERVER_KEYWORDS.protocol.default) === 'tcp',
  };
  const sorryServer = readSorryServer(d.sorryServer, service);
  const realServers = (d.realServers ?? [])
    .map((rs) => readRealServer(rs, service))
    .filter((rs): rs is RealServerConfig => rs !== undefined);
  const fullNat = readFullNat(d, family, service.forwarding, realServers, value);
  if (key === undefined) return undefined;
  const name = d.name ?? serviceKeyString(key);
  dedupeRealServers(realServers, value, name);
  return {
    name,
    key,
    scheduler,
    schedulerFlags,
    forwarding: service.forwarding,
    persistence,
    quorum: d.quorum ?? VIRTUAL_SERVER_KEYWORDS.quorum.default,
    hysteresis: d.hysteresis ?? VIRTUAL_SERVER_KEYWORDS.hysteresis.default,
    sorryServer,
    inhibitOnFailure: d.inhibitOnFailure ?? VIRTUAL_SERVER_KEYWORDS.inhibit_on_failure.default,
    fullNat,
    announce: d.announce ?? VIRTUAL_SERVER_KEYWORDS.announce.default,
    realServers,
    source: value.pos,
  };
}

/** Reads the list; duplicate services and names are reported at the later entry. */
export function readVirtualServers(value: Value | null): VirtualServerConfig[] {
  if (value === null || value.isNull) return [];
  const items = value.list('virtual server', MAX_VIRTUAL_SERVERS);
  if (items === undefined) return [];
  const servers = items.map(readVirtualServer).filter((vs): vs is VirtualServerConfig => vs !== undefined);
  const byKey = new Map<string, SourcePos>();
  const byName = new Map<string, SourcePos>();
  for (const vs of servers) {
    const keyText = serviceKeyString(vs.key);
    const sameKey = byKey.get(keyText);
    const sameName = byName.get(vs.name);
    if (sameKey !== undefined) {
      value.ctx.report(
        vs.source,
        `virtual server ${keyText} is listed twice (first at ${formatPos(sameKey)})`,
      );
    } else if (sameName !== undefined) {
      value.ctx.report(
        vs.source,
        `virtual server name ${quote(vs.name)} is used twice (first at ${formatPos(sameName)})`,
      );
    }
    if (sameKey === undefined) byKey.set(keyText, vs.source);
    if (sameName === undefined) byName.set(vs.name, vs.source);
  }
  checkAnnounceAgrees(servers, value);
  return servers;
}

/**
 * The route announces an address, not a service: every service on an announced address must say
 * so, or one service's quorum would keep traffic to the others flowing (or stop it) unasked.
 */
function checkAnnounceAgrees(servers: readonly VirtualServerConfig[], value: Value): void {
  const first = new Map<string, VirtualServerConfig>();
  for (const vs of servers) {
    const address = vs.key.address;
    if (address === null) continue;
    const other = first.get(address);
    if (other === undefined) first.set(address, vs);
    else if (other.announce !== vs.announce)
      value.ctx.report(
        vs.source,
        `virtual server ${quote(vs.name)} has announce: ${vs.announce} but ${quote(other.name)} on the same address ${address} has announce: ${other.announce} (at ${formatPos(other.source)}); every service on an announced address must set it`,
      );
  }
}
