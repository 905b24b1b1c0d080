/**
 * The VRRP sections: scripts, instances and sync groups, each a map from a user's name to an entry.
 * They are checked for shape and for the references between them (tracked scripts, group members);
 * protocol-level rules beyond what the packet format forces are left to the VRRP module.
 */
import type { Node } from 'yaml';
import { quote } from '../errors.js';
import type { Family } from '../model/ipvs.js';
import { VRRP_AUTH_DATA_LEN, VRRP_HEADER_LEN } from '../vrrp/packet.js';
import { formatDuration } from './durations.js';
import { type KeywordTable, key, readNamed, readSection, type ValueType } from './keywords.js';
import { formatPos } from './positions.js';
import type {
  NotifyScripts,
  SourcePos,
  TrackedInterfaceConfig,
  VirtualIpConfig,
  VirtualRouteConfig,
  VirtualRuleConfig,
  VrrpInstanceConfig,
  VrrpScriptConfig,
  VrrpSyncGroupConfig,
  VrrpTrackFileConfig,
} from './types.js';
import { MAX_CHECK_COUNT } from './validate-check.js';
import { familyName } from './validate-real-servers.js';
import {
  MCAST_GROUP,
  readTrackFileEntry,
  resolveTrackFile,
  TRACKED_FILE,
  TRACKED_INTERFACE,
  type TrackFileRef,
  VIRTUAL_ROUTE,
  VIRTUAL_RULE,
  virtualIpType,
} from './validate-vrrp-extra.js';
import {
  bool,
  command,
  deferred,
  duration,
  int,
  interfaceName,
  ip,
  listOf,
  oneOf,
  section,
  string,
} from './value-types.js';
import { describeNode, type Value } from './values.js';

/** RFC 3768 §5.3.10: at most 255 s, whole seconds. RFC 5798 §5.2.7: 12 bits of centiseconds. */
const MAX_ADVERT_V2_MS = 255_000;
const MAX_ADVERT_V3_MS = 40_950;
/** RFC 3768 §5.3.11: the simple-text password is 8 octets. */
const MAX_PASSWORD_BYTES = 8;
const DEFAULT_ADVERT_INT_MS = 1000;
/** The address count field of an advert is one octet (RFC 3768 §5.3.5, RFC 5798 §5.2.5). */
const VRRP_MAX_ADDRESS_COUNT = 255;
/** An advert must fit the IPv6 minimum link MTU (RFC 8200 §5), so no link has to fragment it. */
const MIN_LINK_MTU = 1280;
const IP_HEADER_BYTES: Readonly<Record<Family, number>> = { inet: 20, inet6: 40 };
const ADDRESS_BYTES: Readonly<Record<Family, number>> = { inet: 4, inet6: 16 };
/** A tracked script runs at least this often, and never longer. */
const MAX_SCRIPT_DURATION_MS = 3_600_000;
const MAX_PREEMPT_DELAY_MS = 3_600_000;
/** Tracked interfaces, tracked scripts, unicast peers, members of a sync group. */
const MAX_TRACKED = 255;

interface ScriptDraft {
  argv?: string[];
  intervalMs?: number;
  timeoutMs?: number;
  rise?: number;
  fall?: number;
  weight?: number;
}

export const SCRIPT_KEYWORDS = {
  script: key(
    command(),
    { description: 'program run without a shell; exit 0 means healthy', required: true },
    (d: ScriptDraft, x) => {
      d.argv = x;
    },
  ),
  interval: key(
    duration({ exclusiveMin: true, max: MAX_SCRIPT_DURATION_MS }),
    { description: 'time between runs', default: 1000 },
    (d: ScriptDraft, x) => {
      d.intervalMs = x;
    },
  ),
  timeout: key(
    duration({ exclusiveMin: true, max: MAX_SCRIPT_DURATION_MS }),
    { description: 'a run that takes longer fails', defaultText: 'the interval' },
    (d: ScriptDraft, x) => {
      d.timeoutMs = x;
    },
  ),
  rise: key(
    int(1, MAX_CHECK_COUNT),
    { description: 'consecutive successes before healthy', default: 1 },
    (d: ScriptDraft, x) => {
      d.rise = x;
    },
  ),
  fall: key(
    int(1, MAX_CHECK_COUNT),
    { description: 'consecutive failures before failed', default: 1 },
    (d: ScriptDraft, x) => {
      d.fall = x;
    },
  ),
  weight: key(
    int(-254, 254),
    {
      description:
        '0: a failure puts the instances tracking it in FAULT; otherwise added to their priority while healthy (> 0) or failed (< 0)',
      default: 0,
    },
    (d: ScriptDraft, x) => {
      d.weight = x;
    },
  ),
} satisfies KeywordTable<ScriptDraft>;

