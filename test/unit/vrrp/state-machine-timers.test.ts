import { describe, expect, it } from 'vitest';
import {
  advertIntervalMs,
  createVrrpTimers,
  initialMasterDownIntervalMs,
  masterDownIntervalMs,
  skewTimeExactMs,
  skewTimeMs,
  timerEvent,
} from '../../../src/vrrp/timers.js';
import type { TimerKind } from '../../../src/vrrp/types.js';

describe('VRRP timer arithmetic (RFC 5798 §6.1, RFC 3768 §6.1)', () => {
  // [version, priority, Master_Adver_Interval cs, exact Skew_Time ms, Skew_Time ms, Master_Down_Interval ms]
  const table: [2 | 3, number, number, number, number, number][] = [
    // The brief's example: 3 × 100 + (156 × 100 / 256) = 360.9375 cs = 3609.375 ms → 3610 ms.
    [3, 100, 100, 609.375, 610, 3610],
    [3, 100, 10, 60.9375, 61, 361],
    [3, 254, 100, 7.8125, 8, 3008],
    [3, 255, 100, 3.90625, 4, 3004],
    [3, 1, 100, 996.09375, 997, 3997],
    [3, 200, 1, 2.1875, 3, 33],
    [3, 100, 300, 1828.125, 1829, 10829],
    [3, 150, 4095, (106 * 40950) / 256, 16956, 122850 + 16956],
    // v2: Skew_Time is (256 − Priority) / 256 seconds, whatever the interval.
    [2, 100, 100, 609.375, 610, 3610],
    [2, 100, 300, 609.375, 610, 9610],
    [2, 150, 200, 414.0625, 415, 6415],
    [2, 255, 100, 3.90625, 4, 3004],
  ];

  it.each(
    table,
  )('v%i priority %i at %i cs: skew %f ms → %i ms, Master_Down_Interval %i ms', (v, p, cs, exact, skew, mdi) => {
    expect(skewTimeExactMs(v, p, cs)).toBe(exact);
    expect(skewTimeMs(v, p, cs)).toBe(skew);
    expect(masterDownIntervalMs(v, p, cs)).toBe(mdi);
  });

  it('the example in centiseconds is exact before rounding', () => {
    expect(3 * 100 + skewTimeExactMs(3, 100, 100) / 10).toBe(360.9375);
  });

  it('rounding never shortens the RFC interval, never by 1 ms or more, and keeps the priority order', () => {
    for (const version of [2, 3] as const) {
      for (const cs of [1, 3, 10, 25, 100, 300, 4095]) {
        let previous = Number.POSITIVE_INFINITY;
        for (let p = 1; p <= 255; p++) {
          const exact = 3 * advertIntervalMs(cs) + skewTimeExactMs(version, p, cs);
          const mdi = masterDownIntervalMs(version, p, cs);
          expect(mdi).toBeGreaterThanOrEqual(exact);
          expect(mdi - exact).toBeLessThan(1);
          expect(mdi).toBeLessThanOrEqual(previous);
          previous = mdi;
        }
      }
    }
  });

  it('the first wait of `state: master` is one interval plus the least skew', () => {
    expect(initialMasterDownIntervalMs(3, 100)).toBe(1004);
    expect(initialMasterDownIntervalMs(3, 10)).toBe(101);
    expect(initialMasterDownIntervalMs(2, 300)).toBe(3004);
  });

  it('maps timer kinds to their expiry events', () => {
    expect(timerEvent('advert')).toEqual({ type: 'advert_timer_expired' });
    expect(timerEvent('master_down')).toEqual({ type: 'master_down_timer_expired' });
    expect(timerEvent('preempt_delay')).toEqual({ type: 'preempt_delay_expired' });
  });
});

/** A fake clock and timer queue: `advance` runs due callbacks in deadline order. */
function fakeClock(start = 1000) {
  let now = start;
  let nextId = 1;
  const queue = new Map<number, { due: number; fn: () => void }>();
  return {
    deps: {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => {
        const id = nextId++;
        queue.set(id, { due: now + ms, fn });
        return id;
      },
      clearTimeout: (handle: unknown) => {
        queue.delete(handle as number);
      },
    },
    /** Moves the clock, running due callbacks in deadline order. */
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        let first: [number, { due: number; fn: () => void }] | undefined;
        for (const entry of queue) if (first === undefined || entry[1].due < first[1].due) first = entry;
        if (first === undefined || first[1].due > end) break;
        queue.delete(first[0]);
        now = Math.max(now, first[1].due);
        first[1].fn();
      }
      now = end;
    },
    size: () => queue.size,
  };
}

