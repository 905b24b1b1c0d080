/**
 * The health monitor as the parent sees it when the checks run in `ipvsd: checks`: the same
 * HealthMonitor interface the director has always used, backed by a local copy of every target's
 * last verdict. The child only ever adds results to that copy; when it crashes or hangs nothing
 * here changes, so no real server changes state because its checker died, and the kernel table
 * stays as it is. At every (re)start of the child (its 'ready'), this sends it the complete target
 * list with each target's last known health as its start, so the checks resume without taking out
 * anything healthy (a down one still needs its `rise` successes).
 */
import { type HealthState, type MutableHealthState, startHealth } from '../check/health.js';
import type {
  ChangeListener,
  CheckTarget,
  HealthMonitor,
  ResultListener,
  TargetStatus,
} from '../check/monitor.js';
import type { ProbeResult } from '../check/result.js';
import {
  type FromChecks,
  type RemoteTarget,
  type ResultRecord,
  readResultRecord,
  type ToChecks,
} from './protocol.js';

export interface RemoteHealthMonitorDeps {
  /** To the running child; false when there is none (the next childStarted() sends all). */
  readonly send: (message: ToChecks) => boolean;
  /** Stops the child for good (the supervisor's stop). */
  readonly stopChild: () => Promise<void>;
  readonly logger?: { error(fields: object, msg: string): void };
}

export interface RemoteHealthMonitor extends HealthMonitor {
  /** A message from the child (its 'ready' brings it the whole target list). */
  receive(message: unknown): void;
}

interface Entry {
  readonly target: CheckTarget;
  readonly state: MutableHealthState;
}

export function createRemoteHealthMonitor(deps: RemoteHealthMonitorDeps): RemoteHealthMonitor {
  let entries = new Map<string, Entry>();
  const changeListeners = new Set<ChangeListener>();
  const resultListeners = new Set<ResultListener>();
  let stopped = false;
  /** Records from the child that did not validate, since the start. */
  let droppedRecords = 0;

  const guarded = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      deps.logger?.error({ err: (err as Error).message }, `${what} listener failed`);
    }
  };

  const sendTargets = (): void => {
    if (stopped) return;
    const targets: RemoteTarget[] = [];
    for (const { target, state } of entries.values())
      targets.push({ id: target.id, check: target.check, start: state.health });
    deps.send({ t: 'targets', targets });
  };

  function apply(record: ResultRecord): void {
    const [
      id,
      ok,
      latencyMs,
      reason,
      health,
      consecutiveOk,
      consecutiveFail,
      checkedAt,
      changed,
      weightDelta,
    ] = record;
    const entry = entries.get(id);
    if (entry === undefined) return; // a target an update has removed since
    const result: ProbeResult = { ok, latencyMs, reason };
    const state = entry.state;
    state.health = health;
    state.consecutiveOk = consecutiveOk;
    state.consecutiveFail = consecutiveFail;
    state.lastCheckedAt = checkedAt;
    state.lastResult = result;
    state.weightDelta = weightDelta;
    for (const listener of resultListeners)
      guarded('result', () => listener(id, result, state, entry.target.tag));
    if (changed) {
      const copy: HealthState = { ...state };
      for (const listener of changeListeners) guarded('change', () => listener(id, copy));
    }
  }

  return {
    update(targets) {
      const next = new Map<string, Entry>();
      for (const target of targets) {
        if (next.has(target.id)) continue;
        const before = entries.get(target.id);
        // As the monitor starts a target (check/health.ts, which loads no probe).
        next.set(target.id, {
          target,
          state: before?.state ?? startHealth(target.check, target.start, Date.now),
        });
      }
      entries = next;
      sendTargets();
    },
    status: (id) => entries.get(id)?.state,
    snapshot() {
      const out = new Map<string, TargetStatus>();
      for (const [id, e] of entries) out.set(id, e.state);
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
      stopped = true;
      await deps.stopChild();
    },
    receive(raw) {
      if (stopped) return;
      const message = raw as FromChecks;
      if (message?.t === 'ready') sendTargets();
      if (message?.t !== 'results' || !Array.isArray(message.results)) return;
      let malformed = 0;
      for (const raw of message.results as readonly unknown[]) {
        const record = readResultRecord(raw);
        if (record === null) malformed++;
        else apply(record);
      }
      // Counted and dropped: such a record came from a broken child, and no guess of its meaning
      // may reach a kernel weight.
      if (malformed > 0) {
        droppedRecords += malformed;
        deps.logger?.error({ malformed, total: droppedRecords }, 'malformed check results dropped');
      }
    },
  };
}