interface AuthDraft {
  type?: 'pass' | 'ah';
  password?: string;
  passwordValue?: Value;
}

export const AUTH_KEYWORDS = {
  type: key(
    oneOf<'pass' | 'ah'>(['pass', 'ah']),
    { description: 'VRRPv2 authentication type', required: true },
    (d: AuthDraft, x) => {
      d.type = x;
    },
  ),
  password: key(
    string(),
    { description: 'at most 8 bytes, sent in every advertisement', required: true },
    (d: AuthDraft, x, v) => {
      d.password = x;
      d.passwordValue = v;
    },
  ),
} satisfies KeywordTable<AuthDraft>;

type Notify = Required<NotifyScripts>;
type NotifyDraft = { -readonly [K in keyof Notify]?: string[] };

function notifyKey(state: keyof Notify, description?: string) {
  return key(
    command(),
    {
      description: description ?? `run when the instance becomes ${state.toUpperCase()}`,
      defaultText: 'none',
    },
    (d: NotifyDraft, x) => {
      d[state] = x;
    },
  );
}

export const NOTIFY_KEYWORDS = {
  master: notifyKey('master'),
  backup: notifyKey('backup'),
  fault: notifyKey('fault'),
  stop: notifyKey(
    'stop',
    'run when the instance (or group) is stopped (the daemon stops, or a reload removes it)',
  ),
  any: notifyKey(
    'any',
    "run on every change, after the specific one, with the arguments `INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY` (keepalived's `notify`)",
  ),
} satisfies KeywordTable<NotifyDraft>;

/** The same keys for a sync group (its own table: the reference documents each table once). */
export const GROUP_NOTIFY_KEYWORDS = {
  master: notifyKey('master', 'run when the group becomes MASTER'),
  backup: notifyKey('backup', 'run when the group becomes BACKUP'),
  fault: notifyKey('fault', 'run when the group becomes FAULT'),
  stop: notifyKey('stop', 'run when the group is stopped'),
  any: notifyKey(
    'any',
    'run on every change of the group, after the specific one, with `GROUP NAME STATE 0`',
  ),
} satisfies KeywordTable<NotifyDraft>;

function notifyOf(d: NotifyDraft | undefined): NotifyScripts {
  return {
    master: d?.master ?? null,
    backup: d?.backup ?? null,
    fault: d?.fault ?? null,
    ...(d?.stop !== undefined ? { stop: d.stop } : {}),
    ...(d?.any !== undefined ? { any: d.any } : {}),
  };
}

interface InstanceDraft {
  state?: 'master' | 'backup';
  interface?: string;
  virtualRouterId?: number;
  vridValue?: Value;
  priority?: number;
  advertInt?: Value;
  version?: 2 | 3;
  preempt?: boolean;
  preemptDelayMs?: number;
  authentication?: { value: Value; draft: AuthDraft };
  virtualIps?: { value: Value; vip: VirtualIpConfig }[];
  virtualIpsValue?: Value;
  unicastSrcIp?: string;
  unicastSrcValue?: Value;
  unicastPeers?: { value: Value; address: string }[];
  trackInterfaces?: TrackedInterfaceConfig[];
  trackScripts?: { name: string; value: Value }[];
  notify?: NotifyDraft;
  excluded?: { value: Value; vip: VirtualIpConfig }[];
  useVmac?: string;
  useVmacValue?: Value;
  vmacXmitBase?: boolean;
  dontTrackPrimary?: boolean;
  trackFiles?: TrackFileRef[];
  mcastGroup?: { address: string; family: Family; value: Value };
  virtualRoutes?: VirtualRouteConfig[];
  virtualRules?: VirtualRuleConfig[];
}

