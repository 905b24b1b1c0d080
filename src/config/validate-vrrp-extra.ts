/**
 * The value types of the VRRP keys that keepalived configs bring along (issue 16): VIPs on another
 * interface (`{address, dev, label}`), weighted tracked interfaces, track files, virtual routes
 * and rules, and the `vrrp_track_files` section. validate-vrrp.ts puts them in its tables; the
 * meaning (keepalived's) is the VRRP module's.
 */
import { isMap } from 'yaml';
import { IpvsdError, quote } from '../errors.js';
import type { Family } from '../model/ipvs.js';
import { type ParsedCidr, parseCidr, parseIp } from '../sys/ip-address.js';
import { type KeywordTable, key, readSection, type ValueType } from './keywords.js';
import type {
  TrackedFileConfig,
  TrackedInterfaceConfig,
  VirtualIpConfig,
  VirtualRouteConfig,
  VirtualRuleConfig,
} from './types.js';
import { absolutePath, bool, int, interfaceName, ip, oneOf, string, tableSchema } from './value-types.js';
import type { Value } from './values.js';

/** keepalived's bounds for tracker weights (vrrp_track.c alloc_track_if, track_file.c). */
export const MAX_TRACK_WEIGHT = 254;
/** IFA_LABEL: IFNAMSIZ with the NUL. */
const MAX_LABEL_BYTES = 15;
/** A kernel routing table id (RT_TABLE_* go up to 2^32 − 1; 0 is "unspecified"). */
const MAX_TABLE = 2 ** 32 - 1;

function cidrOf(v: Value, what: string): ParsedCidr | undefined {
  const text = v.string();
  if (text === undefined) return undefined;
  try {
    return parseCidr(text);
  } catch (err) {
    if (!(err instanceof IpvsdError)) throw err;
    return v.fail(`${what} must be "address" or "address/prefix", got ${quote(text)}`);
  }
}

interface VipDraft {
  address?: ParsedCidr;
  dev?: string;
  label?: string;
}

export const VIP_KEYWORDS = {
  address: key(
    { ...string(), summary: '`address` or `address/prefix`' },
    { description: 'the virtual address', required: true },
    (d: VipDraft, _x, v) => {
      d.address = cidrOf(v, 'address');
    },
  ),
  dev: key(
    interfaceName(),
    { description: 'interface the address is added to', defaultText: "the instance's interface" },
    (d: VipDraft, x) => {
      d.dev = x;
    },
  ),
  label: key(
    string(MAX_LABEL_BYTES),
    { description: 'IPv4 address label (`eth1:vip`)', defaultText: 'none' },
    (d: VipDraft, x) => {
      d.label = x;
    },
  ),
} satisfies KeywordTable<VipDraft>;

/** A VIP: `address[/prefix]`, or `{address, dev, label}` for one on another interface. */
export function virtualIpType(itemLabel: string): ValueType<{ value: Value; vip: VirtualIpConfig }> {
  return {
    read: (v) => {
      if (isMap(v.node)) {
        const d: VipDraft = {};
        if (readSection(v, itemLabel, VIP_KEYWORDS, d) === undefined || d.address === undefined)
          return undefined;
        if (d.label !== undefined && d.address.family === 'inet6')
          return v.fail(`label is IPv4 only (IPv6 addresses have none), got one on ${d.address.address}`);
        const { address, family, prefixLength } = d.address;
        const vip: VirtualIpConfig = {
          address,
          family,
          prefixLength,
          ...(d.dev !== undefined ? { dev: d.dev } : {}),
          ...(d.label !== undefined ? { label: d.label } : {}),
        };
        return { value: v, vip };
      }
      const cidr = cidrOf(v, 'virtual IP address');
      if (cidr === undefined) return undefined;
      return {
        value: v,
        vip: { address: cidr.address, family: cidr.family, prefixLength: cidr.prefixLength },
      };
    },
    schema: () => ({
      anyOf: [
        { type: 'string', pattern: String.raw`^[0-9A-Fa-f:.]+(/\d{1,3})?$` },
        tableSchema(VIP_KEYWORDS),
      ],
    }),
    summary: '`address[/prefix]` or `{address, dev, label}`',
    nested: { table: () => VIP_KEYWORDS, shape: 'list', heading: 'virtual_ipaddresses' },
  };
}

