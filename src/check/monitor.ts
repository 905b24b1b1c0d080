/**
 * Runs the checks. Each target (one id per distinct check, see checkTargetId) has its own timer
 * and at most one probe in flight: the next probe is scheduled only when the previous one has
 * answered, so a slow server can never make probes pile up, and since probes are asynchronous a
 * slow one never delays another target's. `update()` takes the whole list of targets every time
 * (level-triggered, like the reconciler): targets whose id is still there keep their health,
 * counters and schedule, new ones start after a random warmup, gone ones are stopped and their
 * in-flight probe aborted. Results and transitions leave through listeners; a listener that throws
 * is logged, never allowed into the timer callback. Time, timers, randomness and the probe itself
 * are injected, so the whole schedule runs under a fake clock in tests.
 */
import type { CheckConfig } from '../config/types.js';
import {
  type Health,
  type HealthState,
  type MutableHealthState,
  startHealth,
  stepHealthInPlace,
} from './health.js';
import {
  type CancelProbe,
  fromPromiseProbe,
  type Probe,
  type ProbeDone,
  startProbe as startRealProbe,
} from './probe.js';
import { describeError, type ProbeResult } from './result.js';
import { createTimerQueue, type SetTimer, type TimedItem } from './timer-queue.js';

export interface CheckTarget {
  /** Normally checkTargetId(check): equal ids are one target, probed once. */
  readonly id: string;
  readonly check: CheckConfig;
  /**
   * Health before the first verdict (`down` needs `rise` successes first); default the check's
   * `initialState`. `none` checks are always up.
   */
  readonly start?: Health;
  /**
   * Anything the owner wants back with every result of this target (the director: its metric
   * labels), so a listener needs no lookup by id per result. Replaced by the next update().
   */
  readonly tag?: unknown;
}

/**
 * health, lastResult, lastCheckedAt, consecutiveOk, consecutiveFail. What status(), snapshot()
 * and result listeners get is the target's live state, updated in place by every result (no
 * object per check: see stepHealthInPlace): read it at once, copy what must be kept. Change
 * listeners get a copy of their own.
 */
export type TargetStatus = HealthState;

export type { SetTimer };