const VIRTUAL_IP = virtualIpType('virtual IP address');

/** `true` (the name keepalived picks: `vrrp.VRID`) or the macvlan's name. */
const USE_VMAC: ValueType<{ name: string | true } | false> = {
  read: (v) => {
    const b = typeof (v.node as { value?: unknown } | null)?.value === 'boolean' ? v.bool() : undefined;
    if (b !== undefined) return b ? { name: true } : false;
    const name = interfaceName().read(v);
    return name === undefined ? undefined : { name };
  },
  schema: () => ({ anyOf: [{ type: 'boolean' }, interfaceName().schema()] }),
  summary: '`true`, `false` or an interface name',
};

const PEER: ValueType<{ value: Value; address: string }> = {
  read: (v) => {
    const address = v.ip()?.address;
    return address === undefined ? undefined : { value: v, address };
  },
  schema: ip().schema,
  summary: ip().summary,
};

/**
 * Items that are refused are reported and left out, so the rest can still be checked. `counted`:
 * the caller checks the count itself (with a more precise limit than `maxItems`).
 */
function eachOf<T>(item: ValueType<T>, itemLabel: string, maxItems: number, counted = false): ValueType<T[]> {
  return {
    ...(item.nested !== undefined ? { nested: item.nested } : {}),
    read: (v) => v.list(itemLabel, counted ? undefined : maxItems)?.flatMap((i) => item.read(i) ?? []),
    schema: () => ({ type: 'array', items: item.schema(), maxItems }),
    summary: `list of at most ${maxItems} ${item.summary}`,
  };
}

/** A list type documented with its items' table. */
function withNested<T, U>(list: ValueType<T>, item: ValueType<U>): ValueType<T> {
  return item.nested === undefined ? list : { ...list, nested: item.nested };
}

const TRACKED_SCRIPT: ValueType<{ name: string; value: Value }> = {
  read: (v) => {
    const name = v.string();
    return name === undefined ? undefined : { name, value: v };
  },
  schema: string().schema,
  summary: 'name in `vrrp_scripts`',
};

