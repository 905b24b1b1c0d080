/**
 * The `director` section: node-wide settings (router id, forwarding sysctl, IPVS resync and timeouts,
 * control socket, metrics, the kernel's connection-sync daemon). The sync daemon's `follow` names a
 * VRRP group or instance; that reference is returned unresolved and checked once VRRP is read.
 */
import { hostname } from 'node:os';
import { parseHostPort } from './addresses.js';
import { type KeywordTable, nullable, readSection, requireKeys } from './keywords.js';
import type { DirectorConfig, MetricsConfig, UnmanagedPolicy } from './types.js';
import type { Value } from './values.js';

/** The kernel keeps IPVS timeouts in jiffies in an int: whole seconds up to this fit at HZ=1000. */
export const MAX_KERNEL_TIMEOUT_S = 2_147_483;

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

interface DirectorDraft {
  routerId?: string;
  ipForward?: boolean;
  ipvs?: IpvsDraft;
  controlSocket?: string;
  metricsListen?: MetricsConfig['listen'];
  syncDaemon?: { value: Value; draft: SyncDaemonDraft };
}

const TIMEOUT_KEYWORDS: KeywordTable<TimeoutsDraft> = {
  tcp: nullable((v, d) => {
    d.tcpS = v.seconds(MAX_KERNEL_TIMEOUT_S);
  }),
  tcp_fin: nullable((v, d) => {
    d.tcpFinS = v.seconds(MAX_KERNEL_TIMEOUT_S);
  }),
  udp: nullable((v, d) => {
    d.udpS = v.seconds(MAX_KERNEL_TIMEOUT_S);
  }),
};

const IPVS_KEYWORDS: KeywordTable<IpvsDraft> = {
  unmanaged: (v, d) => {
    d.unmanaged = v.oneOf<UnmanagedPolicy>(['remove', 'keep']);
  },
  on_stop: (v, d) => {
    d.onStop = v.oneOf(['keep', 'remove'] as const);
  },
  resync_interval: (v, d) => {
    d.resyncIntervalMs = v.duration({ exclusiveMin: true });
  },
  timeouts: (v, d) => {
    d.timeouts = {};
    readSection(v, 'director.ipvs.timeouts', TIMEOUT_KEYWORDS, d.timeouts);
  },
};

const METRICS_KEYWORDS: KeywordTable<DirectorDraft> = {
  listen: (v, d) => {
    const text = v.string();
    if (text === undefined) return;
    const listen = parseHostPort(text);
    if (listen === null) {
      v.fail(
        `listen must be "host:port" (like "127.0.0.1:9469" or "[::1]:9469"), got ${JSON.stringify(text)}`,
      );
      return;
    }
    d.metricsListen = listen;
  },
};

const SYNC_DAEMON_KEYWORDS: KeywordTable<SyncDaemonDraft> = {
  interface: (v, d) => {
    d.interface = v.string();
  },
  sync_id: (v, d) => {
    d.syncId = v.int(0, 255);
  },
  follow: (v, d) => {
    d.follow = v.string();
    d.followValue = v;
  },
};

const DIRECTOR_KEYWORDS: KeywordTable<DirectorDraft> = {
  router_id: (v, d) => {
    d.routerId = v.string();
  },
  ip_forward: (v, d) => {
    d.ipForward = v.bool();
  },
  ipvs: (v, d) => {
    d.ipvs = {};
    readSection(v, 'director.ipvs', IPVS_KEYWORDS, d.ipvs);
  },
  control_socket: (v, d) => {
    d.controlSocket = v.absolutePath();
  },
  metrics: (v, d) => {
    readSection(v, 'director.metrics', METRICS_KEYWORDS, d);
  },
  sync_daemon: nullable((v, d) => {
    const draft: SyncDaemonDraft = {};
    const fields = readSection(v, 'director.sync_daemon', SYNC_DAEMON_KEYWORDS, draft);
    if (fields !== undefined) requireKeys(v, 'director.sync_daemon', fields, ['interface', 'follow']);
    d.syncDaemon = { value: v, draft };
  }),
};

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
    ipForward: d.ipForward ?? true,
    ipvs: {
      unmanaged: d.ipvs?.unmanaged ?? 'remove',
      onStop: d.ipvs?.onStop ?? 'keep',
      resyncIntervalMs: d.ipvs?.resyncIntervalMs ?? 10_000,
      timeouts: { tcpS: t?.tcpS ?? null, tcpFinS: t?.tcpFinS ?? null, udpS: t?.udpS ?? null },
    },
    controlSocket: d.controlSocket ?? DEFAULT_CONTROL_SOCKET,
    metrics: { listen: d.metricsListen ?? DEFAULT_METRICS_LISTEN },
    syncDaemon:
      sync === undefined
        ? null
        : {
            interface: sync.draft.interface ?? '',
            syncId: sync.draft.syncId ?? 0,
            follow: sync.draft.follow ?? '',
            source: sync.value.pos,
          },
  };
  return { director, follow: sync?.draft.follow !== undefined ? (sync.draft.followValue ?? null) : null };
}
