/**
 * The messages between `ipvsd` and its two children (`ipvsd: checks`, `ipvsd: vrrp`), over the
 * IPC channel of child_process.fork with `serialization: 'advanced'` (structured clone: the
 * validated Config is plain data, so it crosses as it is). The shape follows seesaw's
 * healthcheck server and keepalived's checker child: the target list goes in, small messages of
 * results come out, and the parent owns every restart. Every child sends something at least every
 * HEARTBEAT_MS, so silence means a hang.
 */
import type { HealthState } from '../check/health.js';
import type { CheckTarget } from '../check/monitor.js';
import type { Config } from '../config/types.js';
import type { SyncDaemonStatus } from '../control/protocol.js';
import { INT32_MAX, INT32_MIN } from '../model/track-file.js';
import type { VrrpSpeakerStatus, VrrpStateChange } from '../vrrp/speaker.js';

export type ChildRole = 'checks' | 'vrrp';

/** How often a child says it is alive. */
export const HEARTBEAT_MS = 500;

export interface Heartbeat {
  readonly t: 'hb';
}

/** The child listens now: the parent sends it its work (messages sent before could be lost). */
export interface Ready {
  readonly t: 'ready';
}

// --- checks ----------------------------------------------------------------------------------

/** A target as the child needs it: no tag (tags stay in the parent). */
export type RemoteTarget = Pick<CheckTarget, 'id' | 'check' | 'start'>;

/**
 * The complete list: on every update and after every (re)start of the child. (To stop, the parent
 * closes the channel: the child exits, and its probes with it.)
 */
export type ToChecks = { readonly t: 'targets'; readonly targets: readonly RemoteTarget[] };

/**
 * One probe result and the target's state after it:
 * [id, ok, latencyMs, reason, health, consecutiveOk, consecutiveFail, checkedAt, changed,
 * weightDelta]. `changed`: the health or the weight delta differs from the previous record's.
 */
export type ResultRecord = readonly [
  id: string,
  ok: boolean,
  latencyMs: number,
  reason: string,
  health: HealthState['health'],
  consecutiveOk: number,
  consecutiveFail: number,
  checkedAt: number,
  changed: boolean,
  weightDelta: number,
];

/** The longest reason a record carries; the child cuts longer ones (a probe quoting a reply). */
export const MAX_REASON_LENGTH = 1024;

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/**
 * A record as the parent accepts it from the child: every field of its type and range, the
 * weight delta an int (src/model/track-file.ts clamps products to it); null otherwise, so a
 * broken child cannot put NaN or a string into a kernel weight.
 */
export function readResultRecord(raw: unknown): ResultRecord | null {
  if (!Array.isArray(raw) || raw.length !== 10) return null;
  const [id, ok, latencyMs, reason, health, consecutiveOk, consecutiveFail, checkedAt, changed, weightDelta] =
    raw as unknown[];
  // The id needs no bound of its own: the parent looks it up among the targets it sent.
  if (typeof id !== 'string') return null;
  if (typeof ok !== 'boolean' || typeof changed !== 'boolean') return null;
  if (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 0) return null;
  if (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH) return null;
  if (health !== 'up' && health !== 'down') return null;
  if (!isCount(consecutiveOk) || !isCount(consecutiveFail)) return null;
  if (typeof checkedAt !== 'number' || !Number.isFinite(checkedAt)) return null;
  if (
    !Number.isSafeInteger(weightDelta) ||
    (weightDelta as number) < INT32_MIN ||
    (weightDelta as number) > INT32_MAX
  )
    return null;
  return [
    id,
    ok,
    latencyMs,
    reason,
    health,
    consecutiveOk,
    consecutiveFail,
    checkedAt,
    changed,
    weightDelta as number,
  ];
}

export type FromChecks =
  | Heartbeat
  | Ready
  /** Results in the order they came; flushed at once after a health change, else every RESULT_BATCH_MS. */
  | { readonly t: 'results'; readonly results: readonly ResultRecord[] };

/** How long results wait in the checks child to go out together. */
export const RESULT_BATCH_MS = 250;

// --- vrrp ------------------------------------------------------------------------------------

export type VrrpRequest =
  | { readonly op: 'start'; readonly config: Config }
  | { readonly op: 'reload'; readonly config: Config }
  | { readonly op: 'failover'; readonly name: string }
  | { readonly op: 'prepare-stop'; readonly removeServices: boolean }
  | { readonly op: 'stop-speaker' }
  | { readonly op: 'finish-stop'; readonly removeServices: boolean };

export interface ToVrrp {
  readonly t: 'req';
  readonly id: number;
  readonly req: VrrpRequest;
}

/** What the vrrp child says of itself: pushed on every change and once a second. */
export interface VrrpSnapshot {
  readonly speaker: VrrpSpeakerStatus;
  readonly syncDaemon: SyncDaemonStatus | null;
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
}

export type FromVrrp =
  | Heartbeat
  | Ready
  | { readonly t: 'snapshot'; readonly snapshot: VrrpSnapshot }
  /** A transition, with the child's wall clock (ms) when it happened. */
  | { readonly t: 'change'; readonly change: VrrpStateChange; readonly at: number }
  | {
      readonly t: 'reply';
      readonly id: number;
      readonly ok: boolean;
      /** failover: the state after the handover. */
      readonly state?: VrrpStateChange['state'];
      readonly error?: ErrorBody;
    };

// --- status ----------------------------------------------------------------------------------

/** One process of the daemon, as `ipvsctl status` shows it and /metrics counts it. */
export interface ProcessInfo {
  /** `ipvsd`, `checks`, `vrrp` */
  readonly name: string;
  /** null while a child is down (between a crash and its restart). */
  readonly pid: number | null;
  readonly restarts: number;
  /** When the running process started (ms since the epoch); null while down. */
  readonly startedAt: number | null;
  /** When it was last restarted after a crash or hang (ms since the epoch); null if never. */
  readonly lastRestartAt: number | null;
}
