/**
 * The `director` section: node-wide settings (router id, forwarding sysctl, IPVS resync and timeouts,
 * control socket, metrics, the kernel's connection-sync daemon). The sync daemon's `follow` names a
 * VRRP group or instance; that reference is returned unresolved and checked once VRRP is read.
 */

import { hostname } from 'node:os';
import { quote } from '../errors.js';
import { parseHostPort } from './addresses.js';
import { type KeywordTable, key, readSection } from './keywords.js';
import type { DirectorConfig, MetricsConfig, UnmanagedPolicy } from './types.js';
import {
  absolutePath,
  bool,
  duration,
  int,
  interfaceName,
  mapOf,
  oneOf,
  patterned,
  seconds,
  section,
  string,
} from './value-types.js';
import type { Value } from './values.js';

/** The kernel keeps IPVS timeouts in jiffies in an int: whole seconds up to this fit at HZ=1000. */
export const MAX_KERNEL_TIMEOUT_S = 2_147_483;

/** sun_path (sys/un.h) holds 108 bytes with the NUL: a longer path cannot be bound. */
const MAX_UNIX_SOCKET_PATH_BYTES = 107;

export const DEFAULT_CONTROL_SOCKET = '/run/ipvsd/control.sock';
export const DEFAULT_METRICS_LISTEN: MetricsConfig['listen'] = { host: '127.0.0.1', port: 9469 };

interface TimeoutsDraft {
  tcpS?: number;
  tcpFinS?: number;
  udpS?: number;
}

interface IpvsDraft {
  unmanaged?: UnmanagedPolicy;
  onStop?: 'keep' | 'remove';
  resyncIntervalMs?: number;
  timeouts?: TimeoutsDraft;
}

interface SyncDaemonDraft {
  interface?: string;
  syncId?: number;
  follow?: string;
  followValue?: Value;
}

interface AnnounceDraft {
  withdrawDelayMs?: number;
  table?: number;
  protocol?: number;
  interface?: string;
}

interface DirectorDraft {
  announce?: AnnounceDraft;
  routerId?: string;
  ipForward?: boolean;
  ipvs?: IpvsDraft;
  controlSocket?: string;
  metricsListen?: MetricsConfig['listen'];
  syncDaemon?: { value: Value; draft: SyncDaemonDraft };
}

export const TIMEOUT_KEYWORDS = {
  tcp: key(
    seconds(MAX_KERNEL_TIMEOUT_S),
    {
      description: 'IPVS timeout of established TCP connections',
      defaultText: "the kernel's (900s)",
      nullable: true,
    },
    (d: TimeoutsDraft, x) => {
      d.tcpS = x;
    },
  ),
  tcp_fin: key(
    seconds(MAX_KERNEL_TIMEOUT_S),
    {
      description: 'IPVS timeout of TCP connections after a FIN',
      defaultText: "the kernel's (120s)",
      nullable: true,
    },
    (d: TimeoutsDraft, x) => {
      d.tcpFinS = x;
    },
  ),
  udp: key(
    seconds(MAX_KERNEL_TIMEOUT_S),
    { description: 'IPVS timeout of UDP flows', defaultText: "the kernel's (300s)", nullable: true },
    (d: TimeoutsDraft, x) => {
      d.udpS = x;
    },
  ),
} satisfies KeywordTable<TimeoutsDraft>;

export const IPVS_KEYWORDS = {
  unmanaged: key(
    oneOf<UnmanagedPolicy>(['remove', 'keep']),
    { description: 'what to do with kernel services the config does not name', default: 'remove' },
    (d: IpvsDraft, x) => {
      d.unmanaged = x;
    },
  ),
  on_stop: key(
    oneOf(['keep', 'remove'] as const),
    {
      description:
        'on SIGTERM, `keep` the services (a restart drops no connection) or `remove` those the config names',
      default: 'keep',
    },
    (d: IpvsDraft, x) => {
      d.onStop = x;
    },
  ),
  resync_interval: key(
    duration({ exclusiveMin: true, max: 24 * 3_600_000 }),
    { description: 'period of the full kernel dump + diff that repairs drift (daemon)', default: 10_000 },
    (d: IpvsDraft, x) => {
      d.resyncIntervalMs = x;
    },
  ),
  timeouts: key(
    section('director.ipvs.timeouts', TIMEOUT_KEYWORDS),
    {
      description:
        'IPVS connection timeouts (IPVS_CMD_SET_CONFIG), set by `apply` and the daemon when they differ',
    },
    (d: IpvsDraft, x) => {
      d.timeouts = x ?? {};
    },
  ),
} satisfies KeywordTable<IpvsDraft>;

