/**
 * Rise and fall, as a pure function: a target's health changes only after enough consecutive
 * results agree (`retry` failures take an up target down, `rise` successes bring a down one up), so
 * one lost packet never pulls a real server and one lucky answer never puts a broken one back. The
 * same step decides when to look next: while an up target is failing but not yet down, the retry
 * comes `delayBeforeRetryMs` after the failure, to confirm quickly; otherwise checks keep the
 * interval's cadence measured from each probe's start (never less than zero, so a probe slower than
 * the interval is followed at once by the next, never overlapped). Time is a parameter, so tests
 * are tables.
 */
import type { CheckConfig, CheckTiming } from '../config/types.js';
import type { ProbeResult } from './result.js';

export type Health = 'up' | 'down';

export interface HealthState {
  readonly health: Health;
  readonly consecutiveOk: number;
  readonly consecutiveFail: number;
  /** null until the first probe has answered. */
  readonly lastResult: ProbeResult | null;
  /** When the last result arrived (the caller's clock, ms); null before the first. */
  readonly lastCheckedAt: number | null;
  /**
   * What the target adds to its real servers' weight (a file check's value × weight): the delta
   * of its last passing result, kept through failures that do not take it down, 0 once down
   * (keepalived's checker cur_weight, which a FILE_CHECK fault resets: trackers/track_file.c
   * process_update_checker_track_file_status). Absent: 0.
   */
  readonly weightDelta?: number;
}

export type HealthTiming = Pick<CheckTiming, 'intervalMs' | 'delayBeforeRetryMs' | 'retry' | 'rise'>;

export interface HealthStep {
  readonly state: HealthState;
  /** The health differs from the state before this result. */
  readonly changed: boolean;
  /** How long after `now` the next probe should start. */
  readonly nextDelayMs: number;
}

export function initialHealth(start: Health): HealthState {
  return {
    health: start,
    consecutiveOk: 0,
    consecutiveFail: 0,
    lastResult: null,
    lastCheckedAt: null,
    weightDelta: 0,
  };
}

/** What a `check: none` target always reports: it is never probed. */
export const NO_CHECK_RESULT: ProbeResult = { ok: true, latencyMs: 0, reason: 'no check' };

/**
 * A target's state when a monitor takes it on: `none` is up with its fixed result as of now(); any
 * other check starts at `start` (default the check's `initialState`) with no result yet. Here, not
 * in monitor.ts, so the parent's copy of the checks child's verdicts (proc/remote-monitor.ts)
 * starts a target the same way without loading the probes.
 */
export function startHealth(check: CheckConfig, start: Health | undefined, now: () => number): HealthState {
  if (check.type === 'none')
    return { ...initialHealth('up'), consecutiveOk: 1, lastResult: NO_CHECK_RESULT, lastCheckedAt: now() };
  return initialHealth(start ?? check.initialState);
}

export function stepHealth(
  state: HealthState,
  result: ProbeResult,
  now: number,
  timing: HealthTiming,
): HealthStep {
  const next: MutableHealthState = { ...state };
  const nextDelayMs = stepHealthInPlace(next, result, now, timing);
  next.lastResult = result;
  return { state: next, changed: next.health !== state.health, nextDelayMs };
}

/** A HealthState its owner updates in place (see stepHealthInPlace). */
export type MutableHealthState = { -readonly [K in keyof HealthState]: HealthState[K] };

/**
 * stepHealth on a state the caller owns: the fields are updated in place (lastResult excepted,
 * the caller decides what to keep of the result) and the delay to the next probe is returned.
 * The monitor steps thousands of targets a second; a new state object per result would live a
 * whole interval, long enough for V8 to copy it out of the young generation into the old one,
 * where it is garbage that only a full collection frees (the RSS a daemon with 10,000 real
 * servers carried was mostly that).
 */
export function stepHealthInPlace(
  state: MutableHealthState,
  result: ProbeResult,
  now: number,
  timing: HealthTiming,
): number {
  const consecutiveOk = result.ok ? state.consecutiveOk + 1 : 0;
  const consecutiveFail = result.ok ? 0 : state.consecutiveFail + 1;
  let health = state.health;
  if (health === 'up' && consecutiveFail >= timing.retry) health = 'down';
  else if (health === 'down' && consecutiveOk >= timing.rise) health = 'up';
  state.health = health;
  state.consecutiveOk = consecutiveOk;
  state.consecutiveFail = consecutiveFail;
  state.lastCheckedAt = now;
  if (result.ok) state.weightDelta = result.weightDelta ?? 0;
  else if (health === 'down') state.weightDelta = 0;

  // An up target that failed but is not down yet: confirm soon. Everything else: the interval,
  // counted from the start of the probe that just answered.
  const confirming = health === 'up' && consecutiveFail > 0;
  return confirming
    ? Math.max(0, timing.delayBeforeRetryMs)
    : Math.max(0, timing.intervalMs - Math.max(0, result.latencyMs));
}
