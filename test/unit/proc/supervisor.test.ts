/** The supervisor on a fake clock with fake children: crash and hang detection, backoff, its reset. */
import { describe, expect, it } from 'vitest';
import { type ChildHandle, createSupervisor } from '../../../src/proc/supervisor.js';

function fakeClock() {
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let nextId = 0;
  return {
    now: () => now,
    setTimer(fn: () => void, ms: number) {
      const id = nextId++;
      timers.push({ at: now + ms, fn, id });
      return () => {
        timers = timers.filter((t) => t.id !== id);
      };
    },
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
        if (due === undefined) break;
        timers = timers.filter((t) => t !== due);
        now = Math.max(now, due.at);
        due.fn();
      }
      now = Math.max(now, end);
    },
    /** This process blocked for `ms`: time passes, no timer runs. */
    stall(ms: number) {
      now += ms;
    },
  };
}

interface FakeChild extends ChildHandle {
  readonly signals: string[];
  readonly sent: unknown[];
  message(m: unknown): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  disconnected: boolean;
  /** CPU ms used so far (the test moves it). */
  cpu: number;
}

function fakeChildren() {
  const all: FakeChild[] = [];
  let pid = 100;
  const spawn = (): ChildHandle => {
    let onMessage: (m: unknown) => void = () => undefined;
    let onExit: (code: number | null, signal: NodeJS.Signals | null) => void = () => undefined;
    const child: FakeChild = {
      pid: pid++,
      signals: [],
      sent: [],
      disconnected: false,
      cpu: 0,
      cpuTimeMs: () => child.cpu,
      send(m) {
        child.sent.push(m);
        return true;
      },
      kill(signal) {
        child.signals.push(signal);
      },
      disconnect() {
        child.disconnected = true;
      },
      onMessage: (l) => {
        onMessage = l;
      },
      onExit: (l) => {
        onExit = l;
      },
      message: (m) => onMessage(m),
      exit: (code, signal) => onExit(code, signal),
    };
    all.push(child);
    return child;
  };
  return { all, spawn };
}

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

function setUp() {
  const clock = fakeClock();
  const children = fakeChildren();
  const starts: boolean[] = [];
  let downs = 0;
  const sup = createSupervisor(
    { name: 'checks', heartbeatTimeoutMs: 3000, startupTimeoutMs: 10_000 },
    {
      spawn: children.spawn,
      logger: quietLog,
      now: clock.now,
      setTimer: clock.setTimer,
      onStart: (_c, restart) => starts.push(restart),
      onDown: () => {
        downs++;
      },
    },
  );
  return { clock, children, starts, sup, downs: () => downs };
}

