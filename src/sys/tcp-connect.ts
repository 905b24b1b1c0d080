/**
 * TCP connect and plain HTTP checks through the native addon's TcpConnector
 * (native/src/tcp_connect.cc): one connector per process, thousands of checks in flight on one
 * private epoll set, results in batches through one shared Float64Array. This wrapper gives each
 * check a plain callback and a cancel function, and never calls back synchronously (a check that
 * fails at once, say on an unreachable route, answers in a microtask), so callers need no
 * re-entrancy guards.
 */
import { getSystemErrorMap } from 'node:util';
import { loadNative, type NativeTcpConnector } from './native.js';

/**
 * `code`: 0 connected (the connection was then reset), -1 the deadline passed, > 0 the errno
 * the connect failed with. `latencyMs` from the connect() call to the verdict.
 */
export type TcpConnectDone = (code: number, latencyMs: number) => void;

export const TCP_CONNECTED = 0;
export const TCP_TIMEOUT = -1;

export interface TcpConnectRequest {
  readonly address: string;
  readonly port: number;
  /** Source address to bind, or null for the kernel's choice. */
  readonly source: string | null;
  readonly timeoutMs: number;
}

/** Starts one connect check; the returned function cancels it (then `done` is never called). */
export type TcpConnect = (request: TcpConnectRequest, done: TcpConnectDone) => () => void;

/** What a plain HTTP check sends and how its answer is judged, made once per check. */
export interface HttpGetRequest extends TcpConnectRequest {
  /** The whole request, head and all. */
  readonly request: Uint8Array;
  /** Accepted statuses: min, max pairs. */
  readonly statusRanges: Int32Array;
  /** The body's expected MD5 (16 bytes), or null when the body is not judged. */
  readonly digest: Uint8Array | null;
}

/**
 * `code`: HTTP_OK (detail: the status), HTTP_STATUS_MISMATCH (detail: the status),
 * HTTP_DIGEST_MISMATCH (detail: the status; `digestHex` the body's MD5), another HTTP_* verdict,
 * TCP_TIMEOUT (detail: HTTP_PHASES index), or > 0 the errno of the connect, send or receive.
 */
export type HttpGetDone = (code: number, latencyMs: number, detail: number, digestHex: string | null) => void;

/** Starts one HTTP check; the returned function cancels it (then `done` is never called). */
export type HttpGet = (request: HttpGetRequest, done: HttpGetDone) => () => void;

export const HTTP_OK = 0;
export const HTTP_STATUS_MISMATCH = -2;
export const HTTP_DIGEST_MISMATCH = -3;
export const HTTP_MALFORMED = -4;
export const HTTP_HEAD_TOO_LARGE = -5;
export const HTTP_CLOSED_BEFORE_RESPONSE = -6;
export const HTTP_CLOSED_IN_BODY = -7;
export const HTTP_BODY_TOO_LARGE = -8;
/** Where an HTTP check was when its deadline passed, by the detail of a TCP_TIMEOUT result. */
export const HTTP_PHASES = ['connecting', 'waiting for the response', 'reading the body'] as const;

/** Batch size: a wakeup with more finished checks than this calls JavaScript more than once. */
const BATCH = 1024;
/** Doubles per result: id, code, latencyMs, detail, the MD5 as 4 words (native kStride). */
const STRIDE = 8;

interface Checks {
  readonly connect: TcpConnect;
  readonly httpGet: HttpGet;
}

let checks: Checks | null | undefined;
let nativeAllowed = true;

/**
 * Tests: false makes the checks below answer null, as without the addon, so the net.Socket
 * fallbacks run; true (the default) lets them use the addon again.
 */
export function allowNativeChecks(allowed: boolean): void {
  nativeAllowed = allowed;
}

function nativeChecks(): Checks | null {
  if (!nativeAllowed) return null;
  if (checks === undefined) {
    try {
      checks = createChecks(loadNative().TcpConnector);
    } catch {
      checks = null;
    }
  }
  return checks;
}

