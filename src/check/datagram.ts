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
import { watchUdpUnreachable } from './udp-unreachable.js';

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
  /**
   * Also fail on any ICMP destination unreachable about this datagram (./udp-unreachable.ts), with
   * this verdict; without it only what the socket reports (port unreachable) counts.
   */
  readonly onUnreachable?: (family: 4 | 6, code: number, latencyMs: number) => ProbeResult;
}

/** Datagrams judged per exchange at most: a flood of strays ends the check instead of the loop. */
const MAX_DATAGRAMS = 64;

export function startDatagramExchange(x: DatagramExchange, done: (result: ProbeResult) => void): () => void {
  const elapsed = stopwatch();
  let socket: Socket | null = createSocket({ type: isIPv6(x.address) ? 'udp6' : 'udp4' });
  let timer: NodeJS.Timeout | null = null;
  let unwatch: (() => void) | null = null;
  let seen = 0;
  const family = isIPv6(x.address) ? 6 : 4;
  const finish = (result: ProbeResult | null): void => {
    if (socket === null) return;
    const s = socket;
    socket = null;
    if (timer !== null) clearTimeout(timer);
    unwatch?.();
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
      // An event callback: anything thrown here would take the process down, so it becomes the
      // check's failure instead.
      try {
        if (socket === null) return;
        const onUnreachable = x.onUnreachable;
        if (onUnreachable !== undefined) {
          // connect() bound the socket: its local address and port identify the datagram in an
          // ICMP error's quote. Watched before the send, so no answer can come first.
          const local = socket.address();
          unwatch = watchUdpUnreachable(
            family,
            {
              source: local.address,
              sourcePort: local.port,
              destination: x.address,
              destinationPort: x.port,
            },
            (code) => finish(onUnreachable(family, code, elapsed())),
          );
        }
        socket.send(x.payload, (err) => {
          if (err) fail(err);
        });
      } catch (err) {
        fail(err);
      }
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
