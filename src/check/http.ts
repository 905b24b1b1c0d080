/**
 * The HTTP and HTTPS checks: one GET on a fresh connection (no keep-alive, so each check sees the
 * server as a new client would), judged by the status code and, when a digest is configured, by the
 * MD5 of the whole body as keepalived's genhash prints it. One deadline covers the whole exchange
 * (connect, TLS, headers, body): a server that accepts but trickles its answer is as dead to clients
 * as one that refuses. TLS sends the configured SNI (none when unset, even if a Host header is set)
 * and verifies the certificate only when asked, because real servers behind a director usually
 * carry certificates for the public name, not for the address the check connects to.
 *
 * The request is written on a plain net/tls socket and the response read by ./http-response.ts,
 * the one HTTP response parser, not through node:http: a check needs one request and a status
 * line, not an agent, a ClientRequest, an IncomingMessage stream and their events. HTTP and HTTPS
 * are the same code on a net.Socket or a tls.TLSSocket. The MD5 of the body comes from node:crypto.
 * A plain connection still open after the verdict is reset, not closed, so the director keeps no
 * TIME_WAIT entry per check.
 */
import { createHash, type Hash } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { HttpCheck, StatusRange } from '../config/types.js';
import { hostPort } from '../model/ipvs.js';
import { ResponseParser } from './http-response.js';
import {
  ABORTED_REASON,
  describeError,
  type ProbeResult,
  probeAsPromise,
  stopwatch,
  timeoutReason,
} from './result.js';

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

/** Starts one check; `done` gets the verdict (never synchronously) unless cancelled first. */
export function startHttpProbe(check: HttpProbeCheck, done: (result: ProbeResult) => void): () => void {
  const elapsed = stopwatch();
  const tls = check.type === 'https';
  let phase = 'connecting';
  let finished = false;
  let socket: Socket | undefined;
  let status = 0;
  let hash: Hash | null = null;

  const finish = (ok: boolean, reason: string, report: boolean): void => {
    if (finished) return;
    finished = true;
    const latencyMs = elapsed();
    clearTimeout(timer);
    if (socket !== undefined && !socket.destroyed) {
      // A TLS socket cannot reset its TCP connection itself; its plain counterpart can.
      if (!tls && socket.readyState === 'open') socket.resetAndDestroy();
      else socket.destroy();
    }
    if (report) done({ ok, latencyMs, reason });
  };
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
    // is still judged) before the timeout counts. The native TCP check needs none of this: it
    // reads finished connects before it expires deadlines.
    const lateMs = elapsed() - deadlineMs;
    const graceMs = Math.min(lateMs, graceLeftMs);
    if (graceMs >= STALL_MS) {
      graceLeftMs -= graceMs;
      deadlineMs += lateMs + graceMs;
      timer = setTimeout(onDeadline, graceMs);
      return;
    }
    finish(false, timeoutReason(check.timeoutMs, phase), true);
  };
  let timer = setTimeout(onDeadline, check.timeoutMs);

  const parser = new ResponseParser({
    onHead(code) {
      status = code;
      if (!statusMatches(code, check.status)) {
        finish(false, `status ${code}, expected ${formatStatusRanges(check.status)}`, true);
        return false;
      }
      phase = 'reading the body';
      if (check.digest !== null) hash = createHash('md5');
      return true;
    },
    onBody(chunk) {
      hash?.update(chunk);
    },
    onEnd() {
      if (hash === null) {
        finish(true, `status ${status}`, true);
        return;
      }
      const digest = hash.digest('hex');
      if (digest === check.digest) finish(true, `status ${status}, digest ${digest}`, true);
      else finish(false, `digest ${digest} differs from expected ${check.digest}`, true);
    },
    onError: (reason) => finish(false, reason, true),
  });

  try {
    const local = check.bindIp === null ? {} : { localAddress: check.bindIp };
    socket = tls
      ? tlsConnect({
          host: check.connectIp,
          port: check.connectPort,
          ...local,
          // Only the configured name: never one derived from the address or the Host header.
          ...(check.sni === null ? {} : { servername: check.sni }),
          rejectUnauthorized: check.verifyTls,
        })
      : netConnect({ host: check.connectIp, port: check.connectPort, ...local, noDelay: true });
  } catch (err) {
    const reason = describeError(err);
    queueMicrotask(() => finish(false, reason, true));
    return () => finish(false, ABORTED_REASON, false);
  }
  const s = socket;
  s.once('connect', () => {
    if (phase === 'connecting') phase = tls ? 'TLS handshake' : 'waiting for the response';
  });
  if (tls)
    s.once('secureConnect', () => {
      phase = 'waiting for the response';
    });
  s.on('data', (chunk: Buffer) => {
    if (!finished) parser.push(chunk);
  });
  s.on('end', () => parser.eof());
  s.on('close', () => {
    if (!finished) parser.eof();
  });
  // `on`, not `once`: destroying the socket after the verdict may emit another error.
  s.on('error', (err) => finish(false, describeError(err), true));
  s.write(httpRequestBytes(check));
  return () => finish(false, ABORTED_REASON, false);
}

/** One check as a promise; an abort ends it at once with "aborted". */
export function probeHttp(check: HttpProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  return probeAsPromise(startHttpProbe, check, signal);
}
