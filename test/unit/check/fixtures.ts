/** Check configs and a fake clock for the health-check unit tests. */
import type { HttpCheck, NoCheck, ScriptCheck, TcpCheck } from '../../../src/config/types.js';

const source = { line: 1, col: 1 };

const timing = {
  intervalMs: 1000,
  timeoutMs: 500,
  retry: 3,
  delayBeforeRetryMs: 200,
  rise: 2,
  warmupMs: 0,
  initialState: 'up' as const,
  source,
};

export function tcpCheck(over: Partial<TcpCheck> = {}): TcpCheck {
  return { type: 'tcp', connectIp: '198.51.100.11', connectPort: 8080, bindIp: null, ...timing, ...over };
}

export function httpCheck(over: Partial<HttpCheck> = {}): HttpCheck {
  return {
    type: 'http',
    connectIp: '198.51.100.11',
    connectPort: 80,
    bindIp: null,
    ...timing,
    path: '/health',
    status: [{ min: 200, max: 200 }],
    digest: null,
    host: null,
    sni: null,
    verifyTls: false,
    ...over,
  };
}

export function scriptCheck(over: Partial<ScriptCheck> = {}): ScriptCheck {
  return { type: 'script', argv: ['/usr/local/bin/chk', 'web'], ...timing, ...over };
}

export const noCheck: NoCheck = { type: 'none', source };

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Lets promise callbacks (probe results) run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A clock that only moves when told; timers fire in time order, promise callbacks run in between. */
export function fakeClock(start = 0) {
  let t = start;
  let seq = 0;
  const timers: FakeTimer[] = [];
  const clock = {
    now: () => t,
    setTimer(fn: () => void, delayMs: number): () => void {
      const timer: FakeTimer = { at: t + Math.max(0, delayMs), seq: seq++, fn, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    /** Timers still due to fire. */
    pending: () => timers.filter((x) => !x.cancelled).length,
    async advance(ms: number): Promise<void> {
      const end = t + ms;
      await flush();
      for (;;) {
        let next: FakeTimer | undefined;
        for (const x of timers) {
          if (x.cancelled || x.at > end) continue;
          if (next === undefined || x.at < next.at || (x.at === next.at && x.seq < next.seq)) next = x;
        }
        if (next === undefined) break;
        timers.splice(timers.indexOf(next), 1);
        t = next.at;
        next.fn();
        await flush();
      }
      t = end;
      await flush();
    },
  };
  return clock;
}