export const METRICS_KEYWORDS = {
  listen: key(
    patterned(String.raw`^(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+):\d{1,5}$`, '`host:port` or `[v6]:port`', (v) => {
      const text = v.string();
      if (text === undefined) return undefined;
      if (parseHostPort(text) !== null) return text;
      return v.fail(`listen must be "host:port" (like "127.0.0.1:9469" or "[::1]:9469"), got ${quote(text)}`);
    }),
    { description: 'address of the Prometheus endpoint (`GET /metrics`)', default: '127.0.0.1:9469' },
    (d: DirectorDraft, x) => {
      const listen = x === undefined ? null : parseHostPort(x);
      if (listen !== null) d.metricsListen = listen;
    },
  ),
} satisfies KeywordTable<DirectorDraft>;

export const SYNC_DAEMON_KEYWORDS = {
  interface: key(
    interfaceName(),
    { description: 'interface the kernel sends and receives connection-sync multicast on', required: true },
    (d: SyncDaemonDraft, x) => {
      d.interface = x;
    },
  ),
  sync_id: key(
    int(0, 255),
    { description: 'sync id of the messages; a backup with 0 accepts every id', default: 0 },
    (d: SyncDaemonDraft, x) => {
      d.syncId = x;
    },
  ),
  follow: key(
    string(),
    {
      description:
        'the VRRP sync group or instance whose state the sync daemon follows (master there: master sync daemon)',
      required: true,
    },
    (d: SyncDaemonDraft, x, v) => {
      d.follow = x;
      d.followValue = v;
    },
  ),
} satisfies KeywordTable<SyncDaemonDraft>;

/** rt_tables: 253 default, 254 main, 255 local; 0 is RT_TABLE_UNSPEC. */
const RESERVED_TABLES: Readonly<Record<number, string>> = { 253: 'default', 254: 'main', 255: 'local' };

/**
 * rtm_protocol values whose owner deletes such routes when it starts (zebra, BIRD, FRR's daemons,
 * rt_protos and frr's rt_netlink.h): ipvsd's routes would vanish under the very daemon that imports them.
 */
function reservedProtocol(n: number): string | null {
  if (n === 11) return 'zebra';
  if (n === 12) return 'bird';
  if (n >= 186 && n <= 198) return "FRR's daemons";
  return null;
}

export const ANNOUNCE_KEYWORDS = {
  withdraw_delay: key(
    duration({ max: 3_600_000 }),
    {
      description:
        'on SIGTERM: withdraw every announced VIP, wait this long (routers converge, connections drain), then stop',
      default: 5000,
    },
    (d: AnnounceDraft, x) => {
      d.withdrawDelayMs = x;
    },
  ),
  table: key(
    int(1, 2 ** 32 - 1),
    {
      description:
        "routing table of ipvsd's own: one host route per announced VIP, for BIRD's or FRR's kernel import (not 253–255)",
      default: 200,
    },
    (d: AnnounceDraft, x, v) => {
      const reserved = x === undefined ? undefined : RESERVED_TABLES[x];
      if (reserved !== undefined)
        v.fail(`table ${x} is the kernel's "${reserved}" table; give ipvsd a table of its own (like 200)`);
      else d.table = x;
    },
  ),
  protocol: key(
    int(5, 255),
    {
      description:
        "rtm_protocol of ipvsd's routes (BIRD: `krt_source`, FRR: `proto`); routes with another protocol in the table are left alone",
      default: 240,
    },
    (d: AnnounceDraft, x, v) => {
      const owner = x === undefined ? null : reservedProtocol(x);
      if (owner !== null)
        v.fail(
          `protocol ${x} belongs to ${owner}, which deletes such routes when it starts; pick another (like 240)`,
        );
      else d.protocol = x;
    },
  ),
  interface: key(
    interfaceName(),
    {
      description:
        'device of the `local` route that makes each announced VIP local (IPVS needs local delivery; the VIP is not added as an address)',
      default: 'lo',
    },
    (d: AnnounceDraft, x) => {
      d.interface = x;
    },
  ),
} satisfies KeywordTable<AnnounceDraft>;