describe('createSupervisor', () => {
  it('restarts a crashed child after 0.5 s, doubling to 30 s, and counts each restart', () => {
    const { clock, children, sup, starts, downs } = setUp();
    sup.start();
    expect(children.all).toHaveLength(1);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const crashedAt = clock.now();
      children.all.at(-1)?.exit(null, 'SIGKILL');
      expect(sup.running()).toBe(false);
      expect(sup.info().pid).toBeNull();
      const before = children.all.length;
      while (children.all.length === before) clock.advance(10);
      delays.push(clock.now() - crashedAt);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(sup.info().restarts).toBe(8);
    expect(sup.info().pid).toBe(children.all.at(-1)?.pid);
    expect(sup.info().lastRestartAt).toBe(clock.now());
    expect(starts).toEqual([false, true, true, true, true, true, true, true, true]);
    expect(downs()).toBe(8);
  });

  it('falls back to 0.5 s after a child ran a stable minute', () => {
    const { clock, children, sup } = setUp();
    sup.start();
    children.all[0]?.exit(1, null);
    clock.advance(500);
    children.all[1]?.exit(1, null);
    clock.advance(1000);
    expect(children.all).toHaveLength(3);
    // Alive for a minute, heartbeating.
    for (let t = 0; t < 60_000; t += 500) {
      children.all[2]?.message({ t: 'hb' });
      clock.advance(500);
    }
    children.all[2]?.exit(1, null);
    clock.advance(499);
    expect(children.all).toHaveLength(3);
    clock.advance(1);
    expect(children.all).toHaveLength(4);
  });

  it('kills a child silent for the heartbeat timeout (a hang), then restarts it', () => {
    const { clock, children, sup } = setUp();
    sup.start();
    const first = children.all[0] as FakeChild;
    // Heartbeats every 500 ms for 5 s: nothing happens.
    for (let t = 0; t < 5000; t += 500) {
      first.message({ t: 'hb' });
      clock.advance(500);
    }
    first.message({ t: 'hb' });
    expect(first.signals).toEqual([]);
    // Then silence (SIGSTOP): killed within 1.25 × 3 s, not before 3 s.
    clock.advance(2999);
    expect(first.signals).toEqual([]);
    clock.advance(750);
    expect(first.signals).toEqual(['SIGKILL']);
    expect(sup.info().restarts).toBe(0);
    first.exit(null, 'SIGKILL');
    clock.advance(500);
    expect(children.all).toHaveLength(2);
    expect(sup.info().restarts).toBe(1);
  });

  it('a silent child that uses CPU is busy, not hung: killed only after the busy timeout', () => {
    const { clock, children, sup } = setUp();
    sup.start();
    const child = children.all[0] as FakeChild;
    child.message({ t: 'hb' });
    // Silent, but working: 100 ms of CPU every 100 ms.
    for (let t = 0; t < 29_000; t += 100) {
      child.cpu += 100;
      clock.advance(100);
    }
    expect(child.signals).toEqual([]);
    for (let t = 0; t < 2000; t += 100) {
      child.cpu += 100;
      clock.advance(100);
    }
    expect(child.signals).toEqual(['SIGKILL']);
  });

  it('does not take its own stall for a hang of the child', () => {
    const { clock, children, sup } = setUp();
    sup.start();
    const child = children.all[0] as FakeChild;
    child.message({ t: 'hb' });
    clock.advance(500);
    child.message({ t: 'hb' });
    // The parent's loop blocks for 5 s; the child's heartbeats wait in the channel behind the timers.
    clock.stall(5000);
    clock.advance(0);
    expect(child.signals).toEqual([]);
    child.message({ t: 'hb' });
    clock.advance(1000);
    expect(child.signals).toEqual([]);
    // A real silence afterwards is still caught.
    clock.advance(3000);
    expect(child.signals).toEqual(['SIGKILL']);
  });

  it('gives a starting child the startup timeout before its first message', () => {
    const { clock, children, sup } = setUp();
    sup.start();
    clock.advance(9000);
    expect(children.all[0]?.signals).toEqual([]);
    clock.advance(1750);
    expect(children.all[0]?.signals).toEqual(['SIGKILL']);
  });

  it('stop: no restart, the channel closes, SIGKILL only after the grace', async () => {
    const { clock, children, sup } = setUp();
    sup.start();
    const child = children.all[0] as FakeChild;
    let stopped = false;
    const done = sup.stop(5000).then(() => {
      stopped = true;
    });
    expect(child.disconnected).toBe(true);
    clock.advance(4999);
    expect(child.signals).toEqual([]);
    clock.advance(1);
    expect(child.signals).toEqual(['SIGKILL']);
    child.exit(null, 'SIGKILL');
    await done;
    expect(stopped).toBe(true);
    clock.advance(60_000);
    expect(children.all).toHaveLength(1);
    expect(sup.send({})).toBe(false);
  });

  it('a spawn that throws is retried with the same backoff', () => {
    const clock = fakeClock();
    let attempts = 0;
    const sup = createSupervisor(
      { name: 'vrrp' },
      {
        spawn: () => {
          attempts++;
          throw new Error('EAGAIN');
        },
        logger: quietLog,
        now: clock.now,
        setTimer: clock.setTimer,
      },
    );
    sup.start();
    clock.advance(500 + 1000 + 2000);
    expect(attempts).toBe(4);
  });
});
