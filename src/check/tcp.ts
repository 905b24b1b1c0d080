/**
 * The TCP connect check: up when the three-way handshake completes within the timeout. The socket is
 * then reset (SO_LINGER 0) rather than closed, as HAProxy does for connect-only checks: a graceful
 * close would leave a TIME_WAIT entry on the director for every check, and thousands of real servers
 * checked every second would fill the table for nothing. Everything ends in exactly one verdict:
 * connected, an error, the deadline, or the caller's abort.
 */
import { connect, type Socket } from 'node:net';
import type { TcpCheck } from '../config/types.js';
import { ABORTED_REASON, describeError, type ProbeResult, stopwatch, timeoutReason } from './result.js';

export type TcpProbeCheck = Pick<TcpCheck, 'connectIp' | 'connectPort' | 'bindIp' | 'timeoutMs'>;

export function probeTcp(check: TcpProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  const elapsed = stopwatch();
  if (signal.aborted) return Promise.resolve({ ok: false, latencyMs: 0, reason: ABORTED_REASON });
  return new Promise((resolve) => {
    let socket: Socket | undefined;
    let done = false;
    const finish = (ok: boolean, reason: string, reset: boolean): void => {
      if (done) return;
      done = true;
      const latencyMs = elapsed();
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (socket !== undefined) {
        if (reset && !socket.destroyed) socket.resetAndDestroy();
        else socket.destroy();
      }
      resolve({ ok, latencyMs, reason });
    };
    const onAbort = (): void => finish(false, ABORTED_REASON, false);
    const timer = setTimeout(() => finish(false, timeoutReason(check.timeoutMs), false), check.timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      socket = connect({
        host: check.connectIp,
        port: check.connectPort,
        ...(check.bindIp === null ? {} : { localAddress: check.bindIp }),
        noDelay: true,
      });
    } catch (err) {
      finish(false, describeError(err), false);
      return;
    }
    socket.once('connect', () => finish(true, 'connected', true));
    // `on`, not `once`: an error after the verdict (from the reset) must still find a listener.
    socket.on('error', (err) => finish(false, describeError(err), false));
  });
}
