/**
 * The HTTP and HTTPS checks: one GET on a fresh connection (no keep-alive, so each check sees the
 * server as a new client would), judged by the status code and, when a digest is configured, by the
 * MD5 of the whole body as keepalived's genhash prints it. One deadline covers the whole exchange
 * (connect, TLS, headers, body): a server that accepts but trickles its answer is as dead to clients
 * as one that refuses. TLS sends the configured SNI (none when unset, even if a Host header is set)
 * and verifies the certificate only when asked, because real servers behind a director usually
 * carry certificates for the public name, not for the address the check connects to.
 *
 * One request builder and one response parser (./http-response.ts) for both, not node:http: a
 * check needs one request and a status line, not an agent, a ClientRequest, an IncomingMessage
 * stream and their events. Only the transport differs. Plain HTTP's socket is the native addon's
 * (src/sys/tcp-connect.ts: on the epoll set of the TCP checks, bytes handed over in batches), and
 * the connection is reset at the verdict, so the director keeps no TIME_WAIT entry per check;
 * HTTPS runs on node:tls. The MD5 of the body comes from node:crypto.
 */
import { createHash, type Hash } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import type { HttpCheck, StatusRange } from '../config/types.js';
import { hostPort } from '../model/ipvs.js';
import {
  EXCHANGE_CLOSED,
  EXCHANGE_TIMEOUT,
  EXCHANGE_TOO_LARGE,
  TCP_TIMEOUT,
  tcpExchange,
} from '../sys/tcp-connect.js';
import { BODY_TOO_LARGE, ResponseParser } from './http-response.js';
import {
  ABORTED_REASON,
  describeError,
  type ProbeResult,
  probeAsPromise,
  stopwatch,
  timeoutReason,
} from './result.js';
import { tcpReason } from './tcp.js';

export type HttpProbeCheck = Pick<
  HttpCheck,
  | 'type'
  | 'connectIp'
  | 'connectPort'
  | 'bindIp'
  | 'timeoutMs'
  | 'path'
  | 'status'
  | 'digest'
  | 'host'
  | 'sni'
  | 'verifyTls'
>;

const USER_AGENT = 'ipvsd-check';
/** A deadline timer this late means the process stalled, not that the timer was merely slow. */
const STALL_MS = 10;