interface TrackIfDraft {
  name?: string;
  weight?: number;
  reverse?: boolean;
}

export const TRACK_INTERFACE_KEYWORDS = {
  interface: key(
    interfaceName(),
    { description: 'the tracked interface', required: true },
    (d: TrackIfDraft, x) => {
      d.name = x;
    },
  ),
  weight: key(
    int(-MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT),
    { description: '0: FAULT while down; > 0 added while up; < 0 added while down', default: 0 },
    (d: TrackIfDraft, x) => {
      d.weight = x;
    },
  ),
  reverse: key(
    bool(),
    { description: 'the weight applies the other way round (0: FAULT while up)', default: false },
    (d: TrackIfDraft, x) => {
      d.reverse = x;
    },
  ),
} satisfies KeywordTable<TrackIfDraft>;

/** keepalived turns ±254 into ±253 for trackers that add to a priority (vrrp_track.c alloc_track_if). */
function clampWeight(weight: number): number {
  return weight === MAX_TRACK_WEIGHT ? 253 : weight === -MAX_TRACK_WEIGHT ? -253 : weight;
}

export const TRACKED_INTERFACE: ValueType<TrackedInterfaceConfig> = {
  read: (v) => {
    if (isMap(v.node)) {
      const d: TrackIfDraft = {};
      if (
        readSection(v, 'tracked interface', TRACK_INTERFACE_KEYWORDS, d) === undefined ||
        d.name === undefined
      )
        return undefined;
      return { name: d.name, weight: clampWeight(d.weight ?? 0), reverse: d.reverse ?? false };
    }
    const name = interfaceName().read(v);
    return name === undefined ? undefined : { name, weight: 0, reverse: false };
  },
  schema: () => ({ anyOf: [interfaceName().schema(), tableSchema(TRACK_INTERFACE_KEYWORDS)] }),
  summary: 'interface name, or `{interface, weight, reverse}`',
  nested: { table: () => TRACK_INTERFACE_KEYWORDS, shape: 'list', heading: 'track_interfaces' },
};

interface TrackFileRefDraft {
  name?: string;
  weight?: number;
  reverse?: boolean;
}

export const TRACK_FILE_REF_KEYWORDS = {
  name: key(
    string(),
    { description: 'name in `vrrp_track_files`', required: true },
    (d: TrackFileRefDraft, x) => {
      d.name = x;
    },
  ),
  weight: key(
    int(-MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT),
    { description: "replaces the file's weight for this instance", defaultText: "the file's" },
    (d: TrackFileRefDraft, x) => {
      d.weight = x;
    },
  ),
  reverse: key(
    bool(),
    { description: "replaces the file's reverse for this instance", defaultText: "the file's" },
    (d: TrackFileRefDraft, x) => {
      d.reverse = x;
    },
  ),
} satisfies KeywordTable<TrackFileRefDraft>;

export interface TrackFileRef {
  readonly name: string;
  readonly weight: number | undefined;
  readonly reverse: boolean | undefined;
  readonly value: Value;
}

export const TRACKED_FILE: ValueType<TrackFileRef> = {
  read: (v) => {
    if (isMap(v.node)) {
      const d: TrackFileRefDraft = {};
      if (readSection(v, 'tracked file', TRACK_FILE_REF_KEYWORDS, d) === undefined || d.name === undefined)
        return undefined;
      return { name: d.name, weight: d.weight, reverse: d.reverse, value: v };
    }
    const name = v.string();
    return name === undefined ? undefined : { name, weight: undefined, reverse: undefined, value: v };
  },
  schema: () => ({ anyOf: [string().schema(), tableSchema(TRACK_FILE_REF_KEYWORDS)] }),
  summary: 'name in `vrrp_track_files`, or `{name, weight, reverse}`',
  nested: { table: () => TRACK_FILE_REF_KEYWORDS, shape: 'list', heading: 'track_files' },
};

