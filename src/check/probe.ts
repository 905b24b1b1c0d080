/**
 * One entry point for every kind of check, so the scheduler never needs to know what a check does:
 * `(check, signal) → Promise<ProbeResult>`, a promise that never rejects. A bug inside a probe
 * becomes a failed result with the bug in its reason, never an unhandled rejection in a timer.
 */
import type { CheckConfig } from '../config/types.js';
import { probeHttp } from './http.js';
import { describeError, type ProbeResult } from './result.js';
import { probeScript } from './script.js';
import { probeTcp } from './tcp.js';

export type Probe = (check: CheckConfig, signal: AbortSignal) => Promise<ProbeResult>;

export const NO_CHECK_RESULT: ProbeResult = { ok: true, latencyMs: 0, reason: 'no check' };

export const runProbe: Probe = async (check, signal) => {
  try {
    switch (check.type) {
      case 'none':
        return NO_CHECK_RESULT;
      case 'tcp':
        return await probeTcp(check, signal);
      case 'http':
      case 'https':
        return await probeHttp(check, signal);
      case 'script':
        return await probeScript(check, signal);
    }
  } catch (err) {
    return { ok: false, latencyMs: 0, reason: `check failed internally: ${describeError(err)}` };
  }
};