export const DIRECTOR_KEYWORDS = {
  router_id: key(
    string(),
    { description: "this director's name in logs", defaultText: 'the host name' },
    (d: DirectorDraft, x) => {
      d.routerId = x;
    },
  ),
  ip_forward: key(
    bool(),
    {
      description: 'set `net.ipv4.ip_forward=1` at start (NAT replies route back through the director)',
      default: true,
    },
    (d: DirectorDraft, x) => {
      d.ipForward = x;
    },
  ),
  ipvs: key(
    section('director.ipvs', IPVS_KEYWORDS),
    { description: 'how the kernel IPVS table is managed' },
    (d: DirectorDraft, x) => {
      d.ipvs = x ?? {};
    },
  ),
  control_socket: key(
    absolutePath(MAX_UNIX_SOCKET_PATH_BYTES),
    {
      description: "the daemon's control API (a unix socket, 0600 in a 0700 directory)",
      default: DEFAULT_CONTROL_SOCKET,
    },
    (d: DirectorDraft, x) => {
      d.controlSocket = x;
    },
  ),
  metrics: key(
    // The listen address lands in the director's draft, so this nested table shares it.
    mapOf(METRICS_KEYWORDS),
    { description: 'the Prometheus endpoint' },
    (d: DirectorDraft, _x, v) => {
      readSection(v, 'director.metrics', METRICS_KEYWORDS, d);
    },
  ),
  sync_daemon: key(
    mapOf(SYNC_DAEMON_KEYWORDS),
    {
      description: 'the kernel IPVS connection-sync daemon, so a backup director carries open connections',
      defaultText: 'none',
      nullable: true,
    },
    (d: DirectorDraft, _x, v) => {
      const draft: SyncDaemonDraft = {};
      readSection(v, 'director.sync_daemon', SYNC_DAEMON_KEYWORDS, draft);
      d.syncDaemon = { value: v, draft };
    },
  ),
  announce: key(
    section('director.announce', ANNOUNCE_KEYWORDS),
    {
      description:
        'how announced VIPs (`virtual_servers[].announce`) become routes BIRD or FRR export over BGP',
    },
    (d: DirectorDraft, x) => {
      d.announce = x ?? {};
    },
  ),
} satisfies KeywordTable<DirectorDraft>;

export interface DirectorResult {
  readonly director: DirectorConfig;
  /** The sync daemon's `follow` value, to check against the VRRP names. */
  readonly follow: Value | null;
}

/** `value` is null when the file has no director section. */
export function readDirector(value: Value | null, defaultRouterId: string = hostname()): DirectorResult {
  const d: DirectorDraft = {};
  if (value !== null && !value.isNull) readSection(value, 'director', DIRECTOR_KEYWORDS, d);
  const sync = d.syncDaemon;
  const t = d.ipvs?.timeouts;
  const director: DirectorConfig = {
    routerId: d.routerId ?? defaultRouterId,
    ipForward: d.ipForward ?? DIRECTOR_KEYWORDS.ip_forward.default,
    ipvs: {
      unmanaged: d.ipvs?.unmanaged ?? IPVS_KEYWORDS.unmanaged.default,
      onStop: d.ipvs?.onStop ?? IPVS_KEYWORDS.on_stop.default,
      resyncIntervalMs: d.ipvs?.resyncIntervalMs ?? IPVS_KEYWORDS.resync_interval.default,
      timeouts: { tcpS: t?.tcpS ?? null, tcpFinS: t?.tcpFinS ?? null, udpS: t?.udpS ?? null },
    },
    controlSocket: d.controlSocket ?? DEFAULT_CONTROL_SOCKET,
    announce: {
      withdrawDelayMs: d.announce?.withdrawDelayMs ?? ANNOUNCE_KEYWORDS.withdraw_delay.default,
      table: d.announce?.table ?? ANNOUNCE_KEYWORDS.table.default,
      protocol: d.announce?.protocol ?? ANNOUNCE_KEYWORDS.protocol.default,
      interface: d.announce?.interface ?? ANNOUNCE_KEYWORDS.interface.default,
    },
    metrics: { listen: d.metricsListen ?? DEFAULT_METRICS_LISTEN },
    syncDaemon:
      sync === undefined
        ? null
        : {
            interface: sync.draft.interface ?? '',
            syncId: sync.draft.syncId ?? SYNC_DAEMON_KEYWORDS.sync_id.default,
            follow: sync.draft.follow ?? '',
            source: sync.value.pos,
          },
  };
  return { director, follow: sync?.draft.follow !== undefined ? (sync.draft.followValue ?? null) : null };
}