export const INSTANCE_KEYWORDS = {
  state: key(
    oneOf<'master' | 'backup'>(['master', 'backup']),
    { description: 'initial state; the election decides the rest', default: 'backup' },
    (d: InstanceDraft, x) => {
      d.state = x;
    },
  ),
  interface: key(
    interfaceName(),
    { description: 'interface the adverts are sent on (and the VIPs are added to)', required: true },
    (d: InstanceDraft, x) => {
      d.interface = x;
    },
  ),
  virtual_router_id: key(
    int(1, 255),
    { description: 'VRID, the same on every director of the instance, unique on the link', required: true },
    (d: InstanceDraft, x, v) => {
      d.virtualRouterId = x;
      d.vridValue = v;
    },
  ),
  priority: key(
    int(1, 255),
    { description: 'higher wins the election; 255 is the address owner', default: 100 },
    (d: InstanceDraft, x) => {
      d.priority = x;
    },
  ),
  advert_int: key(
    // Its bounds depend on `version`, so it is read once the whole instance is (advertInterval).
    deferred(() => duration({ min: 10, max: MAX_ADVERT_V2_MS }).schema(), 'duration'),
    {
      description:
        'advertisement interval: whole seconds up to 255s for VRRPv2, steps of 10ms up to 40.95s for VRRPv3',
      defaultText: `\`${formatDuration(DEFAULT_ADVERT_INT_MS)}\``,
    },
    (d: InstanceDraft, x) => {
      d.advertInt = x;
    },
  ),
  version: key(
    { ...int(2, 3), summary: '`2` or `3`' } as ValueType<2 | 3>,
    { description: 'VRRP version (RFC 3768 or RFC 5798); IPv6 VIPs need 3', default: 2 },
    (d: InstanceDraft, x) => {
      d.version = x;
    },
  ),
  preempt: key(
    bool(),
    { description: 'a higher priority takes over from a lower master', default: true },
    (d: InstanceDraft, x) => {
      d.preempt = x;
    },
  ),
  preempt_delay: key(
    duration({ max: MAX_PREEMPT_DELAY_MS }),
    { description: 'wait this long after start before preempting', default: 0 },
    (d: InstanceDraft, x) => {
      d.preemptDelayMs = x;
    },
  ),
  authentication: key(
    section('authentication', AUTH_KEYWORDS),
    { description: 'VRRPv2 only: `{type: pass|ah, password}`', defaultText: 'none', nullable: true },
    (d: InstanceDraft, x, v) => {
      d.authentication = { value: v, draft: x ?? {} };
    },
  ),
  virtual_ipaddresses: key(
    eachOf(VIRTUAL_IP, 'virtual IP address', VRRP_MAX_ADDRESS_COUNT, true),
    {
      description:
        'the VIPs held by the master, all of one family; one advert carries them all: at most 255 IPv4 or 77 IPv6 addresses',
      defaultText: 'none',
    },
    (d: InstanceDraft, x, v) => {
      d.virtualIps = x;
      d.virtualIpsValue = v;
    },
  ),
  unicast_src_ip: key(
    ip(),
    { description: 'source address of unicast adverts', defaultText: "the interface's" },
    (d: InstanceDraft, x, v) => {
      d.unicastSrcIp = x;
      d.unicastSrcValue = v;
    },
  ),
  unicast_peers: key(
    eachOf(PEER, 'unicast peer', MAX_TRACKED),
    { description: 'send adverts to these addresses instead of multicast', defaultText: 'none (multicast)' },
    (d: InstanceDraft, x) => {
      d.unicastPeers = x;
    },
  ),
  track_interfaces: key(
    withNested(listOf(TRACKED_INTERFACE, 'tracked interface', MAX_TRACKED), TRACKED_INTERFACE),
    {
      description:
        "FAULT while any of these interfaces is down; with a weight, the priority moves instead (keepalived's `track_interface … weight N`)",
      defaultText: 'none',
    },
    (d: InstanceDraft, x) => {
      d.trackInterfaces = x;
    },
  ),
  track_scripts: key(
    eachOf(TRACKED_SCRIPT, 'tracked script', MAX_TRACKED),
    {
      description: 'scripts of `vrrp_scripts` that change the priority or put the instance in FAULT',
      defaultText: 'none',
    },
    (d: InstanceDraft, x) => {
      d.trackScripts = x;
    },
  ),
  notify: key(
    section('notify', NOTIFY_KEYWORDS),
    { description: 'programs run on state changes' },
    (d: InstanceDraft, x) => {
      d.notify = x ?? {};
    },
  ),
  virtual_ipaddresses_excluded: key(
    eachOf(virtualIpType('excluded virtual IP address'), 'excluded virtual IP address', 4096),
    {
      description:
        "added and removed with the VIPs but not carried in adverts (keepalived's `virtual_ipaddress_excluded`); any family, any number",
      defaultText: 'none',
    },
    (d: InstanceDraft, x) => {
      d.excluded = x;
    },
  ),
  use_vmac: key(
    USE_VMAC,
    {
      description:
        'run the instance on a macvlan of `interface` with the VRRP virtual MAC 00:00:5e:00:01:VRID (`true`: named `vrrp.VRID`); the VIPs and adverts go there',
      default: false,
    },
    (d: InstanceDraft, x, v) => {
      if (x === undefined || x === false) return;
      d.useVmac = x.name === true ? '' : x.name;
      d.useVmacValue = v;
    },
  ),
  vmac_xmit_base: key(
    bool(),
    { description: 'with `use_vmac`: adverts leave from `interface` itself', default: false },
    (d: InstanceDraft, x) => {
      d.vmacXmitBase = x;
    },
  ),
  dont_track_primary: key(
    bool(),
    { description: '`interface` going down is no fault (only `track_interfaces` count)', default: false },
    (d: InstanceDraft, x) => {
      d.dontTrackPrimary = x;
    },
  ),
  track_files: key(
    eachOf(TRACKED_FILE, 'tracked file', MAX_TRACKED),
    {
      description: 'files of `vrrp_track_files` that move the priority or put the instance in FAULT',
      defaultText: 'none',
    },
    (d: InstanceDraft, x) => {
      d.trackFiles = x;
    },
  ),
  mcast_group: key(
    MCAST_GROUP,
    {
      description:
        "multicast group of the adverts (keepalived's `vrrp_mcast_group4`/`6`), of the adverts' family",
      defaultText: '`224.0.0.18` / `ff02::12`',
    },
    (d: InstanceDraft, x) => {
      d.mcastGroup = x;
    },
  ),
  virtual_routes: key(
    withNested(listOf(VIRTUAL_ROUTE, 'virtual route', 4096), VIRTUAL_ROUTE),
    {
      description: "routes added while MASTER, removed otherwise (keepalived's `virtual_routes`)",
      defaultText: 'none',
    },
    (d: InstanceDraft, x) => {
      d.virtualRoutes = x;
    },
  ),
  virtual_rules: key(
    withNested(listOf(VIRTUAL_RULE, 'virtual rule', 4096), VIRTUAL_RULE),
    {
      description:
        "policy routing rules added while MASTER, removed otherwise (keepalived's `virtual_rules`)",
      defaultText: 'none',
    },
    (d: InstanceDraft, x) => {
      d.virtualRules = x;
    },
  ),
} satisfies KeywordTable<InstanceDraft>;

