/**
 * The TCP connect check through the native addon's TcpConnector (native/src/tcp_connect.cc: a
 * half-open connect, reset at the SYN-ACK, thousands in flight on one private epoll set, results in
 * batches through one shared Float64Array). This wrapper gives each check a plain callback and a
 * cancel function, and never calls back synchronously (a check that ends at once, say on an
 * unreachable route, answers in a microtask), so callers need no re-entrancy guards. The addon is
 * required: without it the first check throws the loader's IpvsdError, which the probe turns into a
 * failed result naming the fix.
 */
import { getSystemErrorMap } from 'node:util';
import { loadNative, type NativeTcpConnector } from './native.js';

/**
 * `code`: TCP_CONNECTED (the connection was then reset), TCP_TIMEOUT, or > 0 the errno the connect
 * failed with. `latencyMs` from the connect() call to the verdict.
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

/** Batch size: a wakeup with more finished checks than this calls JavaScript more than once. */
const BATCH = 1024;
/** Doubles per result: id, code, latencyMs (native kStride). */
const STRIDE = 3;

let connector: NativeTcpConnector | undefined;
const results = new Float64Array(BATCH * STRIDE);
/**
 * Checks in flight by id. An id is a slot in this array, free again once its check has ended, so
 * the native side can index its own table by id and the array only grows to the most checks ever in
 * flight at once.
 */
const pending: (TcpConnectDone | null)[] = [];
/** Bumped each time a slot is taken: a cancel function of an earlier check finds it changed. */
const generation: number[] = [];
const freeIds: number[] = [];

function release(id: number): void {
  pending[id] = null;
  freeIds.push(id);
}

function takeId(): number {
  let id = freeIds.pop();
  if (id === undefined) {
    id = pending.length;
    pending.push(null);
    generation.push(0);
  }
  generation[id] = (generation[id] as number) + 1;
  return id;
}

function onResults(count: number): void {
  let thrown: unknown = null;
  for (let i = 0; i < count * STRIDE; i += STRIDE) {
    const id = results[i] as number;
    const done = pending[id];
    if (done === undefined || done === null) continue;
    release(id);
    try {
      done(results[i + 1] as number, results[i + 2] as number);
    } catch (err) {
      // One failing callback must not swallow the rest of the batch; the error still surfaces.
      thrown ??= err;
    }
  }
  if (thrown !== null) throw thrown;
}

/**
 * Starts one connect check; the returned function cancels it (then `done` is never called).
 * Throws TypeError when the native side refuses the request (an address that is not an IP
 * address), and IpvsdError when the addon is missing.
 */
export function tcpConnect(request: TcpConnectRequest, done: TcpConnectDone): () => void {
  if (connector === undefined) connector = new (loadNative().TcpConnector)(results, onResults);
  const c = connector;
  const t0 = performance.now();
  const id = takeId();
  let code: number;
  try {
    code = c.start(id, request.address, request.port, request.source, request.timeoutMs);
  } catch (err) {
    release(id);
    throw err;
  }
  if (code !== 0) {
    // Ended at once (connected, or refused by the route): answered in a microtask.
    release(id);
    let cancelled = false;
    queueMicrotask(() => {
      if (!cancelled) done(code === -1 ? TCP_CONNECTED : code, performance.now() - t0);
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
    c.cancel(id);
  };
}

let errnoNames: Map<number, [string, string]> | undefined;

/** `[code, message]` of a positive errno: `['ECONNREFUSED', 'connection refused']`. */
export function errnoDescription(errno: number): [string, string] {
  errnoNames ??= getSystemErrorMap();
  return errnoNames.get(-errno) ?? [`errno ${errno}`, 'unknown error'];
}
