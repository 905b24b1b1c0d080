/**
 * The parent's view of the checks child: every verdict stays while the child is down, and a new
 * child gets the complete list with each target's last known health as its start.
 */
import { describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../../src/config/types.js';
import {
  MAX_REASON_LENGTH,
  type ResultRecord,
  readResultRecord,
  type ToChecks,
} from '../../../src/proc/protocol.js';
import { createRemoteHealthMonitor } from '../../../src/proc/remote-monitor.js';

const source = { file: 'x.yaml', line: 1, col: 1 };
const tcp = (port: number, initialState: 'up' | 'down' = 'up'): CheckConfig =>
  ({
    type: 'tcp',
    connectIp: '198.51.100.11',
    connectPort: port,
    bindIp: null,
    intervalMs: 1000,
    timeoutMs: 1000,
    retry: 2,
    delayBeforeRetryMs: 1000,
    rise: 2,
    warmupMs: 0,
    initialState,
    source,
  }) as unknown as CheckConfig;

const result = (id: string, ok: boolean, health: 'up' | 'down', changed = false): ResultRecord => [
  id,
  ok,
  1.5,
  ok ? 'connected' : 'connection refused (ECONNREFUSED)',
  health,
  ok ? 1 : 0,
  ok ? 0 : 2,
  1000,
  changed,
  0,
];

function setUp() {
  const sent: ToChecks[] = [];
  let childUp = true;
  const monitor = createRemoteHealthMonitor({
    send: (m) => {
      if (!childUp) return false;
      sent.push(m);
      return true;
    },
    stopChild: async () => undefined,
  });
  const setChildUp = (up: boolean): void => {
    childUp = up;
  };
  return { monitor, sent, setChildUp };
}

describe('createRemoteHealthMonitor', () => {
  it('keeps every verdict while the child is down and restarts it from them', () => {
    const { monitor, sent, setChildUp } = setUp();
    const changes: [string, string][] = [];
    const results: [string, boolean, unknown][] = [];
    monitor.onChange((id, s) => changes.push([id, s.health]));
    monitor.onResult((id, r, _s, tag) => results.push([id, r.ok, tag]));
    monitor.update([
      { id: 'a', check: tcp(1), tag: 'tag-a' },
      { id: 'b', check: tcp(2), tag: 'tag-b' },
      { id: 'c', check: tcp(3, 'down'), tag: 'tag-c' },
    ]);
    expect(sent.at(-1)).toEqual({
      t: 'targets',
      targets: [
        { id: 'a', check: tcp(1), start: 'up' },
        { id: 'b', check: tcp(2), start: 'up' },
        { id: 'c', check: tcp(3, 'down'), start: 'down' },
      ],
    });
    monitor.receive({ t: 'ready' });
    monitor.receive({
      t: 'results',
      results: [result('a', true, 'up'), result('b', false, 'down', true), result('c', true, 'up', true)],
    });
    expect(changes).toEqual([
      ['b', 'down'],
      ['c', 'up'],
    ]);
    expect(results).toEqual([
      ['a', true, 'tag-a'],
      ['b', false, 'tag-b'],
      ['c', true, 'tag-c'],
    ]);

    // The child dies (or hangs): nothing changes, however long.
    setChildUp(false);
    const before = [...monitor.snapshot()].map(([id, s]) => [id, { ...s }]);
    monitor.update([
      { id: 'a', check: tcp(1), tag: 'tag-a' },
      { id: 'b', check: tcp(2), tag: 'tag-b' },
      { id: 'c', check: tcp(3, 'down'), tag: 'tag-c' },
    ]);
    expect([...monitor.snapshot()].map(([id, s]) => [id, { ...s }])).toEqual(before);
    expect(monitor.status('b')?.health).toBe('down');
    expect(monitor.status('c')?.health).toBe('up');
    expect(changes).toHaveLength(2);

    // A new child says it is ready: it gets the whole list, each at its last verdict.
    setChildUp(true);
    monitor.receive({ t: 'ready' });
    expect(sent.at(-1)).toEqual({
      t: 'targets',
      targets: [
        { id: 'a', check: tcp(1), start: 'up' },
        { id: 'b', check: tcp(2), start: 'down' },
        { id: 'c', check: tcp(3, 'down'), start: 'up' },
      ],
    });
  });

  it('drops results of targets an update removed, and malformed messages', () => {
    const { monitor } = setUp();
    monitor.update([{ id: 'a', check: tcp(1) }]);
    monitor.update([]);
    monitor.receive({ t: 'results', results: [result('a', false, 'down', true)] });
    monitor.receive({ t: 'results', results: 'nope' });
    monitor.receive(null);
    monitor.receive({ t: 'results', results: [42] });
    expect(monitor.snapshot().size).toBe(0);
  });

  it('a listener that throws is logged, the others still run', () => {
    const errors: string[] = [];
    const monitor = createRemoteHealthMonitor({
      send: () => true,
      stopChild: async () => undefined,
      logger: { error: (_f, msg) => errors.push(msg) },
    });
    const seen: string[] = [];
    monitor.onChange(() => {
      throw new Error('boom');
    });
    monitor.onChange((id) => seen.push(id));
    monitor.update([{ id: 'a', check: tcp(1) }]);
    monitor.receive({ t: 'results', results: [result('a', false, 'down', true)] });
    expect(seen).toEqual(['a']);
    expect(errors).toEqual(['change listener failed']);
  });

  it("carries a file check's weight delta into the target's state, and a change of it to the change listeners", () => {
    const { monitor } = setUp();
    const changes: [string, string, number | undefined][] = [];
    monitor.onChange((id, s) => changes.push([id, s.health, s.weightDelta]));
    monitor.update([{ id: 'f', check: tcp(1) }]);
    const withDelta = (delta: number, changed: boolean): ResultRecord => {
      const r = result('f', true, 'up', changed);
      return [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], delta];
    };
    monitor.receive({ t: 'results', results: [withDelta(20, true)] });
    expect(monitor.status('f')?.weightDelta).toBe(20);
    monitor.receive({ t: 'results', results: [withDelta(20, false), withDelta(-4, true)] });
    expect(monitor.status('f')?.weightDelta).toBe(-4);
    expect(changes).toEqual([
      ['f', 'up', 20],
      ['f', 'up', -4],
    ]);
  });

  it('counts and drops records that do not validate: none of their fields reaches the state', () => {
    const errors: [object, string][] = [];
    const monitor = createRemoteHealthMonitor({
      send: () => true,
      stopChild: async () => undefined,
      logger: { error: (f, msg) => errors.push([f, msg]) },
    });
    monitor.update([{ id: 'a', check: tcp(1) }]);
    const good = result('a', false, 'down', true);
    const bad = (i: number, v: unknown) => good.map((x, j) => (j === i ? v : x));
    monitor.receive({
      t: 'results',
      results: [
        good.slice(0, 9), // a record of an older child: no weight delta
        bad(9, Number.NaN),
        bad(9, 2 ** 31), // beyond the int a product is clamped to
        bad(9, 1.5),
        bad(9, '7'),
        bad(4, 'sideways'),
        bad(2, -1),
        bad(3, 'x'.repeat(MAX_REASON_LENGTH + 1)),
        bad(5, -1),
        bad(8, 'yes'),
        [...good, 'extra'],
      ],
    });
    expect(monitor.status('a')).toMatchObject({ health: 'up', lastResult: null });
    expect(errors).toEqual([[{ malformed: 11, total: 11 }, 'malformed check results dropped']]);
    monitor.receive({ t: 'results', results: [good] });
    expect(monitor.status('a')).toMatchObject({ health: 'down', weightDelta: 0 });
    expect(errors).toHaveLength(1);
  });
});

describe('readResultRecord', () => {
  it('accepts the extremes of a weight delta and returns an equal record', () => {
    for (const delta of [-2147483648, 0, 2147483647]) {
      const r = result('a', true, 'up');
      const record: ResultRecord = [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], delta];
      expect(readResultRecord(record)).toEqual(record);
    }
    expect(readResultRecord(null)).toBeNull();
    expect(readResultRecord({ 0: 'a' })).toBeNull();
  });
});
