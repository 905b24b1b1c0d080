/**
 * What the operator sees of VRRP (`ipvsctl status`, /metrics) and the one thing they can do to it
 * (`ipvsctl failover`). The speaker keeps per-instance counters; this adds what only a listener
 * sees: transitions by the state entered, for groups too, and when the last one happened. The
 * composition of the status and the refusal of a failover are pure functions; the view joins them
 * to the live speaker and sync-daemon follower.
 */
import type { Config } from '../config/types.js';
import type {
  FailoverResult,
  StatusResult,
  SyncDaemonStatus,
  TransitionsByState,
  VrrpInstanceStatus,
  VrrpState,
  VrrpSyncGroupStatus,
} from '../control/protocol.js';
import { IpvsdError } from '../errors.js';

/** The speaker's status (src/vrrp/speaker.ts), structurally. */
export interface SpeakerStatusLike {
  readonly instances: readonly {
    readonly name: string;
    readonly state: VrrpState;
    readonly priority: number;
    /** The configured priority and the trackers holding the instance in FAULT (speakers with trackers). */
    readonly base_priority?: number;
    readonly faults?: readonly string[];
    readonly master_address: string | null;
    readonly transitions: number;
    readonly adverts: {
      readonly sent: number;
      readonly received: number;
      readonly dropped: Readonly<Record<string, number>>;
    };
  }[];
  readonly sync_groups: readonly { readonly name: string; readonly state: VrrpState }[];
  /** The kernel's drops on each open VRRP socket (absent from speakers that do not report them). */
  readonly sockets?: readonly {
    readonly interface: string;
    readonly family: 'inet' | 'inet6';
    readonly drops: number;
  }[];
}

/**
 * The part of VRRP the view uses: the speaker's last status, a failover (resolving with the
 * state after it), the transitions as they happen. In the daemon this is the vrrp process seen
 * from the parent (src/proc/remote-vrrp.ts).
 */
export interface VrrpControl {
  status(): SpeakerStatusLike;
  failover(name: string): Promise<VrrpState>;
  onStateChange(
    listener: (change: {
      readonly kind: 'instance' | 'group';
      readonly name: string;
      readonly previous: VrrpState;
      readonly state: VrrpState;
    }) => void,
  ): () => void;
}

export interface TransitionRecord {
  readonly byState: TransitionsByState;
  /** ms since the epoch */
  readonly lastAt: number | null;
}

type TransitionKey = `${'instance' | 'group'}/${string}`;
export type TransitionTable = ReadonlyMap<TransitionKey, TransitionRecord>;

const ZERO: TransitionsByState = { MASTER: 0, BACKUP: 0, FAULT: 0, INIT: 0 };

/** The table after one transition. Pure. */
export function recordTransition(
  table: TransitionTable,
  change: { readonly kind: 'instance' | 'group'; readonly name: string; readonly state: VrrpState },
  at: number,
): TransitionTable {
  const key: TransitionKey = `${change.kind}/${change.name}`;
  const before = table.get(key)?.byState ?? ZERO;
  const next = new Map(table);
  next.set(key, { byState: { ...before, [change.state]: before[change.state] + 1 }, lastAt: at });
  return next;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const total = (t: TransitionsByState): number => t.MASTER + t.BACKUP + t.FAULT + t.INIT;

/** The `vrrp` section of the status. Pure. */
export function composeVrrpStatus(
  speaker: SpeakerStatusLike | null,
  config: Config,
  transitions: TransitionTable,
  syncDaemon: SyncDaemonStatus | null,
): StatusResult['vrrp'] {
  if (speaker === null) return { instances: [], sync_groups: [], sync_daemon: syncDaemon };
  const instances = speaker.instances.map((i): VrrpInstanceStatus => {
    const t = transitions.get(`instance/${i.name}`);
    return {
      name: i.name,
      state: i.state,
      priority: i.priority,
      ...(i.base_priority === undefined ? {} : { base_priority: i.base_priority }),
      ...(i.faults === undefined ? {} : { faults: [...i.faults] }),
      master_address: i.master_address,
      transitions: i.transitions,
      transitions_by_state: t?.byState ?? ZERO,
      last_transition: iso(t?.lastAt ?? null),
      adverts: { sent: i.adverts.sent, received: i.adverts.received, dropped: { ...i.adverts.dropped } },
    };
  });
  const sync_groups = speaker.sync_groups.map((g): VrrpSyncGroupStatus => {
    const t = transitions.get(`group/${g.name}`);
    const byState = t?.byState ?? ZERO;
    return {
      name: g.name,
      state: g.state,
      members: config.vrrpSyncGroups.find((c) => c.name === g.name)?.instances ?? [],
      transitions: total(byState),
      transitions_by_state: byState,
      last_transition: iso(t?.lastAt ?? null),
    };
  });
  return { instances, sync_groups, sync_daemon: syncDaemon };
}

/** Why `ipvsctl failover NAME` cannot run, or null when it can. Pure. */
export function failoverRefusal(speaker: SpeakerStatusLike | null, name: string): IpvsdError | null {
  if (speaker === null || (speaker.instances.length === 0 && speaker.sync_groups.length === 0))
    return new IpvsdError('IPVSD_ERR_USAGE', 'this ipvsd runs no VRRP (its config has no vrrp_instances)');
  const unit =
    speaker.sync_groups.find((g) => g.name === name) ?? speaker.instances.find((i) => i.name === name);
  if (unit === undefined) {
    const known = [...speaker.sync_groups, ...speaker.instances].map((u) => u.name).join(', ');
    return new IpvsdError(
      'IPVSD_ERR_NOT_FOUND',
      `no VRRP instance or sync group named "${name}" (known: ${known})`,
    );
  }
  if (unit.state !== 'MASTER')
    return new IpvsdError(
      'IPVSD_ERR_USAGE',
      `${name} is ${unit.state}, not MASTER: there is nothing to hand over (run failover on the master)`,
    );
  return null;
}

export interface VrrpView {
  status(): StatusResult['vrrp'];
  /** Rejects with the refusal as an IpvsdError; otherwise hands over and reports the state after. */
  failover(name: string): Promise<FailoverResult>;
  /** The transitions so far (for metrics). */
  transitions(): TransitionTable;
  reload(config: Config): void;
  close(): void;
}

export function createVrrpView(
  initial: Config,
  deps: {
    readonly speaker: VrrpControl | null;
    readonly syncDaemon: () => SyncDaemonStatus | null;
    readonly now?: () => number;
  },
): VrrpView {
  const now = deps.now ?? Date.now;
  let config = initial;
  let table: TransitionTable = new Map();
  const unsubscribe =
    deps.speaker?.onStateChange((change) => {
      table = recordTransition(table, change, now());
    }) ?? (() => undefined);

  return {
    status: () => composeVrrpStatus(deps.speaker?.status() ?? null, config, table, deps.syncDaemon()),
    async failover(name) {
      const before = deps.speaker?.status() ?? null;
      const refusal = failoverRefusal(before, name);
      if (refusal !== null || deps.speaker === null || before === null) throw refusal;
      const isGroup = before.sync_groups.some((g) => g.name === name);
      const state = await deps.speaker.failover(name);
      return { name, kind: isGroup ? 'sync_group' : 'instance', previous: 'MASTER', state };
    },
    transitions: () => table,
    reload(next) {
      config = next;
    },
    close: unsubscribe,
  };
}
