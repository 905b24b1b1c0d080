import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CheckTarget,
  createHealthMonitor,
  type TargetStatus,
  warmupDelay,
} from '../../../src/check/monitor.js';
import type { ProbeResult } from '../../../src/check/result.js';
import { checkTargetId } from '../../../src/check/target-id.js';
import type { CheckConfig } from '../../../src/config/types.js';
import { fakeClock, flush, noCheck, scriptCheck, tcpCheck } from './fixtures.js';

interface Call {
  readonly check: CheckConfig;
  readonly signal: AbortSignal;
  readonly startedAt: number;
  endedAt: number | null;
}

/**
 * Probes that take `durationMs` of fake time and answer what `verdict` says for the check's port
 * (or argv[1]); an abort ends them at once with "aborted", as the real ones do.
 */
function fakeProbes(clock: ReturnType<typeof fakeClock>, durationMs = 10) {
  const calls: Call[] = [];
  const verdicts = new Map<string, boolean>();
  let duration = durationMs;
  const keyOf = (check: CheckConfig) =>
    check.type === 'tcp' ? String(check.connectPort) : check.type === 'script' ? (check.argv[1] ?? '') : '';
  const probe = (check: CheckConfig, signal: AbortSignal): Promise<ProbeResult> => {
    const call: Call = { check, signal, startedAt: clock.now(), endedAt: null };
    calls.push(call);
    const took = duration;
    return new Promise((resolve) => {
      const cancel = clock.setTimer(() => {
        call.endedAt = clock.now();
        const ok = verdicts.get(keyOf(check)) ?? true;
        resolve({ ok, latencyMs: took, reason: ok ? 'connected' : 'connection refused (ECONNREFUSED)' });
      }, took);
      signal.addEventListener('abort', () => {
        cancel();
        call.endedAt = clock.now();
        resolve({ ok: false, latencyMs: clock.now() - call.startedAt, reason: 'aborted' });
      });
    });
  };
  return {
    calls,
    probe,
    set: (key: string | number, ok: boolean) => verdicts.set(String(key), ok),
    setDuration: (ms: number) => {
      duration = ms;
    },
    /** Calls that had not ended at `t`. */
    inFlightAt: (t: number) => calls.filter((c) => c.startedAt <= t && (c.endedAt === null || c.endedAt > t)),
  };
}

function target(check: CheckConfig, start: 'up' | 'down' = 'up'): CheckTarget {
  return { id: checkTargetId(check), check, start };
}

function setup(options: { durationMs?: number; random?: () => number } = {}) {
  const clock = fakeClock();
  const probes = fakeProbes(clock, options.durationMs);
  const logs: { level: string; fields: object; msg: string }[] = [];
  const monitor = createHealthMonitor({
    now: clock.now,
    setTimer: clock.setTimer,
    random: options.random ?? (() => 0),
    probe: probes.probe,
    logger: {
      info: (fields, msg) => logs.push({ level: 'info', fields, msg }),
      error: (fields, msg) => logs.push({ level: 'error', fields, msg }),
    },
  });
  const changes: [string, TargetStatus][] = [];
  const results: [string, ProbeResult][] = [];
  monitor.onChange((id, status) => changes.push([id, status]));
  monitor.onResult((id, result) => results.push([id, result]));
  return { clock, probes, monitor, changes, results, logs };
}

