/** The checks child's side: targets in, results out in batches, a health change sent at once. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HealthState } from '../../../src/check/health.js';
import type {
  ChangeListener,
  CheckTarget,
  HealthMonitor,
  ResultListener,
} from '../../../src/check/monitor.js';
import { runChecksChild } from '../../../src/proc/checks-child.js';
import {
  type FromChecks,
  MAX_REASON_LENGTH,
  RESULT_BATCH_MS,
  type ResultRecord,
  readResultRecord,
} from '../../../src/proc/protocol.js';

function fakeMonitor() {
  const results: ResultListener[] = [];
  const changes: ChangeListener[] = [];
  const updates: (readonly CheckTarget[])[] = [];
  const monitor: HealthMonitor = {
    update: (t) => void updates.push(t),
    status: () => undefined,
    snapshot: () => new Map(),
    onChange: (l) => {
      changes.push(l);
      return () => undefined;
    },
    onResult: (l) => {
      results.push(l);
      return () => undefined;
    },
    stop: async () => undefined,
  };
  /** One probe result, the way the monitor reports it (result listeners, then change listeners). */
  const probe = (
    id: string,
    ok: boolean,
    health: 'up' | 'down',
    changed: boolean,
    weightDelta = 0,
    reason = ok ? 'connected' : 'refused',
  ) => {
    const state: HealthState = {
      health,
      consecutiveOk: ok ? 1 : 0,
      consecutiveFail: ok ? 0 : 1,
      lastResult: null,
      lastCheckedAt: 5000,
      weightDelta,
    };
    for (const l of results) l(id, { ok, latencyMs: 2, reason, weightDelta }, state, undefined);
    if (changed) for (const l of changes) l(id, state);
  };
  return { monitor, probe, updates };
}

describe('runChecksChild', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands the target list to the monitor, batches results, flushes at once on a change', () => {
    const sent: FromChecks[] = [];
    const fake = fakeMonitor();
    let deliver: (m: unknown) => void = () => undefined;
    runChecksChild({
      send: (m) => sent.push(m),
      logger: { info: () => undefined, child: () => ({}) } as never,
      monitor: fake.monitor,
      onMessage: (l) => {
        deliver = l;
      },
    });
    const targets = [{ id: 'a', check: { type: 'none' } as never, start: 'up' as const }];
    deliver({ t: 'targets', targets });
    deliver({ t: 'bogus' });
    expect(fake.updates).toEqual([targets]);

    fake.probe('a', true, 'up', false);
    fake.probe('b', true, 'up', false);
    vi.advanceTimersByTime(249);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([
      {
        t: 'results',
        results: [
          ['a', true, 2, 'connected', 'up', 1, 0, 5000, false, 0],
          ['b', true, 2, 'connected', 'up', 1, 0, 5000, false, 0],
        ],
      },
    ]);

    fake.probe('a', true, 'up', false);
    fake.probe('b', false, 'down', true);
    vi.advanceTimersByTime(0); // the next turn of the loop, not 250 ms
    expect(sent[1]).toEqual({
      t: 'results',
      results: [
        ['a', true, 2, 'connected', 'up', 1, 0, 5000, false, 0],
        ['b', false, 2, 'refused', 'down', 0, 1, 5000, true, 0],
      ],
    });
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(2);
  });

  it("carries a file check's weight delta, sends its change at once, and cuts long reasons", () => {
    const sent: FromChecks[] = [];
    const fake = fakeMonitor();
    runChecksChild({
      send: (m) => sent.push(m),
      logger: { info: () => undefined, child: () => ({}) } as never,
      monitor: fake.monitor,
      onMessage: () => undefined,
    });
    // The value moved from 1 to 3 with weight 2: health stays up, the delta changes.
    fake.probe('f', true, 'up', true, 6, 'value 3, weight +6');
    vi.advanceTimersByTime(0);
    expect(sent).toEqual([
      { t: 'results', results: [['f', true, 2, 'value 3, weight +6', 'up', 1, 0, 5000, true, 6]] },
    ]);

    fake.probe('f', true, 'up', false, 6, 'x'.repeat(MAX_REASON_LENGTH + 50));
    vi.advanceTimersByTime(RESULT_BATCH_MS);
    const reason = (sent[1] as { results: ResultRecord[] }).results[0]?.[3] ?? '';
    expect(reason).toHaveLength(MAX_REASON_LENGTH);
    expect(reason.endsWith('…')).toBe(true);
    // What the child sends, the parent accepts.
    expect(readResultRecord((sent[1] as { results: ResultRecord[] }).results[0])).not.toBeNull();
  });
});
