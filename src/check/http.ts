/**
 * The HTTP and HTTPS checks: one GET on a fresh connection (no keep-alive, so each check sees the
 * server as a new client would), judged by the status code and, when a digest is configured, by the
 * MD5 of the whole body as keepalived's genhash prints it. One deadline covers the whole exchange
 * (connect, TLS, headers, body): a server that accepts but trickles its answer is as dead to clients
 * as one that refuses. TLS sends the configured SNI (none when unset, even if a Host header is set)
 * and verifies the certificate only when asked, because real servers behind a director usually
 * carry certificates for the public name, not for the address the check connects to.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HttpCheck, StatusRange } from '../config/types.js';
import { hostPort } from '../model/ipvs.js';
import { ABORTED_REASON, describeError, type ProbeResult, stopwatch, timeoutReason } from './result.js';

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

/** `200`, `200-299 or 302`. */
export function formatStatusRanges(ranges: readonly StatusRange[]): string {
  return ranges.map((r) => (r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`)).join(' or ');
}

export function statusMatches(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some((r) => status >= r.min && status <= r.max);
}

export function probeHttp(check: HttpProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  const elapsed = stopwatch();
  if (signal.aborted) return Promise.resolve({ ok: false, latencyMs: 0, reason: ABORTED_REASON });
  const tls = check.type === 'https';
  return new Promise((resolve) => {
    let req: ClientRequest | undefined;
    let phase = 'connecting';
    let done = false;
    const finish = (ok: boolean, reason: string): void => {
      if (done) return;
      done = true;
      const latencyMs = elapsed();
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      req?.destroy();
      resolve({ ok, latencyMs, reason });
    };
    const onAbort = (): void => finish(false, ABORTED_REASON);
    const timer = setTimeout(() => finish(false, timeoutReason(check.timeoutMs, phase)), check.timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });

    const options: RequestOptions = {
      host: check.connectIp,
      port: check.connectPort,
      ...(check.bindIp === null ? {} : { localAddress: check.bindIp }),
      method: 'GET',
      path: check.path,
      headers: {
        host: check.host ?? hostPort(check.connectIp, check.connectPort),
        'user-agent': USER_AGENT,
        accept: '*/*',
        connection: 'close',
      },
      agent: false,
    };
    try {
      req = tls
        ? httpsRequest({
            ...options,
            // '' (not undefined): otherwise Node derives an SNI name from the Host header.
            servername: check.sni ?? '',
            rejectUnauthorized: check.verifyTls,
          })
        : httpRequest(options);
    } catch (err) {
      finish(false, describeError(err));
      return;
    }
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        if (phase === 'connecting') phase = tls ? 'TLS handshake' : 'waiting for the response';
      });
      if (tls) {
        socket.once('secureConnect', () => {
          phase = 'waiting for the response';
        });
      }
    });
    req.on('response', (res: IncomingMessage) => onResponse(res));
    // `on`, not `once`: destroying the request after the verdict may emit another error.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.message === 'socket hang up') finish(false, 'connection closed before the response');
      else finish(false, describeError(err));
    });
    req.end();

    function onResponse(res: IncomingMessage): void {
      const status = res.statusCode ?? 0;
      if (!statusMatches(status, check.status)) {
        finish(false, `status ${status}, expected ${formatStatusRanges(check.status)}`);
        return;
      }
      phase = 'reading the body';
      const hash: Hash | null = check.digest === null ? null : createHash('md5');
      if (hash === null) res.resume();
      else res.on('data', (chunk: Buffer) => hash.update(chunk));
      res.on('error', (err) => {
        if (err.message === 'aborted') finish(false, 'connection closed in the body');
        else finish(false, describeError(err));
      });
      res.on('close', () => {
        if (!res.complete) finish(false, 'connection closed in the body');
      });
      res.on('end', () => {
        if (hash === null) {
          finish(true, `status ${status}`);
          return;
        }
        const digest = hash.digest('hex');
        if (digest === check.digest) finish(true, `status ${status}, digest ${digest}`);
        else finish(false, `digest ${digest} differs from expected ${check.digest}`);
      });
    }
  });
}