/** Centiseconds; whole seconds for VRRPv2, 10 ms steps for VRRPv3. */
function advertInterval(value: Value | undefined, version: 2 | 3): number | undefined {
  if (value === undefined) return DEFAULT_ADVERT_INT_MS / 10;
  const ms =
    version === 2
      ? value.duration({ min: 1000, max: MAX_ADVERT_V2_MS, wholeSeconds: true })
      : value.duration({ min: 10, max: MAX_ADVERT_V3_MS });
  if (ms === undefined) return undefined;
  if (ms % 10 !== 0) {
    return value.fail(
      `advert_int must be a multiple of 10ms (VRRPv3 counts centiseconds), got ${describeNode(value.node)}`,
    );
  }
  return ms / 10;
}

/**
 * The family an instance's adverts use, as the VRRP module picks it (vrrp/instance.ts
 * instanceFamily): IPv4 for VRRPv2; for VRRPv3 its first VIP's, else its unicast source's.
 */
function instanceFamily(d: InstanceDraft, version: 2 | 3): Family {
  if (version === 2) return 'inet';
  const first = d.virtualIps?.[0]?.vip.family;
  if (first !== undefined) return first;
  return d.unicastSrcIp?.includes(':') === true ? 'inet6' : 'inet';
}

/**
 * The most VIPs one advert carries: what the count field holds and what fits 1280 bytes with the IP
 * header, the VRRP header and (v2) the authentication data: 255 IPv4 addresses, 77 IPv6 ones.
 */
export function maxVirtualIps(version: 2 | 3, family: Family): number {
  const room =
    MIN_LINK_MTU - IP_HEADER_BYTES[family] - VRRP_HEADER_LEN - (version === 2 ? VRRP_AUTH_DATA_LEN : 0);
  return Math.min(VRRP_MAX_ADDRESS_COUNT, Math.floor(room / ADDRESS_BYTES[family]));
}