describe('health monitor', () => {
  it('probes a check shared by several real servers once', async () => {
    const { clock, probes, monitor } = setup();
    const check = tcpCheck();
    // Three real servers, two virtual servers: the same check object or an equal one.
    monitor.update([target(check), target({ ...check, source: { line: 30, col: 5 } }), target(check)]);
    await clock.advance(5000);
    expect(monitor.snapshot().size).toBe(1);
    expect(probes.calls.map((c) => c.startedAt)).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
  });

  it('keeps the interval cadence from each probe start', async () => {
    const { clock, probes, monitor } = setup({ durationMs: 300 });
    monitor.update([target(tcpCheck())]);
    await clock.advance(3500);
    expect(probes.calls.map((c) => c.startedAt)).toEqual([0, 1000, 2000, 3000]);
  });

  it('never piles up: a probe slower than the interval is followed, not overlapped', async () => {
    const { clock, probes, monitor } = setup({ durationMs: 2500 });
    monitor.update([target(tcpCheck({ timeoutMs: 5000 }))]);
    await clock.advance(10_000);
    expect(probes.calls.map((c) => c.startedAt)).toEqual([0, 2500, 5000, 7500, 10_000]);
    for (let t = 0; t <= 10_000; t += 50) expect(probes.inFlightAt(t).length).toBeLessThanOrEqual(1);
  });

  it('checks never wait for each other: a slow target does not delay a fast one', async () => {
    const clock = fakeClock();
    const starts: Record<string, number[]> = { slow: [], fast: [] };
    const monitor = createHealthMonitor({
      now: clock.now,
      setTimer: clock.setTimer,
      probe: (check, signal) => {
        const name = check.type === 'script' ? (check.argv[1] ?? '') : '';
        starts[name]?.push(clock.now());
        const took = name === 'slow' ? 4000 : 1;
        return new Promise((r) => {
          clock.setTimer(() => r({ ok: true, latencyMs: took, reason: '' }), took);
          signal.addEventListener('abort', () => r({ ok: false, latencyMs: 0, reason: 'aborted' }));
        });
      },
    });
    monitor.update([
      target(scriptCheck({ argv: ['/bin/chk', 'slow'], timeoutMs: 5000 })),
      target(scriptCheck({ argv: ['/bin/chk', 'fast'] })),
    ]);
    await clock.advance(3000);
    expect(starts.fast).toEqual([0, 1000, 2000, 3000]);
    expect(starts.slow).toEqual([0]);
    await monitor.stop();
  });

  it('goes down after `retry` failures spaced by delay_before_retry, up after `rise` successes', async () => {
    const { clock, probes, monitor, changes, logs } = setup();
    const check = tcpCheck({ retry: 3, delayBeforeRetryMs: 200, rise: 2, intervalMs: 1000 });
    const id = checkTargetId(check);
    monitor.update([target(check)]);
    await clock.advance(1500);
    probes.set(8080, false);
    await clock.advance(3000);
    // ok at 0 and 1000; failures at 2000, 2210, 2420 (each 10 ms, then 200 ms delay): down at 2430.
    expect(probes.calls.map((c) => c.startedAt).slice(0, 5)).toEqual([0, 1000, 2000, 2210, 2420]);
    expect(changes).toHaveLength(1);
    expect(changes[0]?.[0]).toBe(id);
    expect(changes[0]?.[1]).toMatchObject({ health: 'down', consecutiveFail: 3, consecutiveOk: 0 });
    expect(changes[0]?.[1].lastResult?.reason).toBe('connection refused (ECONNREFUSED)');
    expect(changes[0]?.[1].lastCheckedAt).toBe(2430);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'info',
        msg: 'check target went down',
        fields: expect.objectContaining({ id }),
      }),
    );
    // Down: back to the interval.
    expect(probes.calls.map((c) => c.startedAt).slice(5, 7)).toEqual([3420, 4420]);

    probes.set(8080, true);
    await clock.advance(2000);
    expect(changes).toHaveLength(2);
    expect(changes[1]?.[1]).toMatchObject({ health: 'up', consecutiveOk: 2, consecutiveFail: 0 });
    expect(monitor.status(id)?.health).toBe('up');
  });

  it('starts down when told to, and needs `rise` successes before up', async () => {
    const { clock, monitor, changes } = setup();
    const check = tcpCheck({ rise: 3 });
    monitor.update([target(check, 'down')]);
    expect(monitor.status(checkTargetId(check))).toEqual({
      health: 'down',
      consecutiveOk: 0,
      consecutiveFail: 0,
      lastResult: null,
      lastCheckedAt: null,
      weightDelta: 0,
    });
    await clock.advance(1500);
    expect(monitor.status(checkTargetId(check))?.health).toBe('down');
    await clock.advance(1000);
    expect(changes.map(([, s]) => [s.health, s.lastCheckedAt])).toEqual([['up', 2010]]);
  });

  it("without `start`, starts in the check's initial state", () => {
    const { monitor } = setup();
    const down = tcpCheck({ connectPort: 1, initialState: 'down' });
    const up = tcpCheck({ connectPort: 2, initialState: 'up' });
    monitor.update([
      { id: checkTargetId(down), check: down },
      { id: checkTargetId(up), check: up },
    ]);
    expect(monitor.status(checkTargetId(down))?.health).toBe('down');
    expect(monitor.status(checkTargetId(up))?.health).toBe('up');
  });

  it('reports every result', async () => {
    const { clock, monitor, results, probes } = setup();
    monitor.update([target(tcpCheck())]);
    probes.set(8080, false);
    await clock.advance(1000);
    // 0, then two retries 200 ms after each 10 ms failure.
    expect(results.map(([, r]) => r.ok)).toEqual([false, false, false]);
    expect(results[0]?.[1]).toEqual({
      ok: false,
      latencyMs: 10,
      reason: 'connection refused (ECONNREFUSED)',
    });
  });

  it('update keeps the state and schedule of targets whose id is unchanged', async () => {
    const { clock, probes, monitor } = setup();
    const kept = tcpCheck({ retry: 1 });
    const dropped = tcpCheck({ connectPort: 9090 });
    monitor.update([target(kept), target(dropped)]);
    probes.set(8080, false);
    await clock.advance(1500);
    const before = monitor.status(checkTargetId(kept));
    expect(before?.health).toBe('down');
    const callsBefore = probes.calls.length;

    // A reload: the kept check is written elsewhere in the new file, a new one appears, one goes.
    const added = tcpCheck({ connectPort: 7070, warmupMs: 800 });
    monitor.update([target({ ...kept, source: { line: 99, col: 1 } }, 'up'), target(added, 'down')]);
    expect(monitor.status(checkTargetId(kept))).toBe(before);
    expect(monitor.status(checkTargetId(dropped))).toBeUndefined();
    expect(monitor.status(checkTargetId(added))?.health).toBe('down');
    await flush();
    expect(probes.calls.length).toBe(callsBefore); // nobody re-probed at once

    await clock.advance(1000);
    const ports = probes.calls
      .slice(callsBefore)
      .map((c) => [c.check.type === 'tcp' && c.check.connectPort, c.startedAt]);
    // The kept target continues its cadence (1000, 2000, …); the new one starts after its warmup
    // (random() is 0 here, so at once); the dropped one is gone.
    expect(ports).toEqual([
      [7070, 1500],
      [8080, 2000],
      [7070, 2500],
    ]);
  });

  it('update aborts the probe in flight of a removed target and ignores its answer', async () => {
    const { clock, probes, monitor, results } = setup({ durationMs: 400 });
    monitor.update([target(tcpCheck())]);
    await clock.advance(100);
    const [call] = probes.calls;
    expect(call?.signal.aborted).toBe(false);
    monitor.update([]);
    expect(call?.signal.aborted).toBe(true);
    await clock.advance(5000);
    expect(probes.calls).toHaveLength(1);
    expect(results).toHaveLength(0);
    expect(monitor.snapshot().size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('a target that keeps its id keeps its probe in flight across an update', async () => {
    const { clock, probes, monitor, results } = setup({ durationMs: 400 });
    const check = tcpCheck();
    monitor.update([target(check)]);
    await clock.advance(100);
    monitor.update([target(check)]);
    await clock.advance(400);
    expect(probes.calls).toHaveLength(1);
    expect(probes.calls[0]?.signal.aborted).toBe(false);
    expect(results).toHaveLength(1);
  });

  it('spreads first probes over [0, warmup]', async () => {
    const randoms = [0, 0.5, 0.999_999];
    const { clock, probes, monitor } = setup({ random: () => randoms.shift() ?? 0 });
    monitor.update([
      target(tcpCheck({ connectPort: 1, warmupMs: 1000 })),
      target(tcpCheck({ connectPort: 2, warmupMs: 1000 })),
      target(tcpCheck({ connectPort: 3, warmupMs: 1000 })),
    ]);
    await clock.advance(1000);
    const first = new Map<number, number>();
    for (const c of probes.calls)
      if (c.check.type === 'tcp' && !first.has(c.check.connectPort))
        first.set(c.check.connectPort, c.startedAt);
    expect([...first.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [1, 0],
      [2, 500],
      [3, 1000],
    ]);
  });

  it('warmupDelay stays within [0, warmupMs] whatever random() returns', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3_600_000 }), fc.double(), (warmupMs, r) => {
        const d = warmupDelay(warmupMs, () => r);
        return Number.isInteger(d) && d >= 0 && d <= warmupMs;
      }),
    );
    expect(warmupDelay(1000, () => 0.9999999)).toBe(1000);
    expect(warmupDelay(0, () => 0.7)).toBe(0);
  });

  it('stop aborts probes in flight, clears every timer, and ignores late answers', async () => {
    const { clock, probes, monitor, results } = setup({ durationMs: 400 });
    monitor.update([
      target(tcpCheck({ connectPort: 1 })),
      target(tcpCheck({ connectPort: 2, warmupMs: 10_000 })),
    ]);
    await clock.advance(100);
    expect(probes.calls).toHaveLength(2); // random() is 0: both start at once
    await monitor.stop();
    expect(probes.calls.every((c) => c.signal.aborted)).toBe(true);
    expect(clock.pending()).toBe(0);
    await clock.advance(10_000);
    expect(probes.calls).toHaveLength(2);
    expect(results).toHaveLength(0);
    monitor.update([target(tcpCheck({ connectPort: 3 }))]);
    await clock.advance(10_000);
    expect(probes.calls).toHaveLength(2);
  });

  it('stop waits for the probes in flight to end', async () => {
    let release: (r: ProbeResult) => void = () => {};
    const monitor = createHealthMonitor({
      setTimer: (fn) => {
        fn();
        return () => {};
      },
      // Ends only when released, even when aborted (like a script being killed).
      probe: () =>
        new Promise((r) => {
          release = r;
        }),
    });
    monitor.update([target(tcpCheck())]);
    let stopped = false;
    const stopping = monitor.stop().then(() => {
      stopped = true;
    });
    await flush();
    expect(stopped).toBe(false);
    release({ ok: false, latencyMs: 1, reason: 'aborted' });
    await stopping;
    expect(stopped).toBe(true);
  });

  it('a `none` check is up at once and never probed', async () => {
    const { clock, probes, monitor } = setup();
    monitor.update([{ id: 'none', check: noCheck, start: 'down' }]);
    expect(monitor.status('none')).toMatchObject({
      health: 'up',
      lastResult: { ok: true, reason: 'no check' },
    });
    await clock.advance(10_000);
    expect(probes.calls).toHaveLength(0);
  });

  it('a listener that throws is logged and changes nothing else', async () => {
    const { clock, monitor, logs, results } = setup();
    monitor.onResult(() => {
      throw new Error('metrics broke');
    });
    monitor.update([target(tcpCheck())]);
    await clock.advance(2010);
    expect(results).toHaveLength(3);
    expect(logs.filter((l) => l.level === 'error')).toHaveLength(3);
    expect(logs[0]).toMatchObject({
      level: 'error',
      msg: 'health listener threw',
      fields: { err: 'metrics broke' },
    });
  });

  it('a probe that throws or rejects counts as a failure with the reason', async () => {
    const clock = fakeClock();
    let n = 0;
    const monitor = createHealthMonitor({
      now: clock.now,
      setTimer: clock.setTimer,
      probe: () => {
        n++;
        if (n === 1) throw new Error('boom');
        return Promise.reject(new Error('bang'));
      },
    });
    const check = tcpCheck({ retry: 2 });
    monitor.update([target(check)]);
    await clock.advance(200);
    expect(monitor.status(checkTargetId(check))).toMatchObject({
      health: 'down',
      consecutiveFail: 2,
      lastResult: { ok: false, reason: 'check failed internally: bang' },
    });
  });

  it("hands result listeners the target's tag, the one of the last update", async () => {
    const { clock, monitor } = setup();
    const check = tcpCheck();
    const tags: unknown[] = [];
    monitor.onResult((_id, _result, _status, tag) => tags.push(tag));
    const first = { owner: 'first' };
    const second = { owner: 'second' };
    monitor.update([{ ...target(check), tag: first }]);
    await clock.advance(10);
    // Same id: the target keeps its schedule and state, its results now carry the new tag.
    monitor.update([{ ...target(check), tag: second }]);
    await clock.advance(1000);
    monitor.update([target(check)]);
    await clock.advance(1000);
    expect(tags).toEqual([first, second, undefined]);
  });

  it('unsubscribed listeners hear nothing more', async () => {
    const { clock, monitor } = setup();
    const heard: string[] = [];
    const off = monitor.onResult((id) => heard.push(id));
    monitor.update([target(tcpCheck())]);
    await clock.advance(10);
    off();
    await clock.advance(3000);
    expect(heard).toHaveLength(1);
  });
});
