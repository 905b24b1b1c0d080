/**
 * A probe bound to one target for as long as the target lives, for the monitor's hot path. A
 * daemon checks the same real servers every second; starting each check from its CheckConfig
 * (startProbe) parses the address in the native checker, builds a request object, a completion
 * closure, a cancel closure and a result object every time. A runner does all of that once: the
 * native checker keeps the target registered under a slot id (src/sys/tcp-connect.ts,
 * nativeCheckSlot), a check is started by that id alone, and the verdict comes back to the runner
 * itself, which fills in one result object it owns and hands it to `done`.
 *
 * Only TCP and plain HTTP checks have runners, and only with the native addon; for the rest
 * createProbeRunner gives null and the caller starts probes with startProbe as before. The words
 * of every reason are those of the one-off probes (nativeTcpReason, nativeHttpReason).
 */
import type { CheckConfig } from '../config/types.js';
import {
  type CheckSlot,
  type CheckSlotOwner,
  HTTP_OK,
  type HttpGetRequest,
  nativeCheckSlot,
  type TcpConnectRequest,
} from '../sys/tcp-connect.js';
import { type HttpProbeCheck, nativeHttpReason, nativeHttpRequest } from './http.js';
import type { ProbeDone } from './probe.js';
import { nativeTcpReason, nativeTcpRequest } from './tcp.js';

export interface ProbeRunner {
  /**
   * Starts one check; its verdict goes to `done`, never synchronously. One at a time: the previous
   * check must have answered or been cancelled. May throw (a bug); then no verdict follows.
   */
  start(): void;
  /** Stops the check in flight, if any: `done` is not called for it. */
  cancel(): void;
  /** Cancels and lets go of the native registration. Final. */
  close(): void;
}

/** The reason for a verdict: `code` 0 is success for both kinds. */
type Describe = (code: number, detail: number, digest: string | null) => string;

class NativeRunner implements ProbeRunner, CheckSlotOwner {
  /**
   * The one result object of this target, filled in by every verdict: `done` (and through it
   * the monitor's result listeners) must read it at once and copy what it keeps.
   */
  private readonly result = { ok: false, latencyMs: 0, reason: '' };
  /** Set right after construction: the slot needs its owner to register. */
  slot: CheckSlot = UNREGISTERED;

  constructor(
    private readonly describe: Describe,
    private readonly done: ProbeDone,
  ) {}

  checkResult(code: number, latencyMs: number, detail: number, digest: string | null): void {
    const result = this.result;
    result.ok = code === HTTP_OK;
    result.latencyMs = latencyMs;
    result.reason = this.describe(code, detail, digest);
    this.done(result);
  }

  start(): void {
    this.slot.start();
  }

  cancel(): void {
    this.slot.cancel();
  }

  close(): void {
    this.slot.release();
  }
}

/**
 * A runner for `check`, or null when it has none (script and none checks, HTTPS, no addon).
 * Throws when the native checker refuses the target (then startProbe reports the same error).
 */
export function createProbeRunner(check: CheckConfig, done: ProbeDone): ProbeRunner | null {
  if (check.type === 'tcp') {
    return register(new NativeRunner((code) => nativeTcpReason(check, code), done), nativeTcpRequest(check));
  }
  if (check.type === 'http') {
    const httpCheck: HttpProbeCheck = check;
    // The reason of a success is the same string check after check; made once per status seen.
    let okStatus = -1;
    let okReason = '';
    const describe: Describe = (code, detail, digest) => {
      if (code !== HTTP_OK) return nativeHttpReason(httpCheck, code, detail, digest);
      if (detail !== okStatus) {
        okStatus = detail;
        okReason = nativeHttpReason(httpCheck, code, detail, digest);
      }
      return okReason;
    };
    return register(new NativeRunner(describe, done), nativeHttpRequest(httpCheck));
  }
  return null;
}

/** Registers the runner's target; null (no runner) without the addon. */
function register(runner: NativeRunner, request: TcpConnectRequest | HttpGetRequest): ProbeRunner | null {
  const slot = nativeCheckSlot(request, runner);
  if (slot === null) return null;
  runner.slot = slot;
  return runner;
}

/** A runner's slot until it is registered; never started. */
const UNREGISTERED: CheckSlot = {
  start() {
    throw new Error('check runner not registered');
  },
  cancel() {},
  release() {},
};