function checkInstance(d: InstanceDraft, version: 2 | 3): void {
  const vips = d.virtualIps ?? [];
  const family = vips[0]?.vip.family;
  const advertFamily = instanceFamily(d, version);
  const max = maxVirtualIps(version, advertFamily);
  if (vips.length > max) {
    d.virtualIpsValue?.fail(
      `virtual_ipaddresses lists ${vips.length} addresses; one VRRPv${version} advert carries at most ${max} ${familyName(advertFamily)} addresses`,
    );
  }
  if (d.unicastSrcIp !== undefined && d.unicastSrcValue !== undefined) {
    const srcFamily: Family = d.unicastSrcIp.includes(':') ? 'inet6' : 'inet';
    if (srcFamily !== advertFamily)
      d.unicastSrcValue.fail(
        `unicast_src_ip ${d.unicastSrcIp} is ${familyName(srcFamily)} but the instance's adverts are ${familyName(advertFamily)}${version === 2 ? ' (VRRPv2 is IPv4 only)' : ''}`,
      );
  }
  for (const peer of d.unicastPeers ?? []) {
    const peerFamily: Family = peer.address.includes(':') ? 'inet6' : 'inet';
    if (peerFamily !== advertFamily)
      peer.value.fail(
        `unicast peer ${peer.address} is ${familyName(peerFamily)} but the instance's adverts are ${familyName(advertFamily)}`,
      );
  }
  for (const { value, vip } of vips) {
    if (version === 2 && vip.family === 'inet6') {
      value.fail(`virtual IP address ${vip.address} is IPv6, which needs VRRP version 3`);
    } else if (family !== undefined && vip.family !== family) {
      value.fail(
        `virtual IP address ${vip.address} is ${familyName(vip.family)} but the instance's first is ${familyName(family)}`,
      );
    }
  }
  if (d.mcastGroup !== undefined && d.mcastGroup.family !== advertFamily)
    d.mcastGroup.value.fail(
      `mcast_group ${d.mcastGroup.address} is ${familyName(d.mcastGroup.family)} but the instance's adverts are ${familyName(advertFamily)}`,
    );
  if (
    d.useVmac !== undefined &&
    d.unicastPeers !== undefined &&
    d.unicastPeers.length > 0 &&
    d.vmacXmitBase !== true
  )
    d.useVmacValue?.fail('use_vmac with unicast_peers needs vmac_xmit_base: true (as keepalived sets it)');
  if (d.useVmac !== undefined && advertFamily === 'inet6')
    d.useVmacValue?.fail(
      'use_vmac is IPv4 only in ipvsd (an IPv6 VMAC needs the base link-local address moved onto it, which ipvsd does not do)',
    );
  const auth = d.authentication;
  if (auth !== undefined && version === 3) {
    auth.value.fail('authentication is VRRP version 2 only (RFC 5798 removed it)');
  }
  const password = auth?.draft.password;
  if (password !== undefined && Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    auth?.draft.passwordValue?.fail(
      `password must be at most ${MAX_PASSWORD_BYTES} bytes (it is sent in the VRRP packet)`,
    );
  }
}

interface InstanceResult {
  readonly instance: VrrpInstanceConfig;
  /** Interface, advert family and VRID, when all three are valid: unique among instances. */
  readonly link: { readonly key: string; readonly value: Value } | null;
  readonly trackScripts: readonly { name: string; value: Value }[];
  readonly trackFiles: readonly TrackFileRef[];
}

function readInstance(name: string, value: Value, source: SourcePos): InstanceResult | undefined {
  const d: InstanceDraft = {};
  const fields = readSection(value, `vrrp instance ${quote(name)}`, INSTANCE_KEYWORDS, d);
  if (fields === undefined) return undefined;
  const version = d.version ?? INSTANCE_KEYWORDS.version.default;
  const advertIntervalCs = advertInterval(d.advertInt, version);
  checkInstance(d, version);
  const auth = d.authentication?.draft;
  const instance: VrrpInstanceConfig = {
    name,
    state: d.state ?? INSTANCE_KEYWORDS.state.default,
    interface: d.interface ?? '',
    virtualRouterId: d.virtualRouterId ?? 0,
    priority: d.priority ?? INSTANCE_KEYWORDS.priority.default,
    advertIntervalCs: advertIntervalCs ?? DEFAULT_ADVERT_INT_MS / 10,
    version,
    preempt: d.preempt ?? INSTANCE_KEYWORDS.preempt.default,
    preemptDelayMs: d.preemptDelayMs ?? INSTANCE_KEYWORDS.preempt_delay.default,
    authentication:
      auth?.type !== undefined && auth.password !== undefined
        ? { type: auth.type, password: auth.password }
        : null,
    virtualIpaddresses: (d.virtualIps ?? []).map((v) => v.vip),
    unicastSrcIp: d.unicastSrcIp ?? null,
    unicastPeers: (d.unicastPeers ?? []).map((p) => p.address),
    trackInterfaces: [...new Set((d.trackInterfaces ?? []).map((t) => t.name))],
    trackScripts: (d.trackScripts ?? []).map((t) => t.name),
    notify: notifyOf(d.notify),
    ...(d.trackInterfaces?.some((t) => t.weight !== 0 || t.reverse)
      ? { trackedInterfaces: d.trackInterfaces }
      : {}),
    ...(d.excluded !== undefined && d.excluded.length > 0
      ? { virtualIpaddressesExcluded: d.excluded.map((v) => v.vip) }
      : {}),
    ...(d.useVmac !== undefined
      ? {
          useVmac: d.useVmac === '' ? `vrrp.${d.virtualRouterId ?? 0}` : d.useVmac,
          vmacXmitBase: d.vmacXmitBase ?? false,
        }
      : {}),
    ...(d.dontTrackPrimary === true ? { dontTrackPrimary: true } : {}),
    ...(d.mcastGroup !== undefined ? { mcastGroup: d.mcastGroup.address } : {}),
    ...(d.virtualRoutes !== undefined && d.virtualRoutes.length > 0
      ? { virtualRoutes: d.virtualRoutes }
      : {}),
    ...(d.virtualRules !== undefined && d.virtualRules.length > 0 ? { virtualRules: d.virtualRules } : {}),
    source,
  };
  const link =
    d.interface !== undefined && d.virtualRouterId !== undefined && d.vridValue !== undefined
      ? {
          key: `${d.virtualRouterId} on ${d.interface} (${familyName(instanceFamily(d, version))})`,
          value: d.vridValue,
        }
      : null;
  return { instance, link, trackScripts: d.trackScripts ?? [], trackFiles: d.trackFiles ?? [] };
}