/** The part of a pino logger the monitor uses. */
export interface MonitorLogger {
  info(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export interface HealthMonitorDeps {
  /** Milliseconds; default Date.now. Used for lastCheckedAt. */
  readonly now?: () => number;
  /**
   * The one timer under the queue every target's next probe waits in (./timer-queue.ts); default
   * setTimeout. Injected (tests) together with `now`, which then is the queue's clock too.
   */
  readonly setTimer?: SetTimer;
  /** [0, 1); default Math.random. Spreads first probes over `warmupMs`. */
  readonly random?: () => number;
  readonly logger?: MonitorLogger;
  /**
   * A probe in place of the real tcp/http/https/script ones (tests). The real ones run through
   * startProbe, callbacks only: no promise or AbortController per check.
   */
  readonly probe?: Probe;
}

export type ChangeListener = (id: string, status: TargetStatus) => void;
/**
 * `tag`: the target's CheckTarget.tag as of the last update(). `result` may be an object the
 * probe fills in again for the target's next check: read it at once, copy what must be kept.
 */
export type ResultListener = (id: string, result: ProbeResult, status: TargetStatus, tag: unknown) => void;

export interface HealthMonitor {
  /** The complete set of targets to check from now on; duplicates (same id) count once. */
  update(targets: readonly CheckTarget[]): void;
  status(id: string): TargetStatus | undefined;
  /** Every current target's status, by id. */
  snapshot(): ReadonlyMap<string, TargetStatus>;
  /**
   * Called on every health transition (not for the start state) and every change of the
   * target's weightDelta. Returns an unsubscribe function.
   */
  onChange(listener: ChangeListener): () => void;
  /** Called for every probe result (metrics). Returns an unsubscribe function. */
  onResult(listener: ResultListener): () => void;
  /** Cancels every timer, aborts probes in flight and resolves when they have ended. Final. */
  stop(): Promise<void>;
}

interface Entry extends TimedItem {
  readonly id: string;
  check: CheckConfig;
  tag: unknown;
  readonly state: MutableHealthState;
  /** The last result, copied in place into this one object (state.lastResult once there is one). */
  readonly last: { ok: boolean; latencyMs: number; reason: string };
  /** Cancels the probe in flight; null when none is. */
  inFlight: CancelProbe | null;
  removed: boolean;
  /** Made once per target, not per probe: the probe's `done`. */
  readonly done: ProbeDone;
}

const silentLogger: MonitorLogger = { info: () => {}, error: () => {} };

/**
 * Probes due within this many milliseconds of a timer wakeup start in that wakeup. Thousands of
 * targets a second then cost a hundred wakeups, not a thousand, and their results come back in
 * batches too (one JavaScript callback from the native checker per batch); a probe starting a few
 * milliseconds early changes nothing a 1 s interval means.
 */
const START_SLACK_MS = 5;

export function createHealthMonitor(deps: HealthMonitorDeps = {}): HealthMonitor {
  const now = deps.now ?? Date.now;
  // Every target's next probe waits in one queue on one timer (./timer-queue.ts).
  const queue = createTimerQueue<Entry>((entry) => start(entry), {
    slackMs: START_SLACK_MS,
    ...(deps.setTimer === undefined ? {} : { setTimer: deps.setTimer, now }),
  });
  const random = deps.random ?? Math.random;
  const logger = deps.logger ?? silentLogger;
  const startProbe = deps.probe === undefined ? startRealProbe : fromPromiseProbe(deps.probe);

  const entries = new Map<string, Entry>();
  const changeListeners = new Set<ChangeListener>();
  const resultListeners = new Set<ResultListener>();
  /** Cancelled probes that are still letting go (a script being killed); stop() waits for them. */
  const draining = new Set<Promise<void>>();
  let stopped = false;

  function emit<A extends unknown[]>(listeners: Set<(...args: A) => void>, ...args: A): void {
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (err) {
        logger.error({ id: args[0], err: describeError(err) }, 'health listener threw');
      }
    }
  }

  /**
   * emit() for results, without its rest-parameter array: this one runs for every check, the
   * generic one only on transitions.
   */
  function emitResult(entry: Entry, result: ProbeResult): void {
    for (const listener of resultListeners) {
      try {
        listener(entry.id, result, entry.state, entry.tag);
      } catch (err) {
        logger.error({ id: entry.id, err: describeError(err) }, 'health listener threw');
      }
    }
  }

  function start(entry: Entry): void {
    if (entry.removed || stopped || entry.inFlight !== null) return;
    let cancel: CancelProbe;
    try {
      cancel = startProbe(entry.check, entry.done);
    } catch (err) {
      // startProbe never throws; should it ever, the target fails rather than stalls.
      cancel = () => undefined;
      const reason = `check failed internally: ${describeError(err)}`;
      queueMicrotask(() => entry.done({ ok: false, latencyMs: 0, reason }));
    }
    // A probe may only answer after start() returned, so this never overwrites a finished one.
    entry.inFlight = cancel;
  }

  function cancelInFlight(entry: Entry): void {
    const cancel = entry.inFlight;
    entry.inFlight = null;
    if (cancel === null) return;
    const letGo = cancel();
    if (letGo !== undefined) {
      draining.add(letGo);
      void letGo.finally(() => draining.delete(letGo));
    }
  }

  function finish(entry: Entry, result: ProbeResult): void {
    // A probe of a removed target, or one that stop() cancelled: its answer no longer matters.
    if (entry.inFlight === null) return;
    entry.inFlight = null;
    if (entry.removed || stopped || entry.check.type === 'none') return;
    const state = entry.state;
    const before = state.health;
    const deltaBefore = state.weightDelta ?? 0;
    const nextDelayMs = stepHealthInPlace(state, result, now(), entry.check);
    const last = entry.last;
    last.ok = result.ok;
    last.latencyMs = result.latencyMs;
    last.reason = result.reason;
    state.lastResult = last;
    queue.schedule(entry, nextDelayMs);
    emitResult(entry, result);
    if (state.health !== before) {
      logger.info(
        {
          id: entry.id,
          from: before,
          to: state.health,
          reason: result.reason,
          consecutiveOk: state.consecutiveOk,
          consecutiveFail: state.consecutiveFail,
        },
        state.health === 'up' ? 'check target came up' : 'check target went down',
      );
      emit(changeListeners, entry.id, { ...state, lastResult: { ...last } });
    } else if ((state.weightDelta ?? 0) !== deltaBefore) {
      // A file check's number moved: its real servers' weight changes, their health does not.
      logger.info(
        { id: entry.id, from: deltaBefore, to: state.weightDelta ?? 0, reason: result.reason },
        'check target weight changed',
      );
      emit(changeListeners, entry.id, { ...state, lastResult: { ...last } });
    }
  }

  function newEntry(id: string, check: CheckConfig, tag: unknown, state: HealthState): Entry {
    const entry: Entry = {
      id,
      check,
      tag,
      state: { ...state },
      last: { ok: false, latencyMs: 0, reason: '' },
      inFlight: null,
      removed: false,
      dueAt: 0,
      heapIndex: -1,
      done: (result) => finish(entry, result),
    };
    return entry;
  }

  function remove(entry: Entry): void {
    entry.removed = true;
    queue.cancel(entry);
    cancelInFlight(entry);
  }

  function add(target: CheckTarget): void {
    const { check } = target;
    const entry = newEntry(target.id, check, target.tag, startHealth(check, target.start, now));
    entries.set(target.id, entry);
    // `none` is never probed.
    if (check.type !== 'none') queue.schedule(entry, warmupDelay(check.warmupMs, random));
  }

  return {
    update(targets) {
      if (stopped) return;
      const wanted = new Map<string, CheckTarget>();
      for (const target of targets) if (!wanted.has(target.id)) wanted.set(target.id, target);
      for (const [id, entry] of entries) {
        const target = wanted.get(id);
        // Same id, different kind of check (ids not made by checkTargetId): a new target.
        if (target === undefined || (target.check.type === 'none') !== (entry.check.type === 'none')) {
          remove(entry);
          entries.delete(id);
        }
      }
      for (const [id, target] of wanted) {
        const entry = entries.get(id);
        // Kept: state, counters, schedule and probe in flight stay; the next probe uses the new
        // object (equal ids mean equal parameters; only `source` may have moved).
        if (entry !== undefined) {
          entry.check = target.check;
          entry.tag = target.tag;
        } else add(target);
      }
    },

    status: (id) => entries.get(id)?.state,

    snapshot() {
      const out = new Map<string, TargetStatus>();
      for (const [id, entry] of entries) out.set(id, entry.state);
      return out;
    },

    onChange(listener) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },

    onResult(listener) {
      resultListeners.add(listener);
      return () => resultListeners.delete(listener);
    },

    async stop() {
      if (!stopped) {
        stopped = true;
        for (const entry of entries.values()) {
          queue.cancel(entry);
          cancelInFlight(entry);
        }
        queue.clear();
      }
      await Promise.all([...draining]);
    },
  };
}

/** Uniform in [0, warmupMs]. */
export function warmupDelay(warmupMs: number, random: () => number): number {
  if (!(warmupMs > 0)) return 0;
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.min(warmupMs, Math.floor(unit * (warmupMs + 1)));
}
