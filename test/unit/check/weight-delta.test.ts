/**
 * A file check's weight delta through the check side: the probe reports value × weight with a
 * passing result, the health step keeps the last passing delta (0 once down: keepalived resets a
 * faulted FILE_CHECK's cur_weight, trackers/track_file.c process_update_checker_track_file_status),
 * and the monitor tells its change listeners when the delta moves while the health stays.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeFile } from '../../../src/check/file.js';
import { type HealthTiming, initialHealth, stepHealth } from '../../../src/check/health.js';
import { createHealthMonitor, type TargetStatus } from '../../../src/check/monitor.js';
import type { ProbeResult } from '../../../src/check/result.js';
import { checkTargetId } from '../../../src/check/target-id.js';
import type { FileCheck } from '../../../src/config/types.js';
import { fakeClock } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'ipvsd-weight-delta-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('probeFile: the delta with the verdict', () => {
  const path = join(dir, 'value');
  const check = (weight: number, reverse = false) => ({ path, weight, reverse });
  const signal = new AbortController().signal;

  it.each([
    ['10', 2, false, true, 20],
    ['10', 2, true, true, -20],
    ['-3', 2, false, true, -6],
    ['0', 5, false, true, 0],
    ['0', 0, false, true, 0],
    ['1', 0, false, false, 0],
    // 2147483648 × −1 = INT_MIN: the failure (IPVS_WEIGHT_FAULT).
    ['2147483648', -1, false, false, 0],
  ])('value %s, weight %i, reverse %s: ok %s, delta %i', async (text, weight, reverse, ok, delta) => {
    writeFileSync(path, text);
    const r = await probeFile(check(weight, reverse), signal);
    expect([r.ok, r.weightDelta]).toEqual([ok, delta]);
  });
});

const timing: HealthTiming = { intervalMs: 1000, delayBeforeRetryMs: 100, retry: 2, rise: 2 };
const pass = (weightDelta: number): ProbeResult => ({ ok: true, latencyMs: 0, reason: 'value', weightDelta });
const FAIL: ProbeResult = { ok: false, latencyMs: 0, reason: 'value -1' };

describe('stepHealth: the weight delta', () => {
  it('takes each passing delta, keeps it through a failure that is not yet down, drops it once down', () => {
    let s = initialHealth('up');
    expect(s.weightDelta).toBe(0);
    s = stepHealth(s, pass(20), 0, timing).state;
    expect(s.weightDelta).toBe(20);
    s = stepHealth(s, FAIL, 1, timing).state;
    expect([s.health, s.weightDelta]).toEqual(['up', 20]);
    s = stepHealth(s, FAIL, 2, timing).state;
    expect([s.health, s.weightDelta]).toEqual(['down', 0]);
    // Rising: the delta is the latest passing one, in force once up.
    s = stepHealth(s, pass(4), 3, timing).state;
    s = stepHealth(s, pass(6), 4, timing).state;
    expect([s.health, s.weightDelta]).toEqual(['up', 6]);
    // A check without a delta (every other kind) passes with 0.
    s = stepHealth(s, { ok: true, latencyMs: 0, reason: 'connected' }, 5, timing).state;
    expect(s.weightDelta).toBe(0);
  });
});

describe('monitor: a change of delta is a change', () => {
  it('tells the change listeners (health unchanged), not when the delta repeats', async () => {
    const clock = fakeClock();
    const deltas = [2, 2, 20, 20, -6];
    let i = 0;
    const logs: string[] = [];
    const monitor = createHealthMonitor({
      now: clock.now,
      setTimer: clock.setTimer,
      random: () => 0,
      probe: async () => pass(deltas[Math.min(i++, deltas.length - 1)] as number),
      logger: { info: (_f, msg) => logs.push(msg), error: (_f, msg) => logs.push(msg) },
    });
    const check: FileCheck = {
      type: 'file',
      path: '/run/w',
      weight: 2,
      reverse: false,
      intervalMs: 1000,
      timeoutMs: 1000,
      retry: 1,
      delayBeforeRetryMs: 0,
      rise: 1,
      warmupMs: 0,
      initialState: 'up',
      source: { line: 1, col: 1 },
    };
    const changes: [string, number | undefined][] = [];
    monitor.onChange((_id, s: TargetStatus) => changes.push([s.health, s.weightDelta]));
    monitor.update([{ id: checkTargetId(check), check }]);
    await clock.advance(4500);
    expect(changes).toEqual([
      ['up', 2],
      ['up', 20],
      ['up', -6],
    ]);
    expect(logs.filter((m) => m === 'check target weight changed')).toHaveLength(3);
    await monitor.stop();
  });
});
