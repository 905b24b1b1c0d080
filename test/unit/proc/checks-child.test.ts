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
import type { FromChecks } from '../../../src/proc/protocol.js';

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
  const probe = (id: string, ok: boolean, health: 'up' | 'down', changed: boolean) => {
    const state: HealthState = {
      health,
      consecutiveOk: ok ? 1 : 0,
      consecutiveFail: ok ? 0 : 1,
      lastResult: null,
      lastCheckedAt: 5000,
    };
    for (const l of results)
      l(id, { ok, latencyMs: 2, reason: ok ? 'connected' : 'refused' }, state, undefined);
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
          ['a', true, 2, 'connected', 'up', 1, 0, 5000, false],
          ['b', true, 2, 'connected', 'up', 1, 0, 5000, false],
        ],
      },
    ]);

    fake.probe('a', true, 'up', false);
    fake.probe('b', false, 'down', true);
    vi.advanceTimersByTime(0); // the next turn of the loop, not 250 ms
    expect(sent[1]).toEqual({
      t: 'results',
      results: [
        ['a', true, 2, 'connected', 'up', 1, 0, 5000, false],
        ['b', false, 2, 'refused', 'down', 0, 1, 5000, true],
      ],
    });
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(2);
  });
});
