import { describe, expect, it } from 'vitest';
import {
  type Health,
  type HealthState,
  type HealthTiming,
  initialHealth,
  stepHealth,
} from '../../../src/check/health.js';
import type { ProbeResult } from '../../../src/check/result.js';

const timing: HealthTiming = { intervalMs: 1000, delayBeforeRetryMs: 250, retry: 3, rise: 2 };
const OK: ProbeResult = { ok: true, latencyMs: 10, reason: 'connected' };
const FAIL: ProbeResult = { ok: false, latencyMs: 40, reason: 'connection refused (ECONNREFUSED)' };

function state(health: Health, consecutiveOk: number, consecutiveFail: number): HealthState {
  return { health, consecutiveOk, consecutiveFail, lastResult: null, lastCheckedAt: null, weightDelta: 0 };
}

describe('stepHealth', () => {
  // [title, before, result, after (health, ok, fail), changed, nextDelayMs]
  const table: [string, HealthState, ProbeResult, [Health, number, number], boolean, number][] = [
    ['up stays up on success; next at start + interval', state('up', 4, 0), OK, ['up', 5, 0], false, 990],
    [
      'first failure of an up target: confirm after the retry delay',
      state('up', 5, 0),
      FAIL,
      ['up', 0, 1],
      false,
      250,
    ],
    ['second failure: still up, retry again', state('up', 0, 1), FAIL, ['up', 0, 2], false, 250],
    ['retry-th failure: down, back to the interval', state('up', 0, 2), FAIL, ['down', 0, 3], true, 960],
    ['a success between failures resets the count', state('up', 0, 2), OK, ['up', 1, 0], false, 990],
    ['down stays down on failure', state('down', 0, 7), FAIL, ['down', 0, 8], false, 960],
    [
      'first success of a down target: not yet up (rise 2)',
      state('down', 0, 8),
      OK,
      ['down', 1, 0],
      false,
      990,
    ],
    ['rise-th success: up', state('down', 1, 0), OK, ['up', 2, 0], true, 990],
    [
      'a failure between successes resets the rise count',
      state('down', 1, 0),
      FAIL,
      ['down', 0, 1],
      false,
      960,
    ],
    ['start down: first success counts towards rise', initialHealth('down'), OK, ['down', 1, 0], false, 990],
    ['start up: first failure starts confirming', initialHealth('up'), FAIL, ['up', 0, 1], false, 250],
  ];

  it.each(table)('%s', (_title, before, result, [health, ok, fail], changed, nextDelayMs) => {
    const step = stepHealth(before, result, 5000, timing);
    expect(step).toEqual({
      state: {
        health,
        consecutiveOk: ok,
        consecutiveFail: fail,
        lastResult: result,
        lastCheckedAt: 5000,
        weightDelta: 0,
      },
      changed,
      nextDelayMs,
    });
  });

  it('with retry 1 and rise 1 a single result flips the health', () => {
    const fast = { ...timing, retry: 1, rise: 1 };
    const down = stepHealth(initialHealth('up'), FAIL, 0, fast);
    expect(down.state.health).toBe('down');
    expect(down.changed).toBe(true);
    const up = stepHealth(down.state, OK, 1, fast);
    expect(up.state.health).toBe('up');
    expect(up.changed).toBe(true);
  });

  it('a probe slower than the interval is followed at once, never with a negative delay', () => {
    const slow: ProbeResult = { ok: true, latencyMs: 2500, reason: 'status 200' };
    expect(stepHealth(state('up', 1, 0), slow, 0, timing).nextDelayMs).toBe(0);
    const slowFail: ProbeResult = { ok: false, latencyMs: 2500, reason: 'timeout after 2500 ms' };
    expect(stepHealth(state('down', 0, 1), slowFail, 0, timing).nextDelayMs).toBe(0);
  });

  it('runs a whole outage: up → down after retry failures → up after rise successes', () => {
    const seen: string[] = [];
    let s = initialHealth('up');
    for (const r of [OK, FAIL, FAIL, FAIL, FAIL, OK, FAIL, OK, OK, OK]) {
      const step = stepHealth(s, r, 0, timing);
      s = step.state;
      seen.push(`${s.health}${step.changed ? '!' : ''}`);
    }
    expect(seen).toEqual(['up', 'up', 'up', 'down!', 'down', 'down', 'down', 'down', 'up!', 'up']);
  });

  it('does not mutate its input', () => {
    const before = Object.freeze(state('up', 0, 2));
    stepHealth(before, FAIL, 0, timing);
    expect(before).toEqual(state('up', 0, 2));
  });
});