/** `200`, `200-299 or 302`. */
export function formatStatusRanges(ranges: readonly StatusRange[]): string {
  return ranges.map((r) => (r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`)).join(' or ');
}

export function statusMatches(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some((r) => status >= r.min && status <= r.max);
}

/** The request bytes of a check, made once per check object (a reload brings new objects). */
const requests = new WeakMap<HttpProbeCheck, Buffer>();

export function httpRequestBytes(check: HttpProbeCheck): Buffer {
  let bytes = requests.get(check);
  if (bytes === undefined) {
    const host = check.host ?? hostPort(check.connectIp, check.connectPort);
    bytes = Buffer.from(
      `GET ${check.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${USER_AGENT}\r\n` +
        'Accept: */*\r\nConnection: close\r\n\r\n',
      'latin1',
    );
    requests.set(check, bytes);
  }
  return bytes;
}

/**
 * One check's verdict, whichever transport carries its bytes: the parser, the status and digest
 * rules, the phase a timeout names, and the one result. `release` lets go of the connection (reset
 * it, or destroy the TLS socket); the transport sets it.
 */
class HttpVerdict {
  phase = 'connecting';
  finished = false;
  release: () => void = () => {};
  private readonly elapsed = stopwatch();
  private status = 0;
  private hash: Hash | null = null;
  readonly parser: ResponseParser;

  constructor(
    private readonly check: HttpProbeCheck,
    private readonly done: (result: ProbeResult) => void,
  ) {
    this.parser = new ResponseParser({
      onHead: (code) => {
        this.status = code;
        if (!statusMatches(code, check.status)) {
          this.finish(false, `status ${code}, expected ${formatStatusRanges(check.status)}`, true);
          return false;
        }
        this.phase = 'reading the body';
        if (check.digest !== null) this.hash = createHash('md5');
        return true;
      },
      onBody: (chunk) => {
        this.hash?.update(chunk);
      },
      onEnd: () => {
        if (this.hash === null) {
          this.finish(true, `status ${this.status}`, true);
          return;
        }
        const digest = this.hash.digest('hex');
        if (digest === check.digest) this.finish(true, `status ${this.status}, digest ${digest}`, true);
        else this.finish(false, `digest ${digest} differs from expected ${check.digest}`, true);
      },
      onError: (reason) => this.finish(false, reason, true),
    });
  }

  push(chunk: Buffer): void {
    if (!this.finished) this.parser.push(chunk);
  }

  timeout(): void {
    this.finish(false, timeoutReason(this.check.timeoutMs, this.phase), true);
  }

  finish(ok: boolean, reason: string, report: boolean): void {
    if (this.finished) return;
    this.finished = true;
    const latencyMs = this.elapsed();
    this.release();
    if (report) this.done({ ok, latencyMs, reason });
  }

  /** Ms since the start. */
  sinceStart(): number {
    return this.elapsed();
  }
}

/** Starts one check; `done` gets the verdict (never synchronously) unless cancelled first. */
export function startHttpProbe(check: HttpProbeCheck, done: (result: ProbeResult) => void): () => void {
  const verdict = new HttpVerdict(check, done);
  try {
    if (check.type === 'https') startTls(check, verdict);
    else startPlain(check, verdict);
  } catch (err) {
    const reason = describeError(err);
    queueMicrotask(() => verdict.finish(false, reason, true));
  }
  return () => verdict.finish(false, ABORTED_REASON, false);
}

/**
 * Plain HTTP: the native exchange (src/sys/tcp-connect.ts) connects, writes the request and hands
 * over the bytes; the deadline (with its allowance for a stalled process) is kept there.
 */
function startPlain(check: HttpProbeCheck, verdict: HttpVerdict): void {
  const cancel = tcpExchange(
    { address: check.connectIp, port: check.connectPort, source: check.bindIp, timeoutMs: check.timeoutMs },
    httpRequestBytes(check),
    (chunk) => verdict.push(chunk),
    (code) => {
      if (code === EXCHANGE_CLOSED) verdict.parser.eof();
      else if (code === TCP_TIMEOUT) verdict.timeout();
      else if (code === EXCHANGE_TIMEOUT) {
        if (verdict.phase === 'connecting') verdict.phase = 'waiting for the response';
        verdict.timeout();
      } else if (code === EXCHANGE_TOO_LARGE) verdict.finish(false, BODY_TOO_LARGE, true);
      else verdict.finish(false, tcpReason(check, code), true);
    },
  );
  verdict.release = cancel;
}

/** HTTPS: the same request and parser over node:tls. */
function startTls(check: HttpProbeCheck, verdict: HttpVerdict): void {
  // The deadline, counted from the start. It moves only when its timer ran late (see onDeadline).
  let deadlineMs = check.timeoutMs;
  let graceLeftMs = check.timeoutMs;
  const onDeadline = (): void => {
    // A timer that runs late means this process did not run at the deadline (a busy loop, a
    // process the scheduler left out: a daemon starting under TCG stalls for seconds). libuv runs
    // timers before it polls sockets, so whatever happened during the stall (the connect, the
    // server's answer) is still unread, and a verdict now would judge the prober, not the server:
    // one such false timeout took a real server out and the next probe put it straight back. So
    // the socket gets as long again as the stall lasted (one timeout more in all, so a dead server
    // is still judged) before the timeout counts. The native exchange does the same for plain HTTP.
    const lateMs = verdict.sinceStart() - deadlineMs;
    const graceMs = Math.min(lateMs, graceLeftMs);
    if (graceMs >= STALL_MS) {
      graceLeftMs -= graceMs;
      deadlineMs += lateMs + graceMs;
      timer = setTimeout(onDeadline, graceMs);
      return;
    }
    verdict.timeout();
  };
  let timer = setTimeout(onDeadline, check.timeoutMs);
  verdict.release = () => clearTimeout(timer);
  const socket = tlsConnect({
    host: check.connectIp,
    port: check.connectPort,
    ...(check.bindIp === null ? {} : { localAddress: check.bindIp }),
    // Only the configured name: never one derived from the address or the Host header.
    ...(check.sni === null ? {} : { servername: check.sni }),
    rejectUnauthorized: check.verifyTls,
  });
  // A TLS socket cannot reset its TCP connection: it is destroyed.
  verdict.release = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  socket.once('connect', () => {
    if (verdict.phase === 'connecting') verdict.phase = 'TLS handshake';
  });
  socket.once('secureConnect', () => {
    verdict.phase = 'waiting for the response';
  });
  socket.on('data', (chunk: Buffer) => verdict.push(chunk));
  socket.on('end', () => verdict.parser.eof());
  socket.on('close', () => {
    if (!verdict.finished) verdict.parser.eof();
  });
  // `on`, not `once`: destroying the socket after the verdict may emit another error.
  socket.on('error', (err) => verdict.finish(false, describeError(err), true));
  socket.write(httpRequestBytes(check));
}

/** One check as a promise; an abort ends it at once with "aborted". */
export function probeHttp(check: HttpProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  return probeAsPromise(startHttpProbe, check, signal);
}