export function resolveTrackFile(
  ref: TrackFileRef,
  file: { weight: number; reverse: boolean },
): TrackedFileConfig {
  return { name: ref.name, weight: ref.weight ?? file.weight, reverse: ref.reverse ?? file.reverse };
}

interface TrackFileDraft {
  path?: string;
  weight?: number;
  reverse?: boolean;
  init?: number;
  overwrite?: boolean;
}

export const TRACK_FILE_KEYWORDS = {
  file: key(
    absolutePath(),
    { description: 'the file holding a number', required: true },
    (d: TrackFileDraft, x) => {
      d.path = x;
    },
  ),
  weight: key(
    int(-MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT),
    {
      description:
        'the number times this is added to the priority, ≤ −254 is FAULT; 0: FAULT while the number is not 0',
      default: 1,
    },
    (d: TrackFileDraft, x) => {
      d.weight = x;
    },
  ),
  reverse: key(
    bool(),
    { description: 'the weight counts negatively', default: false },
    (d: TrackFileDraft, x) => {
      d.reverse = x;
    },
  ),
  init_file: key(
    int(-(2 ** 31), 2 ** 31 - 1),
    { description: 'written to the file at start when it is missing', defaultText: 'nothing written' },
    (d: TrackFileDraft, x) => {
      d.init = x;
    },
  ),
  init_overwrite: key(
    bool(),
    { description: 'with `init_file`: written at start even when the file exists', default: false },
    (d: TrackFileDraft, x) => {
      d.overwrite = x;
    },
  ),
} satisfies KeywordTable<TrackFileDraft>;

export function readTrackFileEntry(value: Value, label: string): TrackFileDraft | undefined {
  const d: TrackFileDraft = {};
  return readSection(value, label, TRACK_FILE_KEYWORDS, d) === undefined ? undefined : d;
}

export type { TrackFileDraft };

/** `to`/`from`/`src`: an address or prefix; `default` for a route's destination. */
function prefixOf(v: Value, what: string, allowDefault: boolean): ParsedCidr | undefined {
  const text = v.string();
  if (text === undefined) return undefined;
  if (allowDefault && text === 'default')
    return {
      family: 'inet',
      address: '0.0.0.0',
      bytes: Buffer.alloc(4),
      prefixLength: 0,
      explicitPrefix: true,
    };
  return cidrOf(v, what);
}

interface RouteDraft {
  to?: ParsedCidr;
  toValue?: Value;
  via?: string;
  dev?: string;
  src?: string;
  table?: number;
  metric?: number;
  scope?: 'global' | 'link' | 'host';
  type?: VirtualRouteConfig['type'];
}

const CIDR_SUMMARY = '`address[/prefix]`';

export const ROUTE_KEYWORDS = {
  to: key(
    { ...string(), summary: `${CIDR_SUMMARY} or \`default\`` },
    { description: 'destination', required: true },
    (d: RouteDraft, _x, v) => {
      d.to = prefixOf(v, 'to', true);
      d.toValue = v;
    },
  ),
  via: key(ip(), { description: 'gateway', defaultText: 'none (on-link)' }, (d: RouteDraft, x) => {
    d.via = x;
  }),
  dev: key(
    interfaceName(),
    { description: 'output interface', defaultText: 'as the kernel finds it' },
    (d: RouteDraft, x) => {
      d.dev = x;
    },
  ),
  src: key(ip(), { description: 'preferred source address', defaultText: 'none' }, (d: RouteDraft, x) => {
    d.src = x;
  }),
  table: key(
    int(1, MAX_TABLE),
    { description: 'routing table id', defaultText: '`main` (254)' },
    (d: RouteDraft, x) => {
      d.table = x;
    },
  ),
  metric: key(
    int(0, MAX_TABLE),
    { description: 'route priority (lower wins)', defaultText: 'the kernel default' },
    (d: RouteDraft, x) => {
      d.metric = x;
    },
  ),
  scope: key(
    oneOf<'global' | 'link' | 'host'>(['global', 'link', 'host']),
    { description: 'route scope', default: 'global' },
    (d: RouteDraft, x) => {
      d.scope = x;
    },
  ),
  type: key(
    oneOf<VirtualRouteConfig['type']>(['unicast', 'blackhole', 'unreachable', 'prohibit']),
    { description: 'route type', default: 'unicast' },
    (d: RouteDraft, x) => {
      d.type = x;
    },
  ),
} satisfies KeywordTable<RouteDraft>;

