/**
 * The ping check (keepalived's PING_CHECK): one ICMP echo per attempt over the native addon's raw
 * ICMP sockets (src/sys/icmp-socket.ts), up on the matching echo reply before the deadline.
 *
 * One socket per family and source address, shared by every echo in flight from it, open while any
 * is (a raw ICMP socket sees every echo reply the host receives, so one per check would copy each
 * reply to all of them). Echoes are told apart by identifier (one per process) and
 * sequence number (a counter); a reply is taken only from the address the request went to.
 * Replies that match nothing, come from elsewhere or do not decode are counted and dropped.
 *
 * Every echo ends in exactly one call of `done` — a reply, an error, or the deadline — never
 * synchronously; after `cancel` nothing is called.
 */
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { PingCheck } from '../config/types.js';
import { canonicalAddress } from '../model/address.js';
import { type IcmpSocket, openIcmpSocket } from '../sys/icmp-socket.js';
import { decodeEchoReply, encodeEchoRequest } from './icmp-message.js';
import { describeError, type ProbeResult, probeAsPromise, stopwatch, timeoutReason } from './result.js';

/** `reply`, `timeout`, or the error the send failed with. */
export type EchoOutcome =
  | { readonly kind: 'reply' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'error'; readonly error: unknown };

interface Pending {
  readonly destination: string;
  readonly done: (outcome: EchoOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

interface Pool {
  readonly family: 4 | 6;
  readonly socket: IcmpSocket;
  /** By sequence number. */
  readonly pending: Map<number, Pending>;
}

const IDENTIFIER = randomInt(0x10000);
let sequence = randomInt(0x10000);
const pools = new Map<string, Pool>();
let dropped = 0;

/** Replies dropped since start: not an echo reply, or one that matched no echo in flight. */
export function icmpDroppedReplies(): number {
  return dropped;
}

function poolFor(family: 4 | 6, source: string | null): Pool {
  const key = `${family}|${source ?? ''}`;
  let pool = pools.get(key);
  if (pool !== undefined) return pool;
  const pending = new Map<number, Pending>();
  const socket = openIcmpSocket(
    family,
    source,
    (message, from) => {
      const reply = decodeEchoReply(family, message);
      if (reply.kind !== 'reply' || reply.identifier !== IDENTIFIER) {
        // Other processes' pings come here too; only malformed ones are ours to count.
        if (reply.kind !== 'reply') dropped++;
        return;
      }
      const p = pending.get(reply.sequence);
      if (p === undefined || p.destination !== canonicalAddress(from)) {
        dropped++;
        return;
      }
      settle(pool as Pool, key, reply.sequence, { kind: 'reply' });
    },
    () => {
      // Receive errors (a queued ICMP error) change nothing for echoes in flight: their
      // deadlines still end them.
    },
  );
  pool = { family, socket, pending };
  pools.set(key, pool);
  return pool;
}

function settle(pool: Pool, key: string, seq: number, outcome: EchoOutcome): void {
  const p = pool.pending.get(seq);
  if (p === undefined) return;
  pool.pending.delete(seq);
  clearTimeout(p.timer);
  closeIfIdle(pool, key);
  p.done(outcome);
}

function closeIfIdle(pool: Pool, key: string): void {
  if (pool.pending.size > 0) return;
  pools.delete(key);
  pool.socket.close();
}

/** One echo to `destination` (from `source`, if given); see the module comment. */
export function sendEcho(
  destination: string,
  source: string | null,
  timeoutMs: number,
  done: (outcome: EchoOutcome) => void,
): () => void {
  const family = isIPv6(destination) ? 6 : 4;
  const key = `${family}|${source ?? ''}`;
  let pool: Pool;
  try {
    pool = poolFor(family, source);
  } catch (error) {
    let cancelled = false;
    queueMicrotask(() => {
      if (!cancelled) done({ kind: 'error', error });
    });
    return () => {
      cancelled = true;
    };
  }
  // A sequence number not in flight on this socket (65536 of them; more in flight is absurd).
  do sequence = (sequence + 1) & 0xffff;
  while (pool.pending.has(sequence));
  const seq = sequence;
  const timer = setTimeout(() => settle(pool, key, seq, { kind: 'timeout' }), timeoutMs);
  pool.pending.set(seq, { destination: canonicalAddress(destination), done, timer });
  try {
    pool.socket.send(encodeEchoRequest(family, IDENTIFIER, seq), destination);
  } catch (error) {
    queueMicrotask(() => settle(pool, key, seq, { kind: 'error', error }));
  }
  return () => {
    const p = pool.pending.get(seq);
    if (p === undefined) return;
    pool.pending.delete(seq);
    clearTimeout(p.timer);
    closeIfIdle(pool, key);
  };
}

export type PingProbeCheck = Pick<PingCheck, 'connectIp' | 'bindIp' | 'timeoutMs'>;

export function startPingProbe(check: PingProbeCheck, done: (result: ProbeResult) => void): () => void {
  const elapsed = stopwatch();
  return sendEcho(check.connectIp, check.bindIp, check.timeoutMs, (outcome) => {
    const latencyMs = elapsed();
    switch (outcome.kind) {
      case 'reply':
        return done({ ok: true, latencyMs, reason: 'echo reply' });
      case 'timeout':
        return done({ ok: false, latencyMs, reason: timeoutReason(check.timeoutMs, 'no echo reply') });
      case 'error':
        return done({ ok: false, latencyMs, reason: describeError(outcome.error) });
    }
  });
}

export function probePing(check: PingProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  return probeAsPromise(startPingProbe, check, signal);
}
