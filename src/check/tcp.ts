/**
 * The TCP connect check: up when the server answers the SYN within the timeout. The check is
 * half-open and runs in the native addon (src/sys/tcp-connect.ts): the connection is reset at the
 * SYN-ACK, before the handshake's last ACK, as HAProxy does for connect-only checks, so the server
 * never accepts a connection and neither side keeps a TIME_WAIT entry per check (thousands of
 * real servers checked every second would fill the table for nothing). Everything ends in exactly
 * one verdict: connected, an error, the deadline, or the caller's cancel (after which nothing is
 * reported).
 */
import type { TcpCheck } from '../config/types.js';
import { errnoDescription, TCP_CONNECTED, TCP_TIMEOUT, tcpConnect } from '../sys/tcp-connect.js';
import { describeCode, type ProbeResult, probeAsPromise, timeoutReason } from './result.js';

export type TcpProbeCheck = Pick<TcpCheck, 'connectIp' | 'connectPort' | 'bindIp' | 'timeoutMs'>;

const CONNECTED_REASON = 'connected';

/** Reasons by errno, made once each: a server that refuses is refused every second. */
const errnoReasons = new Map<number, string>();

/** The reason of a connect check's result (TCP_CONNECTED, TCP_TIMEOUT or an errno). */
export function tcpReason(check: Pick<TcpCheck, 'timeoutMs'>, code: number): string {
  if (code === TCP_CONNECTED) return CONNECTED_REASON;
  if (code === TCP_TIMEOUT) return timeoutReason(check.timeoutMs);
  let reason = errnoReasons.get(code);
  if (reason === undefined) {
    const [name, message] = errnoDescription(code);
    reason = describeCode(name, message);
    errnoReasons.set(code, reason);
  }
  return reason;
}

/** Starts one check; `done` gets the verdict unless the returned function cancels it first. */
export function startTcpProbe(check: TcpProbeCheck, done: (result: ProbeResult) => void): () => void {
  return tcpConnect(
    { address: check.connectIp, port: check.connectPort, source: check.bindIp, timeoutMs: check.timeoutMs },
    (code, latencyMs) => done({ ok: code === TCP_CONNECTED, latencyMs, reason: tcpReason(check, code) }),
  );
}

/** One check as a promise; an abort ends it at once with "aborted". */
export function probeTcp(check: TcpProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  return probeAsPromise(startTcpProbe, check, signal);
}