function familyOf(address: string): Family {
  return address.includes(':') ? 'inet6' : 'inet';
}

export function readRoute(v: Value): VirtualRouteConfig | undefined {
  const d: RouteDraft = {};
  if (readSection(v, 'virtual route', ROUTE_KEYWORDS, d) === undefined || d.to === undefined)
    return undefined;
  let family: Family =
    d.to.prefixLength === 0 && d.toValue?.string() === 'default'
      ? d.via !== undefined
        ? familyOf(d.via)
        : 'inet'
      : d.to.family;
  const to =
    family === 'inet6' && d.to.prefixLength === 0 && d.to.address === '0.0.0.0'
      ? '::/0'
      : `${d.to.address}/${d.to.prefixLength}`;
  if (to === '::/0') family = 'inet6';
  for (const [what, address] of [
    ['via', d.via],
    ['src', d.src],
  ] as const) {
    if (address !== undefined && familyOf(address) !== family)
      return v.fail(`virtual route to ${to}: ${what} ${address} is not of the destination's family`);
  }
  const type = d.type ?? 'unicast';
  if (type !== 'unicast' && (d.via !== undefined || d.dev !== undefined))
    return v.fail(`virtual route to ${to}: a ${type} route has no via or dev`);
  return {
    family,
    to,
    via: d.via ?? null,
    dev: d.dev ?? null,
    src: d.src ?? null,
    table: d.table ?? null,
    metric: d.metric ?? null,
    scope: d.scope ?? null,
    type,
  };
}

interface RuleDraft {
  from?: ParsedCidr;
  to?: ParsedCidr;
  table?: number;
  priority?: number;
  fwmark?: number;
  fwmask?: number;
  iif?: string;
  oif?: string;
  action?: VirtualRuleConfig['action'];
  family?: Family;
}

export const RULE_KEYWORDS = {
  from: key(
    { ...string(), summary: CIDR_SUMMARY },
    { description: 'source prefix', defaultText: 'all' },
    (d: RuleDraft, _x, v) => {
      d.from = cidrOf(v, 'from');
    },
  ),
  to: key(
    { ...string(), summary: CIDR_SUMMARY },
    { description: 'destination prefix', defaultText: 'all' },
    (d: RuleDraft, _x, v) => {
      d.to = cidrOf(v, 'to');
    },
  ),
  table: key(
    int(1, MAX_TABLE),
    { description: 'table to look up (action `table`)', defaultText: 'none' },
    (d: RuleDraft, x) => {
      d.table = x;
    },
  ),
  priority: key(
    int(0, MAX_TABLE),
    { description: 'rule preference (`ip rule … pref`)', defaultText: "the kernel's" },
    (d: RuleDraft, x) => {
      d.priority = x;
    },
  ),
  fwmark: key(
    int(0, MAX_TABLE),
    { description: 'firewall mark to match', defaultText: 'none' },
    (d: RuleDraft, x) => {
      d.fwmark = x;
    },
  ),
  fwmask: key(
    int(0, MAX_TABLE),
    { description: 'mask of `fwmark`', defaultText: '0xffffffff' },
    (d: RuleDraft, x) => {
      d.fwmask = x;
    },
  ),
  iif: key(
    interfaceName(),
    { description: 'input interface to match', defaultText: 'any' },
    (d: RuleDraft, x) => {
      d.iif = x;
    },
  ),
  oif: key(
    interfaceName(),
    { description: 'output interface to match', defaultText: 'any' },
    (d: RuleDraft, x) => {
      d.oif = x;
    },
  ),
  action: key(
    oneOf<VirtualRuleConfig['action']>(['table', 'blackhole', 'unreachable', 'prohibit']),
    { description: 'what a match does', default: 'table' },
    (d: RuleDraft, x) => {
      d.action = x;
    },
  ),
  family: key(
    oneOf<Family>(['inet', 'inet6']),
    { description: 'without `from`/`to`: the family the rule is for', default: 'inet' },
    (d: RuleDraft, x) => {
      d.family = x;
    },
  ),
} satisfies KeywordTable<RuleDraft>;

