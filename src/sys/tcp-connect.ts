/**
 * The TCP connect check and the plain HTTP check's socket through the native addon's TcpConnector
 * (native/src/tcp_connect.cc: thousands of checks in flight on one private epoll set, results in
 * batches through one shared Float64Array). A connect check is half-open, reset at the SYN-ACK. An
 * exchange connects the same way, writes a payload and hands every byte the server sends to
 * `onData` until the caller cancels it (it has its verdict), the server closes, or the deadline
 * passes; the connection is reset, never closed gracefully. The bytes are parsed in JavaScript
 * (src/check/http-response.ts), the one HTTP parser, which HTTPS over node:tls uses too.
 *
 * This wrapper gives each check plain callbacks and a cancel function, and never calls back
 * synchronously (a check that ends at once, say on an unreachable route, answers in a microtask),
 * so callers need no re-entrancy guards. The addon is required: without it the first check throws
 * the loader's IpvsdError, which the probe turns into a failed result naming the fix.
 */
import { getSystemErrorMap } from 'node:util';
import { loadNative, type NativeTcpConnector } from './native.js';

/**
 * `code`: TCP_CONNECTED (the connection was then reset), TCP_TIMEOUT, or > 0 the errno the connect
 * failed with. `latencyMs` from the connect() call to the verdict.
 */
export type TcpConnectDone = (code: number, latencyMs: number) => void;

export const TCP_CONNECTED = 0;
/** The deadline passed (for an exchange: before the connect finished). */
export const TCP_TIMEOUT = -1;
/** Exchange ends (native kClosed, kTimeoutConnected, kTooLarge): the server closed (FIN). */
export const EXCHANGE_CLOSED = -2;
/** A batch record that carries bytes, not an end (native kData). */
const EXCHANGE_DATA = -3;
/** The deadline passed after the connect finished. */
export const EXCHANGE_TIMEOUT = -4;
/** The server sent more than the native side reads of one exchange (8 MiB). */
export const EXCHANGE_TOO_LARGE = -5;

/**
 * `code`: EXCHANGE_CLOSED, TCP_TIMEOUT, EXCHANGE_TIMEOUT, EXCHANGE_TOO_LARGE, or > 0 the errno
 * of the connect, send or receive. Never called after the caller cancelled.
 */
export type ExchangeEnd = (code: number, latencyMs: number) => void;

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
const NO_DATA = (): void => {};

let connector: NativeTcpConnector | undefined;
const results = new Float64Array(BATCH * STRIDE);
/**
 * Checks in flight by id. An id is a slot in this array, free again once its check has ended, so
 * the native side can index its own table by id and the array only grows to the most checks ever in
 * flight at once.
 */
const pending: (TcpConnectDone | null)[] = [];
/** An exchange's byte handler by id (NO_DATA for a connect check). */
const onData: ((chunk: Buffer) => void)[] = [];
/** Bumped each time a slot is taken: a cancel function of an earlier check finds it changed. */
const generation: number[] = [];
const freeIds: number[] = [];

/** Ids ended while a batch is read: free again only after it, so no record meets a new check. */
const ending: number[] = [];
let inBatch = false;

function release(id: number): void {
  pending[id] = null;
  onData[id] = NO_DATA;
  if (inBatch) ending.push(id);
  else freeIds.push(id);
}

function takeId(): number {
  let id = freeIds.pop();
  if (id === undefined) {
    id = pending.length;
    pending.push(null);
    onData.push(NO_DATA);
    generation.push(0);
  }
  generation[id] = (generation[id] as number) + 1;
  return id;
}

function onResults(count: number, chunks: Buffer[]): void {
  let thrown: unknown = null;
  let chunk = 0;
  inBatch = true;
  for (let i = 0; i < count * STRIDE; i += STRIDE) {
    const id = results[i] as number;
    const code = results[i + 1] as number;
    const bytes = code === EXCHANGE_DATA ? (chunks[chunk++] as Buffer) : null;
    const done = pending[id];
    if (done === undefined || done === null) continue;
    try {
      if (bytes !== null) (onData[id] as (chunk: Buffer) => void)(bytes);
      else {
        release(id);
        done(code, results[i + 2] as number);
      }
    } catch (err) {
      // One failing callback must not swallow the rest of the batch; the error still surfaces.
      thrown ??= err;
    }
  }
  inBatch = false;
  for (const id of ending) freeIds.push(id);
  ending.length = 0;
  if (thrown !== null) throw thrown;
}

/**
 * Starts one connect check; the returned function cancels it (then `done` is never called).
 * Throws TypeError when the native side refuses the request (an address that is not an IP
 * address), and IpvsdError when the addon is missing.
 */
export function tcpConnect(request: TcpConnectRequest, done: TcpConnectDone): () => void {
  return start(request, undefined, NO_DATA, done);
}

/**
 * Starts an exchange: connect, write `payload`, hand the server's bytes to `onData` (in order,
 * never synchronously) until the returned function is called (which resets the connection) or
 * `end` reports. Throws as tcpConnect does.
 */
export function tcpExchange(
  request: TcpConnectRequest,
  payload: Uint8Array,
  data: (chunk: Buffer) => void,
  end: ExchangeEnd,
): () => void {
  return start(request, payload, data, end);
}

function start(
  request: TcpConnectRequest,
  payload: Uint8Array | undefined,
  data: (chunk: Buffer) => void,
  done: TcpConnectDone,
): () => void {
  if (connector === undefined) connector = new (loadNative().TcpConnector)(results, onResults);
  const c = connector;
  const t0 = performance.now();
  const id = takeId();
  let code: number;
  try {
    code = c.start(id, request.address, request.port, request.source, request.timeoutMs, payload);
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
  onData[id] = data;
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
