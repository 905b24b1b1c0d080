/**
 * ICMP destination unreachable for the UDP check, as keepalived gets it with IP_RECVERR
 * (keepalived/core/layer4.c udp_bind_connect, udp_socket_error: any ICMP_DEST_UNREACH /
 * ICMPV6_DEST_UNREACH fails the check). Node's dgram sockets cannot set IP_RECVERR, and without
 * it Linux reports only port unreachable on a connected UDP socket, so host and network
 * unreachable are read here instead: from a raw ICMP socket that passes destination unreachable
 * only (src/sys/icmp-socket.ts), one per family, open while any UDP check waits, matched to the
 * check by the quoted datagram's addresses and ports. Messages that do not decode or match
 * nothing are counted and dropped. Without CAP_NET_RAW (a one-off check as a user) nothing is
 * watched and the check falls back to what the socket itself reports.
 */

import { canonicalAddress } from '../model/address.js';
import type { IcmpSocket } from '../sys/icmp-socket.js';
import { openIcmpSocket } from '../sys/icmp-socket.js';
import { decodeUdpUnreachable } from './icmp-message.js';

export interface UdpFlow {
  readonly source: string;
  readonly sourcePort: number;
  readonly destination: string;
  readonly destinationPort: number;
}

interface Pool {
  readonly socket: IcmpSocket;
  readonly watchers: Map<string, (code: number) => void>;
}

const pools = new Map<4 | 6, Pool>();
let dropped = 0;

/** Unreachable messages dropped since start: malformed, or about no UDP check in flight. */
export function udpUnreachableDropped(): number {
  return dropped;
}

function flowKey(f: UdpFlow): string {
  return `${canonicalAddress(f.source)}|${f.sourcePort}|${canonicalAddress(f.destination)}|${f.destinationPort}`;
}

function poolFor(family: 4 | 6): Pool | null {
  let pool = pools.get(family);
  if (pool !== undefined) return pool;
  const watchers = new Map<string, (code: number) => void>();
  let socket: IcmpSocket;
  try {
    socket = openIcmpSocket(
      family,
      null,
      (message) => {
        const u = decodeUdpUnreachable(family, message);
        const watcher = u === null ? undefined : watchers.get(flowKey(u));
        if (u === null || watcher === undefined) {
          dropped++;
          return;
        }
        watcher(u.code);
      },
      () => {},
      true,
    );
  } catch {
    return null;
  }
  pool = { socket, watchers };
  pools.set(family, pool);
  return pool;
}

/**
 * Calls `onUnreachable(code)` if an ICMP destination unreachable about `flow` arrives before the
 * returned function is called. Returns a no-op when no raw socket can be opened.
 */
export function watchUdpUnreachable(
  family: 4 | 6,
  flow: UdpFlow,
  onUnreachable: (code: number) => void,
): () => void {
  const pool = poolFor(family);
  if (pool === null) return () => {};
  const key = flowKey(flow);
  pool.watchers.set(key, onUnreachable);
  return () => {
    if (pool.watchers.get(key) !== onUnreachable) return;
    pool.watchers.delete(key);
    if (pool.watchers.size === 0 && pools.get(family) === pool) {
      pools.delete(family);
      pool.socket.close();
    }
  };
}