/** The native connect check, or null when the addon is not there (then use net.Socket). */
export function nativeTcpConnect(): TcpConnect | null {
  return nativeChecks()?.connect ?? null;
}

/** The native plain HTTP check, or null when the addon is not there (then use net.Socket). */
export function nativeHttpGet(): HttpGet | null {
  return nativeChecks()?.httpGet ?? null;
}

type AnyDone = (code: number, latencyMs: number, detail: number, digestHex: string | null) => void;

function createChecks(
  Connector: new (results: Float64Array, onResults: (count: number) => void) => NativeTcpConnector,
): Checks {
  const results = new Float64Array(BATCH * STRIDE);
  // Checks in flight by id. An id is a slot in this array, free again once its check has ended
  // (the native side forgot the id before it reported or was cancelled), so no Map is hashed
  // three times per check and the array only grows to the most checks ever in flight at once.
  const pending: (AnyDone | null)[] = [];
  /** Bumped each time a slot is taken: a cancel function of an earlier check finds it changed. */
  const generation: number[] = [];
  const freeIds: number[] = [];
  const release = (id: number): void => {
    pending[id] = null;
    freeIds.push(id);
  };

  const connector = new Connector(results, (count) => {
    let thrown: unknown = null;
    for (let i = 0; i < count * STRIDE; i += STRIDE) {
      const id = results[i] as number;
      const done = pending[id];
      if (done === undefined || done === null) continue;
      release(id);
      const code = results[i + 1] as number;
      try {
        done(
          code,
          results[i + 2] as number,
          results[i + 3] as number,
          code === HTTP_DIGEST_MISMATCH ? digestHex(results, i + 4) : null,
        );
      } catch (err) {
        // One failing callback must not swallow the rest of the batch; the error still surfaces.
        thrown ??= err;
      }
    }
    if (thrown !== null) throw thrown;
  });

  /** Registers a check that started (code 0), or answers one that ended at once in a microtask. */
  function track(id: number, code: number, t0: number, done: AnyDone): () => void {
    if (code !== 0) {
      release(id);
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) done(code === -1 ? TCP_CONNECTED : code, performance.now() - t0, 0, null);
      });
      return () => {
        cancelled = true;
      };
    }
    pending[id] = done;
    const taken = generation[id];
    return () => {
      if (generation[id] !== taken || pending[id] === null) return;
      release(id);
      connector.cancel(id);
    };
  }

  const takeId = (): number => {
    let id = freeIds.pop();
    if (id === undefined) {
      id = pending.length;
      pending.push(null);
      generation.push(0);
    }
    generation[id] = (generation[id] as number) + 1;
    return id;
  };

  return {
    connect(request, done) {
      const id = takeId();
      const t0 = performance.now();
      let code: number;
      try {
        code = connector.start(id, request.address, request.port, request.source, request.timeoutMs);
      } catch (err) {
        // An argument error: the id goes back before the error surfaces.
        release(id);
        throw err;
      }
      return track(id, code, t0, done);
    },
    httpGet(request, done) {
      const id = takeId();
      const t0 = performance.now();
      let code: number;
      try {
        code = connector.startHttp(
          id,
          request.address,
          request.port,
          request.source,
          request.timeoutMs,
          request.request,
          request.statusRanges,
          request.digest,
        );
      } catch (err) {
        release(id);
        throw err;
      }
      return track(id, code, t0, done);
    },
  };
}

function digestHex(results: Float64Array, at: number): string {
  let hex = '';
  for (let w = 0; w < 4; w++) hex += ((results[at + w] as number) >>> 0).toString(16).padStart(8, '0');
  return hex;
}

let errnoNames: Map<number, [string, string]> | undefined;

/** `[code, message]` of a positive errno: `['ECONNREFUSED', 'connection refused']`. */
export function errnoDescription(errno: number): [string, string] {
  errnoNames ??= getSystemErrorMap();
  return errnoNames.get(-errno) ?? [`errno ${errno}`, 'unknown error'];
}
