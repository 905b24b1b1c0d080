/**
 * One entry point for every kind of check, so the scheduler never needs to know what a check does.
 * Two shapes of the same thing:
 *
 * - `StartProbe`: `(check, done) → cancel`, callbacks only. What the monitor runs: thousands of
 *   checks a second cost no promise, AbortController or listener each.
 * - `Probe`: `(check, signal) → Promise<ProbeResult>`, a promise that never rejects. For one-off
 *   checks (`ipvsctl check`, tests) and for probes injected into the monitor.
 *
 * Either way a bug inside a probe becomes a failed result with the bug in its reason, never an
 * unhandled rejection or a throw in a timer.
 */
import type { CheckConfig } from '../config/types.js';
import { startDnsProbe } from './dns.js';
import { probeFile } from './file.js';
import { NO_CHECK_RESULT } from './health.js';
import { startHttpProbe } from './http.js';
import { startPingProbe } from './ping.js';
import { ABORTED_REASON, describeError, type ProbeResult, stopwatch } from './result.js';
import { probeScript } from './script.js';
import { startSmtpProbe } from './smtp.js';
import { startTcpProbe } from './tcp.js';
import { startUdpProbe } from './udp.js';

export type Probe = (check: CheckConfig, signal: AbortSignal) => Promise<ProbeResult>;

export type ProbeDone = (result: ProbeResult) => void;
/**
 * Stops a probe: `done` is not called afterwards. May return a promise that settles once the
 * probe has let go of everything (a killed script's process group is gone).
 */
export type CancelProbe = () => undefined | Promise<void>;
/** Starts a probe; `done` is called once, never synchronously, unless cancelled first. */
export type StartProbe = (check: CheckConfig, done: ProbeDone) => CancelProbe;

export { NO_CHECK_RESULT };

const internalFailure = (err: unknown): ProbeResult => ({
  ok: false,
  latencyMs: 0,
  reason: `check failed internally: ${describeError(err)}`,
});

/** A promise probe as a StartProbe; cancelling aborts it and returns when it has ended. */
export function fromPromiseProbe(probe: Probe): StartProbe {
  return (check, done) => {
    const controller = new AbortController();
    let cancelled = false;
    let pending: Promise<ProbeResult>;
    try {
      pending = probe(check, controller.signal);
    } catch (err) {
      pending = Promise.resolve(internalFailure(err));
    }
    const settled = pending.then(
      (result) => {
        if (!cancelled) done(result);
      },
      (err: unknown) => {
        if (!cancelled) done(internalFailure(err));
      },
    );
    return () => {
      cancelled = true;
      controller.abort();
      return settled;
    };
  };
}

const startScriptProbe = fromPromiseProbe(async (check, signal) =>
  check.type === 'script'
    ? probeScript(check, signal)
    : internalFailure(new Error(`no promise probe for ${check.type} checks`)),
);

const startFileProbe = fromPromiseProbe(async (check, signal) =>
  check.type === 'file'
    ? probeFile(check, signal)
    : internalFailure(new Error(`no promise probe for ${check.type} checks`)),
);

export const startProbe: StartProbe = (check, done) => {
  try {
    switch (check.type) {
      case 'none': {
        let cancelled = false;
        queueMicrotask(() => {
          if (!cancelled) done(NO_CHECK_RESULT);
        });
        return () => {
          cancelled = true;
          return undefined;
        };
      }
      // Their cancel functions return nothing, so they are CancelProbes as they are (no wrapper
      // closure per check).
      case 'tcp':
        return startTcpProbe(check, done) as CancelProbe;
      case 'http':
      case 'https':
        return startHttpProbe(check, done) as CancelProbe;
      case 'script':
        return startScriptProbe(check, done);
      case 'dns':
        return startDnsProbe(check, done) as CancelProbe;
      case 'udp':
        return startUdpProbe(check, done) as CancelProbe;
      case 'ping':
        return startPingProbe(check, done) as CancelProbe;
      case 'smtp':
        return startSmtpProbe(check, done) as CancelProbe;
      case 'file':
        return startFileProbe(check, done);
    }
  } catch (err) {
    return startFailed(err, done);
  }
};

function startFailed(err: unknown, done: ProbeDone): CancelProbe {
  let cancelled = false;
  queueMicrotask(() => {
    if (!cancelled) done(internalFailure(err));
  });
  return () => {
    cancelled = true;
    return undefined;
  };
}

export const runProbe: Probe = async (check, signal) => {
  try {
    // A script's verdict waits for its process group to be gone, also when aborted.
    if (check.type === 'script') return await probeScript(check, signal);
    if (signal.aborted) return { ok: false, latencyMs: 0, reason: ABORTED_REASON };
    const elapsed = stopwatch();
    return await new Promise<ProbeResult>((resolve) => {
      const onAbort = (): void => {
        void cancel();
        resolve({ ok: false, latencyMs: elapsed(), reason: ABORTED_REASON });
      };
      const cancel = startProbe(check, (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  } catch (err) {
    return internalFailure(err);
  }
};
