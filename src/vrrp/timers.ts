/**
 * VRRP timer arithmetic (RFC 5798 §6.1, RFC 3768 §6.1) and a small driver that turns the state
 * machine's set_timer / cancel_timer actions into real timers.
 *
 * Rounding. The RFC's values are in centiseconds and are not whole: with priority 100 and a
 * 100 cs interval, Master_Down_Interval = 3 × 100 + (156 × 100) / 256 = 360.9375 cs = 3609.375 ms.
 * The core's clock is in milliseconds (Node timers are), so deadlines are rounded *up* to a whole
 * millisecond: 3610 ms. Up, because a backup must never declare a live master dead before the
 * RFC's interval has fully passed (rounding down could only make a takeover premature, never
 * safer), and the cost is under 1 ms against intervals of at least 10 ms. Rounding up is also
 * monotone, so the RFC's ordering survives: a higher priority never gets a longer skew. (At very
 * short intervals neighbouring priorities may round to the same millisecond; the master's
 * equal-priority tie-break then settles it, as it would for equal priorities.) The exact values
 * are dyadic fractions (x / 256), so doubles hold them exactly and the rounding is exact too.
 *
 * Skew_Time differs between versions: RFC 5798 (v3) scales it with Master_Adver_Interval,
 * RFC 3768 (v2) does not ((256 − Priority) / 256 seconds whatever the interval), and keepalived
 * follows each RFC for its version; so do we.
 */
import type { TimerKind, VrrpAction, VrrpEvent } from './types.js';

/** Missed adverts before the master is declared down (RFC 5798 §6.1, RFC 3768 §6.1). */
export const VRRP_DOWN_TIMER_ADVERTS = 3;

/** The advertisement interval in milliseconds. */
export function advertIntervalMs(intervalCs: number): number {
  return intervalCs * 10;
}

/**
 * Skew_Time in milliseconds, exact (not rounded). v3: ((256 − Priority) × Master_Adver_Interval)
 * / 256; v2: (256 − Priority) / 256 seconds.
 */
export function skewTimeExactMs(version: 2 | 3, priority: number, masterAdverIntervalCs: number): number {
  const base = version === 3 ? masterAdverIntervalCs * 10 : 1000;
  return ((256 - priority) * base) / 256;
}

/** Skew_Time rounded up to a whole millisecond (the wait after a priority-0 advert). */
export function skewTimeMs(version: 2 | 3, priority: number, masterAdverIntervalCs: number): number {
  return Math.ceil(skewTimeExactMs(version, priority, masterAdverIntervalCs));
}

/** Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time, rounded up to a whole millisecond. */
export function masterDownIntervalMs(
  version: 2 | 3,
  priority: number,
  masterAdverIntervalCs: number,
): number {
  return Math.ceil(
    VRRP_DOWN_TIMER_ADVERTS * advertIntervalMs(masterAdverIntervalCs) +
      skewTimeExactMs(version, priority, masterAdverIntervalCs),
  );
}

/**
 * The first master-down wait of an instance configured `state: master` (keepalived): one
 * interval plus the smallest skew, instead of three intervals. It still starts in BACKUP, so an
 * existing master is heard (and kept) rather than knocked over, but with nobody there it takes
 * over after about one interval instead of three.
 */
export function initialMasterDownIntervalMs(version: 2 | 3, masterAdverIntervalCs: number): number {
  return Math.ceil(
    advertIntervalMs(masterAdverIntervalCs) + skewTimeExactMs(version, 255, masterAdverIntervalCs),
  );
}

export interface VrrpTimerDeps {
  /** The clock the state machine is stepped with (ms; monotonic, e.g. performance.now()). */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface VrrpTimers {
  /** Applies the set_timer / cancel_timer actions of one step, in order; ignores the others. */
  apply(actions: readonly VrrpAction[]): void;
  cancelAll(): void;
  /** The armed deadlines, for status and tests. */
  pending(): Partial<Record<TimerKind, number>>;
}

/**
 * One real timer per kind. set_timer replaces the timer of its kind, so an expiry the state
 * machine no longer expects is never delivered. A timer that fires before its deadline by the
 * clock in `deps.now()` (Node's timers run on libuv's cached loop clock, which can lag) is
 * re-armed for the remainder, so `onExpire` always sees now ≥ deadline, as the core requires.
 * `onExpire` runs inside a timer callback: it must not throw (DESIGN §7).
 */
export function createVrrpTimers(
  deps: VrrpTimerDeps,
  onExpire: (kind: TimerKind, now: number) => void,
): VrrpTimers {
  const armed = new Map<TimerKind, { at: number; handle: unknown }>();

  function cancel(kind: TimerKind): void {
    const entry = armed.get(kind);
    if (entry === undefined) return;
    deps.clearTimeout(entry.handle);
    armed.delete(kind);
  }

  function arm(kind: TimerKind, at: number): void {
    cancel(kind);
    const entry = { at, handle: undefined as unknown };
    const fire = (): void => {
      if (armed.get(kind) !== entry) return;
      const now = deps.now();
      if (now < at) {
        entry.handle = deps.setTimeout(fire, Math.max(1, Math.ceil(at - now)));
        return;
      }
      armed.delete(kind);
      onExpire(kind, now);
    };
    entry.handle = deps.setTimeout(fire, Math.max(0, Math.ceil(at - deps.now())));
    armed.set(kind, entry);
  }

  return {
    apply(actions) {
      for (const action of actions) {
        if (action.type === 'set_timer') arm(action.kind, action.at);
        else if (action.type === 'cancel_timer') cancel(action.kind);
      }
    },
    cancelAll() {
      for (const kind of [...armed.keys()]) cancel(kind);
    },
    pending() {
      const out: Partial<Record<TimerKind, number>> = {};
      for (const [kind, entry] of armed) out[kind] = entry.at;
      return out;
    },
  };
}

/** The event that a timer's expiry delivers to the state machine. */
export function timerEvent(kind: TimerKind): VrrpEvent {
  switch (kind) {
    case 'advert':
      return { type: 'advert_timer_expired' };
    case 'master_down':
      return { type: 'master_down_timer_expired' };
    case 'preempt_delay':
      return { type: 'preempt_delay_expired' };
  }
}