describe('createVrrpTimers', () => {
  it('arms, re-arms (replacing) and cancels one timer per kind', () => {
    const clock = fakeClock();
    const fired: [TimerKind, number][] = [];
    const timers = createVrrpTimers(clock.deps, (kind, now) => fired.push([kind, now]));
    timers.apply([
      { type: 'set_timer', kind: 'master_down', at: 4610 },
      { type: 'set_timer', kind: 'preempt_delay', at: 2000 },
      { type: 'send_advert', priority: 100 },
    ]);
    expect(timers.pending()).toEqual({ master_down: 4610, preempt_delay: 2000 });
    timers.apply([{ type: 'set_timer', kind: 'master_down', at: 5000 }]);
    timers.apply([{ type: 'cancel_timer', kind: 'preempt_delay' }]);
    expect(clock.size()).toBe(1);
    clock.advance(10_000);
    expect(fired).toEqual([['master_down', 5000]]);
    expect(timers.pending()).toEqual({});
  });

  it('never delivers an expiry before its deadline, even when the timer fires early', () => {
    // Node's timers run on libuv's cached loop clock, which can lag the clock we step with.
    let now = 1000;
    const callbacks: [() => void, number][] = [];
    const deps = {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => callbacks.push([fn, ms]),
      clearTimeout: () => {},
    };
    const fired: [TimerKind, number][] = [];
    const timers = createVrrpTimers(deps, (kind, at) => fired.push([kind, at]));
    timers.apply([{ type: 'set_timer', kind: 'advert', at: 2000 }]);
    expect(callbacks.map(([, ms]) => ms)).toEqual([1000]);
    now = 1997;
    callbacks[0]?.[0](); // 3 ms early: re-armed for the rest
    expect(fired).toEqual([]);
    expect(callbacks.map(([, ms]) => ms)).toEqual([1000, 3]);
    expect(timers.pending()).toEqual({ advert: 2000 });
    now = 2000;
    callbacks[1]?.[0]();
    expect(fired).toEqual([['advert', 2000]]);
    expect(timers.pending()).toEqual({});
  });

  it('a replaced timer that still fires (a queued callback) delivers nothing', () => {
    let now = 1000;
    const callbacks: (() => void)[] = [];
    const deps = {
      now: () => now,
      setTimeout: (fn: () => void) => callbacks.push(fn),
      clearTimeout: () => {},
    };
    const fired: TimerKind[] = [];
    const timers = createVrrpTimers(deps, (kind) => fired.push(kind));
    timers.apply([{ type: 'set_timer', kind: 'master_down', at: 2000 }]);
    timers.apply([{ type: 'set_timer', kind: 'master_down', at: 5000 }]);
    now = 2000;
    callbacks[0]?.();
    expect(fired).toEqual([]);
    now = 5000;
    callbacks[1]?.();
    expect(fired).toEqual(['master_down']);
  });

  it('a deadline in the past fires on the next turn', () => {
    const clock = fakeClock();
    const fired: TimerKind[] = [];
    const timers = createVrrpTimers(clock.deps, (kind) => fired.push(kind));
    timers.apply([{ type: 'set_timer', kind: 'master_down', at: 500 }]);
    clock.advance(0);
    expect(fired).toEqual(['master_down']);
  });

  it('cancelAll clears everything', () => {
    const clock = fakeClock();
    const timers = createVrrpTimers(clock.deps, () => {
      throw new Error('must not fire');
    });
    timers.apply([
      { type: 'set_timer', kind: 'advert', at: 2000 },
      { type: 'set_timer', kind: 'master_down', at: 3000 },
    ]);
    timers.cancelAll();
    expect(clock.size()).toBe(0);
    clock.advance(5000);
    expect(timers.pending()).toEqual({});
  });
});
