/**
 * One UDP exchange for the DNS and UDP checks: a connected socket (so the kernel drops datagrams
 * from anyone but the target, and an ICMP port unreachable comes back as ECONNREFUSED, as on
 * keepalived's connected socket), one datagram out, then each datagram in is handed to `judge`
 * until it gives a verdict, the socket fails, or the deadline passes. Everything ends in exactly one
 * verdict, and the socket is closed with it; after `cancel` nothing is reported.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { describeError, type ProbeResult, stopwatch } from './result.js';

export interface DatagramExchange {
  readonly address: string;
  readonly port: number;
  readonly bindIp: string | null;
  readonly payload: Uint8Array;
  readonly timeoutMs: number;
  /** A verdict for this datagram, or null to keep waiting (not the answer). */
  readonly judge: (message: Buffer, latencyMs: number) => ProbeResult | null;
  /** The verdict at the deadline. */
  readonly onTimeout: (latencyMs: number) => ProbeResult;
  /** The verdict when the socket reports an error (ICMP unreachable and the like). */
  readonly onError?: (err: unknown, latencyMs: number) => ProbeResult;
}

/** Datagrams judged per exchange at most: a flood of strays ends the check instead of the loop. */
const MAX_DATAGRAMS = 64;

export function startDatagramExchange(x: DatagramExchange, done: (result: ProbeResult) => void): () => void {
  const elapsed = stopwatch();
  let socket: Socket | null = createSocket({ type: isIPv6(x.address) ? 'udp6' : 'udp4' });
  let timer: NodeJS.Timeout | null = null;
  let seen = 0;
  const finish = (result: ProbeResult | null): void => {
    if (socket === null) return;
    const s = socket;
    socket = null;
    if (timer !== null) clearTimeout(timer);
    s.removeAllListeners('message');
    s.on('error', () => {});
    try {
      s.close();
    } catch {
      // Closing a socket that never bound: nothing to release.
    }
    if (result !== null) done(result);
  };
  const fail = (err: unknown): void =>
    finish(x.onError?.(err, elapsed()) ?? { ok: false, latencyMs: elapsed(), reason: describeError(err) });
  socket.on('error', fail);
  socket.on('message', (message) => {
    if (++seen > MAX_DATAGRAMS) {
      finish({ ok: false, latencyMs: elapsed(), reason: `no answer among ${MAX_DATAGRAMS} datagrams` });
      return;
    }
    let verdict: ProbeResult | null;
    try {
      verdict = x.judge(message, elapsed());
    } catch (err) {
      verdict = { ok: false, latencyMs: elapsed(), reason: `check failed internally: ${describeError(err)}` };
    }
    if (verdict !== null) finish(verdict);
  });
  timer = setTimeout(() => finish(x.onTimeout(elapsed())), x.timeoutMs);
  const send = (): void => {
    if (socket === null) return;
    socket.connect(x.port, x.address, () => {
      if (socket === null) return;
      socket.send(x.payload, (err) => {
        if (err) fail(err);
      });
    });
  };
  try {
    if (x.bindIp !== null) socket.bind({ address: x.bindIp, port: 0 }, send);
    else send();
  } catch (err) {
    queueMicrotask(() => fail(err));
  }
  return () => finish(null);
}
