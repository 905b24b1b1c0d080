/**
 * TCP connect checks through the native addon's TcpConnector (native/src/tcp_connect.cc): one
 * connector per process, thousands of connects in flight on one private epoll set, results in
 * batches through one shared Float64Array. This wrapper gives each check a plain callback and a
 * cancel function, and never calls back synchronously (a check that fails at once, say on an
 * unreachable route, answers in a microtask), so callers need no re-entrancy guards.
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

/** Batch size: a wakeup with more finished connects than this calls JavaScript more than once. */
const BATCH = 1024;

let connect: TcpConnect | null | undefined;

/** The native connect check, or null when the addon is not there (then use net.Socket). */
export function nativeTcpConnect(): TcpConnect | null {
  if (connect === undefined) {
    try {
      connect = createTcpConnect(loadNative().TcpConnector);
    } catch {
      connect = null;
    }
  }
  return connect;
}

function createTcpConnect(
  Connector: new (results: Float64Array, onResults: (count: number) => void) => NativeTcpConnector,
): TcpConnect {
  const results = new Float64Array(BATCH * 3);
  const pending = new Map<number, TcpConnectDone>();
  let nextId = 0;

  const connector = new Connector(results, (count) => {
    let thrown: unknown = null;
    for (let i = 0; i < count * 3; i += 3) {
      const id = results[i] as number;
      const done = pending.get(id);
      if (done === undefined) continue;
      pending.delete(id);
      try {
        done(results[i + 1] as number, results[i + 2] as number);
      } catch (err) {
        // One failing callback must not swallow the rest of the batch; the error still surfaces.
        thrown ??= err;
      }
    }
    if (thrown !== null) throw thrown;
  });

  return (request, done) => {
    // Ids are never reused while the process lives (2^32 checks is 50 days at 1,000/s; by then
    // the id that wraps around finished long ago).
    const id = nextId;
    nextId = (nextId + 1) >>> 0;
    const started = performance.now();
    const code = connector.start(id, request.address, request.port, request.source, request.timeoutMs);
    if (code !== 0) {
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) done(code === -1 ? TCP_CONNECTED : code, performance.now() - started);
      });
      return () => {
        cancelled = true;
      };
    }
    pending.set(id, done);
    return () => {
      if (pending.delete(id)) connector.cancel(id);
    };
  };
}

let errnoNames: Map<number, [string, string]> | undefined;

/** `[code, message]` of a positive errno: `['ECONNREFUSED', 'connection refused']`. */
export function errnoDescription(errno: number): [string, string] {
  errnoNames ??= getSystemErrorMap();
  return errnoNames.get(-errno) ?? [`errno ${errno}`, 'unknown error'];
}