function readScript(name: string, value: Value, source: SourcePos): VrrpScriptConfig | undefined {
  const d: ScriptDraft = {};
  const fields = readSection(value, `vrrp script ${quote(name)}`, SCRIPT_KEYWORDS, d);
  if (fields === undefined) return undefined;
  const intervalMs = d.intervalMs ?? SCRIPT_KEYWORDS.interval.default;
  return {
    name,
    argv: d.argv ?? [],
    intervalMs,
    timeoutMs: d.timeoutMs ?? intervalMs,
    rise: d.rise ?? SCRIPT_KEYWORDS.rise.default,
    fall: d.fall ?? SCRIPT_KEYWORDS.fall.default,
    weight: d.weight ?? SCRIPT_KEYWORDS.weight.default,
    source,
  };
}

interface GroupDraft {
  instances?: Value[];
  notify?: NotifyDraft;
}

const INSTANCE_NAMES: ValueType<Value[]> = {
  read: (v) => {
    const items = v.list('instance', MAX_TRACKED);
    if (items?.length === 0) return v.fail('instances must list at least one vrrp instance');
    return items;
  },
  schema: () => ({ type: 'array', items: string().schema(), minItems: 1, maxItems: MAX_TRACKED }),
  summary: 'list of names in `vrrp_instances`',
};

export const GROUP_KEYWORDS = {
  instances: key(
    INSTANCE_NAMES,
    {
      description: 'instances that are always in one state: when one fails or is taken over, all follow',
      required: true,
    },
    (d: GroupDraft, x) => {
      d.instances = x;
    },
  ),
  notify: key(
    section('notify', GROUP_NOTIFY_KEYWORDS),
    {
      description:
        "programs run on the group's state changes (`any`: with `GROUP NAME STATE 0`, as keepalived's sync group `notify`)",
    },
    (d: GroupDraft, x) => {
      d.notify = x ?? {};
    },
  ),
} satisfies KeywordTable<GroupDraft>;

interface TrackFilesSection {
  readonly value: Value | null;
}

/** `vrrp_track_files`: a map of names to `{file, weight, reverse, init_file, init_overwrite}`. */
export function readTrackFiles(
  { value }: TrackFilesSection,
  pos: (v: Value, key: Node) => SourcePos,
): VrrpTrackFileConfig[] {
  const out: VrrpTrackFileConfig[] = [];
  if (!present(value)) return out;
  readNamed(value, 'vrrp_track_files', (name, v, key) => {
    const d = readTrackFileEntry(v, `vrrp track file ${quote(name)}`);
    if (d === undefined || d.path === undefined) return;
    out.push({
      name,
      path: d.path,
      weight: d.weight ?? 1,
      reverse: d.reverse ?? false,
      init: d.init !== undefined ? { value: d.init, overwrite: d.overwrite ?? false } : null,
      source: pos(v, key),
    });
  });
  return out;
}

export interface VrrpSections {
  readonly trackFiles?: Value | null;
  readonly scripts: Value | null;
  readonly instances: Value | null;
  readonly syncGroups: Value | null;
}

