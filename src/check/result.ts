/**
 * What every probe returns. A failed check is an expected outcome, so it is a value with a reason a
 * person can act on ("connection refused (ECONNREFUSED)"), never an exception: probes run inside
 * socket and timer callbacks, where a throw would take the daemon down. The helpers here give every
 * probe the same words for the same socket errors and the same clock for latency.
 */
import { performance } from 'node:perf_hooks';

export interface ProbeResult {
  readonly ok: boolean;
  /** From the start of the probe to its verdict, in milliseconds (microsecond precision). */
  readonly latencyMs: number;
  /** Why it failed, or what it saw when it passed ("status 200"). */
  readonly reason: string;
  /**
   * A passing file check's value × weight (src/model/track-file.ts): what keepalived adds to the
   * real server's weight. Absent: 0 (every other kind of check).
   */
  readonly weightDelta?: number;
}

/** A running stopwatch for one probe. */
export function stopwatch(): () => number {
  const start = performance.now();
  return () => Math.round((performance.now() - start) * 1000) / 1000;
}

/** The reason a probe gives when its deadline passes. */
export function timeoutReason(timeoutMs: number, phase?: string): string {
  return phase === undefined ? `timeout after ${timeoutMs} ms` : `timeout after ${timeoutMs} ms (${phase})`;
}

export const ABORTED_REASON = 'aborted';

/** Socket and TLS error codes, in the words an operator expects next to the code itself. */
const ERROR_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'source address not available',
  EADDRINUSE: 'source address in use',
  EACCES: 'permission denied, prohibit route?',
  EPERM: 'operation not permitted',
  EINVAL: 'invalid argument, blackhole route?',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'broken pipe',
  ENOENT: 'no such file',
  HPE_INVALID_CONSTANT: 'malformed HTTP response',
  HPE_INVALID_STATUS: 'malformed HTTP status line',
  HPE_HEADER_OVERFLOW: 'HTTP response headers too large',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: self-signed certificate in chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: unable to verify the certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS: unknown certificate issuer',
  CERT_HAS_EXPIRED: 'TLS: certificate has expired',
  CERT_NOT_YET_VALID: 'TLS: certificate not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: certificate does not match the host name',
};

/** "connection refused (ECONNREFUSED)" from an error code and the system's text for it. */
export function describeCode(code: string, message: string): string {
  return `${ERROR_TEXT[code] ?? message} (${code})`;
}

/** "connection refused (ECONNREFUSED)"; unknown errors keep Node's message. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  // OpenSSL errors carry their own short text; Node's message is a dump of the error queue.
  const openssl = err as { library?: unknown; reason?: unknown };
  if (typeof openssl.library === 'string' && typeof openssl.reason === 'string')
    return `TLS: ${openssl.reason}`;
  const queued = /SSL routines:[^:]*:([^:\n]+)/.exec(err.message);
  if (queued?.[1] !== undefined) return `TLS: ${queued[1]}`;
  if (code === undefined) return err.message;
  const text = ERROR_TEXT[code];
  if (text !== undefined) return `${text} (${code})`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code.startsWith('ERR_SSL_')) return `TLS: ${err.message}`;
  return `${err.message} (${code})`;
}

/**
 * A callback-style probe (it reports once through `done`; the function it returns cancels it) as a
 * promise; an abort ends it at once with "aborted".
 */
export function probeAsPromise<C>(
  start: (check: C, done: (result: ProbeResult) => void) => () => unknown,
  check: C,
  signal: AbortSignal,
): Promise<ProbeResult> {
  if (signal.aborted) return Promise.resolve({ ok: false, latencyMs: 0, reason: ABORTED_REASON });
  const elapsed = stopwatch();
  return new Promise((resolve) => {
    const onAbort = (): void => {
      cancel();
      resolve({ ok: false, latencyMs: elapsed(), reason: ABORTED_REASON });
    };
    const cancel = start(check, (result) => {
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
