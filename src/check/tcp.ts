/**
 * The TCP connect check: up when the three-way handshake completes within the timeout. The
 * connection is then reset rather than closed (SO_LINGER 0 here; the native checker disconnects,
 * which sends the same RST), as HAProxy does for connect-only checks: a graceful close would leave a
 * TIME_WAIT entry on the director for every check, and thousands of real servers checked every
 * second would fill the table for nothing. Everything ends in exactly one verdict:
 * connected, an error, the deadline, or the caller's cancel (after which nothing is reported).
 *
 * The connect itself runs in the native addon when it is there (src/sys/tcp-connect.ts: all checks
 * on one epoll set, results in batches, no JavaScript object or timer per check: a fraction of the
 * CPU of net.Socket, which stays as the fallback when the addon is missing). The monitor's checks
 * go through ./probe-runner.ts, which registers each target with the native checker once.
 */
import { connect, type Socket } from 'node:net';
import type { TcpCheck } from '../config/types.js';
import {
  errnoDescription,
  nativeTcpConnect,
  TCP_CONNECTED,
  TCP_TIMEOUT,
  type TcpConnectRequest,
} from '../sys/tcp-connect.js';
import {
  ABORTED_REASON,
  describeCode,
  describeError,
  type ProbeResult,
  probeAsPromise,
  stopwatch,
  timeoutReason,
} from './result.js';

export type TcpProbeCheck = Pick<TcpCheck, 'connectIp' | 'connectPort' | 'bindIp' | 'timeoutMs'>;

const CONNECTED_REASON = 'connected';

/** Reasons by errno, made once each: a server that refuses is refused every second. */
const errnoReasons = new Map<number, string>();

/** The reason of a native connect check's result (TCP_CONNECTED, TCP_TIMEOUT or an errno). */
export function nativeTcpReason(check: Pick<TcpCheck, 'timeoutMs'>, code: number): string {
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

/** What the native checker needs of a connect check: where to connect, from where, how long. */
export function nativeTcpRequest(check: TcpProbeCheck): TcpConnectRequest {
  return {
    address: check.connectIp,
    port: check.connectPort,
    source: check.bindIp,
    timeoutMs: check.timeoutMs,
  };
}

/** Starts one check; `done` gets the verdict unless the returned function cancels it first. */
export function startTcpProbe(check: TcpProbeCheck, done: (result: ProbeResult) => void): () => void {
  const native = nativeTcpConnect();
  if (native === null) return startSocketProbe(check, done);
  return native(nativeTcpRequest(check), (code, latencyMs) =>
    done({ ok: code === TCP_CONNECTED, latencyMs, reason: nativeTcpReason(check, code) }),
  );
}

/** One check as a promise; an abort ends it at once with "aborted". */
export function probeTcp(check: TcpProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  return probeAsPromise(startTcpProbe, check, signal);
}

/** The same check on a net.Socket, for a process without the native addon. */
function startSocketProbe(check: TcpProbeCheck, done: (result: ProbeResult) => void): () => void {
  const elapsed = stopwatch();
  let socket: Socket | undefined;
  let finished = false;
  const finish = (ok: boolean, reason: string, reset: boolean, report: boolean): void => {
    if (finished) return;
    finished = true;
    const latencyMs = elapsed();
    clearTimeout(timer);
    if (socket !== undefined) {
      if (reset && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
    if (report) done({ ok, latencyMs, reason });
  };
  const timer = setTimeout(() => finish(false, timeoutReason(check.timeoutMs), false, true), check.timeoutMs);
  try {
    socket = connect({
      host: check.connectIp,
      port: check.connectPort,
      ...(check.bindIp === null ? {} : { localAddress: check.bindIp }),
      noDelay: true,
    });
  } catch (err) {
    const reason = describeError(err);
    queueMicrotask(() => finish(false, reason, false, true));
    return () => finish(false, ABORTED_REASON, false, false);
  }
  socket.once('connect', () => finish(true, CONNECTED_REASON, true, true));
  // `on`, not `once`: an error after the verdict (from the reset) must still find a listener.
  socket.on('error', (err) => finish(false, describeError(err), false, true));
  return () => finish(false, ABORTED_REASON, false, false);
}