export interface VrrpResult {
  readonly trackFiles: VrrpTrackFileConfig[];
  readonly scripts: VrrpScriptConfig[];
  readonly instances: VrrpInstanceConfig[];
  readonly syncGroups: VrrpSyncGroupConfig[];
}

function present(value: Value | null): value is Value {
  return value !== null && !value.isNull;
}

/** Reads the three sections and checks the names they refer to. */
export function readVrrp(sections: VrrpSections): VrrpResult {
  const scripts: VrrpScriptConfig[] = [];
  const instances: VrrpInstanceConfig[] = [];
  const syncGroups: VrrpSyncGroupConfig[] = [];
  const trackRefs: { name: string; value: Value }[] = [];
  const fileRefs: { instance: number; refs: readonly TrackFileRef[] }[] = [];
  const pos = (v: Value, key: Node): SourcePos => v.ctx.pos(key);
  const trackFiles = readTrackFiles({ value: sections.trackFiles ?? null }, pos);
  if (present(sections.scripts)) {
    readNamed(sections.scripts, 'vrrp_scripts', (name, v, key) => {
      const script = readScript(name, v, pos(v, key));
      if (script !== undefined) scripts.push(script);
    });
  }
  if (present(sections.instances)) {
    // One instance per interface, VRID and family: the VRRP module receives adverts by those three.
    const links = new Map<string, { name: string; pos: SourcePos }>();
    readNamed(sections.instances, 'vrrp_instances', (name, v, key) => {
      const result = readInstance(name, v, pos(v, key));
      if (result === undefined) return;
      if (result.link !== null) {
        const other = links.get(result.link.key);
        if (other !== undefined)
          result.link.value.fail(
            `virtual_router_id ${result.link.key} is already used by vrrp instance ${quote(other.name)} (at ${formatPos(other.pos)})`,
          );
        else links.set(result.link.key, { name, pos: result.link.value.pos });
      }
      if (result.trackFiles.length > 0)
        fileRefs.push({ instance: instances.length, refs: result.trackFiles });
      instances.push(result.instance);
      trackRefs.push(...result.trackScripts);
    });
  }
  const files = new Map(trackFiles.map((f) => [f.name, f]));
  for (const { instance, refs } of fileRefs) {
    const resolved = refs.flatMap((ref) => {
      const file = files.get(ref.name);
      if (file === undefined) {
        ref.value.fail(`tracked file ${quote(ref.name)} is not defined in vrrp_track_files`);
        return [];
      }
      return [resolveTrackFile(ref, file)];
    });
    const current = instances[instance];
    if (current !== undefined) instances[instance] = { ...current, trackFiles: resolved };
  }
  const scriptNames = new Set(scripts.map((s) => s.name));
  for (const { name, value } of trackRefs) {
    if (!scriptNames.has(name)) value.fail(`tracked script ${quote(name)} is not defined in vrrp_scripts`);
  }
  if (present(sections.syncGroups)) {
    const instanceNames = new Set(instances.map((i) => i.name));
    const memberOf = new Map<string, { group: string; pos: SourcePos }>();
    readNamed(sections.syncGroups, 'vrrp_sync_groups', (name, v, key) => {
      const d: GroupDraft = {};
      const fields = readSection(v, `vrrp sync group ${quote(name)}`, GROUP_KEYWORDS, d);
      if (fields === undefined) return;
      const members: string[] = [];
      for (const item of d.instances ?? []) {
        const member = item.string();
        if (member === undefined) continue;
        const other = memberOf.get(member);
        if (!instanceNames.has(member))
          item.fail(`instance ${quote(member)} is not defined in vrrp_instances`);
        else if (other !== undefined) {
          item.fail(
            `instance ${quote(member)} is already in sync group ${quote(other.group)} (at ${formatPos(other.pos)})`,
          );
        } else memberOf.set(member, { group: name, pos: item.pos });
        members.push(member);
      }
      const notify = d.notify === undefined ? undefined : notifyOf(d.notify);
      syncGroups.push({
        name,
        instances: members,
        ...(notify !== undefined ? { notify } : {}),
        source: pos(v, key),
      });
    });
  }
  return { trackFiles, scripts, instances, syncGroups };
}
