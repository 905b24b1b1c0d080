/**
 * TCP connect and plain HTTP checks through the native addon's TcpConnector
 * (native/src/tcp_connect.cc): one connector per process, thousands of checks in flight on one
 * private epoll set, results in batches through one shared Float64Array. This wrapper gives each
 * check a plain callback and a cancel function, and never calls back synchronously (a check that
 * fails at once, say on an unreachable route, answers in a microtask), so callers need no
 * re-entrancy guards. A target checked again and again (the monitor's) is registered once as a
 * CheckSlot: its address parsed and its request kept on the native side, each check started by an
 * integer id, its verdicts sent to one owner object instead of a closure per check.
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

/** Gets every result of one registered check target (see nativeCheckSlot). */
export interface CheckSlotOwner {
  /**
   * One check's verdict, coded as for HttpGetDone (a connect check's detail is 0 and its digest
   * null). Never called synchronously from start().
   */
  checkResult(code: number, latencyMs: number, detail: number, digestHex: string | null): void;
}

/**
 * A check target registered once with the native checker: its address is parsed and its request
 * kept on the native side, and start() passes nothing but an integer. What a daemon checking the
 * same real servers every second wants; one-off checks use TcpConnect and HttpGet.
 */
export interface CheckSlot {
  /**
   * Starts a check; its verdict goes to the owner. One at a time: the previous check must have
   * answered or been cancelled. Throws only on a bug (a released slot).
   */
  start(): void;
  /** Stops the check in flight, if any: no verdict follows. */
  cancel(): void;
  /** Cancels, and forgets the target: the slot is dead afterwards. Idempotent. */
  release(): void;
}

/** Batch size: a wakeup with more finished checks than this calls JavaScript more than once. */
const BATCH = 1024;
/** Doubles per result: id, code, latencyMs, detail, the MD5 as 4 words (native kStride). */
const STRIDE = 8;

interface Checks {
  readonly connect: TcpConnect;
  readonly httpGet: HttpGet;
  readonly slot: (request: TcpConnectRequest | HttpGetRequest, owner: CheckSlotOwner) => CheckSlot;
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

/**
 * Registers a connect check's target (an HttpGetRequest: a plain HTTP check's) for repeated
 * checks; null when the addon is not there. Throws TypeError on a request the native side refuses
 * (an address that is not an IP address).
 */
export function nativeCheckSlot(
  request: TcpConnectRequest | HttpGetRequest,
  owner: CheckSlotOwner,
): CheckSlot | null {
  const c = nativeChecks();
  return c === null ? null : c.slot(request, owner);
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

  /** Registered targets by id (their ids stay taken until released); null for other ids. */
  const slots: (Slot | null)[] = [];

  const connector = new Connector(results, (count) => {
    let thrown: unknown = null;
    for (let i = 0; i < count * STRIDE; i += STRIDE) {
      const id = results[i] as number;
      const code = results[i + 1] as number;
      // A registered target's owner, or a one-off check's callback (its id goes back first).
      const slot = slots[id] ?? null;
      const done = slot === null ? pending[id] : null;
      if (slot !== null) {
        if (!slot.inFlight) continue;
        slot.inFlight = false;
      } else {
        if (done === undefined || done === null) continue;
        release(id);
      }
      const latencyMs = results[i + 2] as number;
      const detail = results[i + 3] as number;
      const digest = code === HTTP_DIGEST_MISMATCH ? digestHex(results, i + 4) : null;
      try {
        if (slot !== null) slot.owner.checkResult(code, latencyMs, detail, digest);
        else done?.(code, latencyMs, detail, digest);
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
      slots.push(null);
    }
    generation[id] = (generation[id] as number) + 1;
    return id;
  };

  class Slot implements CheckSlot {
    /** A verdict is owed: a native check in flight, or one that ended at once, due in a microtask. */
    inFlight = false;
    /** Bumped by every start and cancel: a microtask verdict of an earlier run finds it changed. */
    private runs = 0;
    private released = false;

    constructor(
      private readonly id: number,
      readonly owner: CheckSlotOwner,
    ) {}

    start(): void {
      if (this.released) throw new Error('check slot used after release');
      const code = connector.run(this.id);
      this.inFlight = true;
      const run = ++this.runs;
      if (code === 0) return;
      // Ended at once (connected, or refused by the route): answered in a microtask, never from
      // within start().
      const t0 = performance.now();
      queueMicrotask(() => {
        if (this.runs !== run || !this.inFlight) return;
        this.inFlight = false;
        this.owner.checkResult(code === -1 ? TCP_CONNECTED : code, performance.now() - t0, 0, null);
      });
    }

    cancel(): void {
      if (!this.inFlight) return;
      this.inFlight = false;
      this.runs++;
      connector.cancel(this.id);
    }

    release(): void {
      if (this.released) return;
      this.cancel();
      this.released = true;
      connector.unregister(this.id);
      slots[this.id] = null;
      release(this.id);
    }
  }

  /**
   * Takes an id for `call` (a native start or register under that id); if the native side throws
   * (an argument error), the id goes back before the error surfaces.
   */
  function withId<T>(call: (id: number) => T): [number, T] {
    const id = takeId();
    try {
      return [id, call(id)];
    } catch (err) {
      release(id);
      throw err;
    }
  }

  return {
    slot(request, owner) {
      const [id] = withId((id) =>
        'request' in request
          ? connector.registerHttp(id, ...httpArgs(request))
          : connector.register(id, ...connectArgs(request)),
      );
      const slot = new Slot(id, owner);
      slots[id] = slot;
      return slot;
    },
    connect(request, done) {
      const t0 = performance.now();
      const [id, code] = withId((id) => connector.start(id, ...connectArgs(request)));
      return track(id, code, t0, done);
    },
    httpGet(request, done) {
      const t0 = performance.now();
      const [id, code] = withId((id) => connector.startHttp(id, ...httpArgs(request)));
      return track(id, code, t0, done);
    },
  };
}

/** A connect check's arguments to the native start() and register(), after the id. */
function connectArgs(r: TcpConnectRequest): [string, number, string | null, number] {
  return [r.address, r.port, r.source, r.timeoutMs];
}

/** An HTTP check's arguments to the native startHttp() and registerHttp(), after the id. */
function httpArgs(
  r: HttpGetRequest,
): [string, number, string | null, number, Uint8Array, Int32Array, Uint8Array | null] {
  return [...connectArgs(r), r.request, r.statusRanges, r.digest];
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