export function readRule(v: Value): VirtualRuleConfig | undefined {
  const d: RuleDraft = {};
  if (readSection(v, 'virtual rule', RULE_KEYWORDS, d) === undefined) return undefined;
  const family = d.from?.family ?? d.to?.family ?? d.family ?? 'inet';
  if (d.from !== undefined && d.to !== undefined && d.from.family !== d.to.family)
    return v.fail('virtual rule: from and to are of different families');
  const action = d.action ?? 'table';
  if (action === 'table' && d.table === undefined) return v.fail('virtual rule: action table needs a table');
  if (action !== 'table' && d.table !== undefined)
    return v.fail(`virtual rule: a ${action} rule has no table`);
  if (d.fwmask !== undefined && d.fwmark === undefined) return v.fail('virtual rule: fwmask needs fwmark');
  return {
    family,
    from: d.from === undefined ? null : `${d.from.address}/${d.from.prefixLength}`,
    to: d.to === undefined ? null : `${d.to.address}/${d.to.prefixLength}`,
    table: d.table ?? null,
    priority: d.priority ?? null,
    fwmark: d.fwmark ?? null,
    fwmask: d.fwmask ?? null,
    iif: d.iif ?? null,
    oif: d.oif ?? null,
    action,
  };
}

function mapItem<T>(
  read: (v: Value) => T | undefined,
  // biome-ignore lint/suspicious/noExplicitAny: the docs only read the table's keyword docs
  table: KeywordTable<any>,
  heading: string,
): ValueType<T> {
  return {
    read: (v) => (isMap(v.node) ? read(v) : v.fail(`${v.label} must be a map`)),
    schema: () => tableSchema(table),
    summary: 'map',
    nested: { table: () => table, shape: 'list', heading },
  };
}

export const VIRTUAL_ROUTE = mapItem(readRoute, ROUTE_KEYWORDS, 'virtual_routes');
export const VIRTUAL_RULE = mapItem(readRule, RULE_KEYWORDS, 'virtual_rules');

/** A multicast group of `family` for adverts (keepalived's vrrp_mcast_group4/6). */
export const MCAST_GROUP: ValueType<{ address: string; family: Family; value: Value }> = {
  read: (v) => {
    const text = v.string();
    if (text === undefined) return undefined;
    const parsed = parseIp(text);
    if (parsed === null)
      return v.fail(`mcast_group must be an IPv4 or IPv6 multicast address, got ${quote(text)}`);
    const multicast =
      parsed.family === 'inet'
        ? (parsed.bytes[0] ?? 0) >= 224 && (parsed.bytes[0] ?? 0) <= 239
        : parsed.bytes[0] === 0xff;
    if (!multicast) return v.fail(`mcast_group ${parsed.address} is not a multicast address`);
    return { address: parsed.address, family: parsed.family, value: v };
  },
  schema: ip().schema,
  summary: 'IPv4 or IPv6 multicast address',
};
