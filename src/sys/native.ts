/**
 * Loads ipvsd's N-API addon (native/, built by `npm ci` through node-gyp into
 * build/Release/ipvsd_native.node) and describes what it exports. Only src/sys/ touches the addon
 * (DESIGN §3); everything else uses the typed wrappers next to this file. The addon is loaded on
 * first use, so commands that never need it (ipvsctl, a daemon outside systemd) run without it.
 *
 * The addon throws nothing but JavaScript errors: argument mistakes as TypeError, failed system
 * calls as NativeErrnoError (below).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpvsdError } from '../errors.js';

/** What a failed system call in the addon throws: `errno` is positive (2 for ENOENT). */
export interface NativeErrnoError extends Error {
  readonly errno: number;
  /** The errno's name, as Node's own system errors spell it: 'ENOENT', 'EAGAIN'. */
  readonly code: string;
  readonly syscall: string;
}

/** Options of the native VrrpSocket constructor; src/sys/vrrp-socket.ts fills them in. */
export interface NativeVrrpSocketOptions {
  readonly family: 4 | 6;
  readonly ifname: string;
  /** TTL / hop limit of what the socket sends, unicast and multicast: 1 to 255. */
  readonly hopLimit: number;
  /** The multicast group joined (and sent to by default); default 224.0.0.18 / ff02::12. */
  readonly group?: string;
}

/**
 * One received packet. `payload` is the VRRP message (for IPv4 the IP header is already cut
 * off). `ttl` is the IPv4 TTL or IPv6 hop limit the packet arrived with (-1 if the kernel gave
 * none). Addresses are inet_ntop(3) text; `destination` is '' if the kernel gave none.
 * `receivedAt` is the kernel's receive timestamp (SO_TIMESTAMPNS: CLOCK_REALTIME, ms since the
 * epoch with a fraction), undefined if the packet carried none.
 */
export type NativeVrrpPacketCallback = (
  payload: Buffer,
  source: string,
  destination: string,
  ttl: number,
  ifindex: number,
  receivedAt: number | undefined,
) => void;

/** An open raw IPPROTO_VRRP socket (native/src/vrrp_socket.cc). */
export interface NativeVrrpSocket {
  /** The interface index the socket is bound to. */
  readonly ifindex: number;
  /**
   * Packets the kernel dropped on this socket since it was opened (its receive queue was full),
   * as last reported with a received packet (SO_RXQ_OVFL). Drops after the last packet read show
   * with the next one.
   */
  readonly drops: number;
  /**
   * One datagram to `destination` (unicast or the VRRP group); `source` pins the source address
   * (IP_PKTINFO / IPV6_PKTINFO; it must be local), else the kernel picks it. Throws
   * NativeErrnoError (EBADF once closed) or TypeError.
   */
  send(payload: Uint8Array, destination: string, source?: string): void;
  /**
   * Reads every packet the kernel has queued now and calls onPacket for each before returning
   * (as a poll wakeup would). Nothing once closed. Throws nothing: callback errors go to onError.
   */
  receivePending(): void;
  /** Stops receiving and closes the descriptor; no callback runs afterwards. Idempotent. */
  close(): void;
}

/**
 * Batched half-open TCP connect checks and exchanges (native/src/tcp_connect.cc). Results are
 * written as records of 3 doubles (id, code, latencyMs) into the Float64Array given to the
 * constructor, then `onResults(count, chunks)` is called: code 0 = connected (then reset), > 0 =
 * the errno the check failed with, -1 = the deadline passed; an exchange's codes (its bytes come
 * as records of code -3, each with the next Buffer of `chunks`) are in src/sys/tcp-connect.ts.
 */
export interface NativeTcpConnector {
  /**
   * Starts a non-blocking connect; with `payload`, an exchange. Returns 0 when it is in flight
   * (exactly one result follows, unless cancelled), -1 when a connect check connected at once, or
   * an errno when it failed at once (no result follows either way). `id` (below 2^20) must not be
   * in flight. Throws TypeError on bad arguments.
   */
  start(
    id: number,
    address: string,
    port: number,
    source: string | null,
    timeoutMs: number,
    payload?: Uint8Array,
  ): number;
  /** Resets the connection of a check in flight; no result follows. False if none was. */
  cancel(id: number): boolean;
  /** Closes every socket and stops; no callback runs afterwards. Idempotent. */
  close(): void;
  readonly inFlight: number;
}

/** An open raw ICMP / ICMPv6 socket that passes echo replies only (native/src/icmp_socket.cc). */
export interface NativeIcmpSocket {
  /** One ICMP message (header included) to `destination`. Throws NativeErrnoError or TypeError. */
  send(message: Uint8Array, destination: string): void;
  /** Stops receiving and closes the descriptor; no callback runs afterwards. Idempotent. */
  close(): void;
}

export interface NativeAddon {
  /**
   * Opens a raw ICMP (family 4) or ICMPv6 (6) socket, bound to `source` if given, and polls it on
   * the event loop. `onPacket` gets each echo reply's ICMP message (the IPv4 header cut off) and
   * its source address; with `unreachable`, each destination unreachable message instead. Throws
   * NativeErrnoError (EPERM without CAP_NET_RAW) or TypeError.
   */
  IcmpSocket: new (
    options: { readonly family: 4 | 6; readonly source?: string; readonly unreachable?: boolean },
    onPacket: (message: Buffer, source: string) => void,
    onError: (error: Error) => void,
  ) => NativeIcmpSocket;
  /**
   * Sends `message` as one datagram over AF_UNIX SOCK_DGRAM to `socketPath` (an absolute path,
   * or '@name' for the abstract namespace), as sd_notify(3) does. Throws NativeErrnoError.
   */
  sdNotify(socketPath: string, message: string): void;
  /**
   * Opens a raw IPPROTO_VRRP (112) socket bound to `ifname`, joined to 224.0.0.18 / ff02::12 there,
   * and polls it on the event loop. Throws NativeErrnoError (ENODEV for an unknown interface,
   * EPERM without CAP_NET_RAW) or TypeError. A JavaScript exception from `onPacket` is caught
   * and passed to `onError`; one from `onError` is dropped. Receive errors go to `onError` too.
   */
  VrrpSocket: new (
    options: NativeVrrpSocketOptions,
    onPacket: NativeVrrpPacketCallback,
    onError: (error: Error) => void,
  ) => NativeVrrpSocket;
  /**
   * One gratuitous ARP request (sender IP = target IP = `address`, the interface's MAC, to
   * broadcast) over AF_PACKET. Throws NativeErrnoError (code ENOTSUP on a non-Ethernet link).
   */
  sendGratuitousArp(ifname: string, address: string): void;
  /**
   * One unsolicited Neighbor Advertisement for `address` to ff02::1 (Override set, Router as
   * given, the interface's MAC as target link-layer address, hop limit 255) over a raw ICMPv6
   * socket; `source` pins the source address, else the kernel picks one. Throws NativeErrnoError.
   */
  sendUnsolicitedNa(ifname: string, address: string, router: boolean, source?: string): void;
  /**
   * `results` must hold at least 6 doubles (use a few thousand: it is the batch size, and a large
   * buffer lives outside the V8 heap, where its address never moves).
   */
  TcpConnector: new (
    results: Float64Array,
    onResults: (count: number, chunks: Buffer[]) => void,
  ) => NativeTcpConnector;
  /**
   * A listening socket (SOCK_CLOEXEC, non-blocking) on a Unix path or a numeric address and port,
   * made here so that Node can listen on dups of it and stop accepting without losing the backlog
   * (native/src/listen_fd.cc). Returns the descriptor. Throws NativeErrnoError (EADDRINUSE, EACCES).
   */
  listenSocket(
    endpoint: { readonly path: string } | { readonly address: string; readonly port: number },
    backlog: number,
  ): number;
  /** fcntl(F_DUPFD_CLOEXEC). Throws NativeErrnoError (EMFILE). */
  dupFd(fd: number): number;
  closeFd(fd: number): void;
  /** prctl(PR_SET_CHILD_SUBREAPER, 1) (native/src/subreaper.cc). Throws NativeErrnoError. */
  setChildSubreaper(): void;
  /**
   * waitpid(pid, WNOHANG): true once pid is no more our child (reaped now, or ECHILD). Never for
   * a pid that child_process spawned: libuv waits for those itself.
   */
  reapChild(pid: number): boolean;
}

const ADDON_FILE = join('build', 'Release', 'ipvsd_native.node');

let cached: NativeAddon | undefined;

/**
 * The addon, loaded once. Throws IpvsdError when it is missing or does not load. Callers that must
 * never throw (sd_notify) catch this and turn it into a value.
 */
export function loadNative(): NativeAddon {
  if (cached !== undefined) return cached;
  const file = findAddon(dirname(fileURLToPath(import.meta.url)));
  if (file === undefined) {
    throw new IpvsdError(
      'IPVSD_ERR_INTERNAL',
      `ipvsd's native addon (${ADDON_FILE}) is missing: run \`npm ci\` (it builds the addon with node-gyp; \`npm run build:native\` rebuilds it alone)`,
    );
  }
  try {
    cached = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (cause) {
    throw new IpvsdError(
      'IPVSD_ERR_INTERNAL',
      `ipvsd's native addon ${file} did not load: ${(cause as Error).message}; rebuild it with \`npm run build:native\``,
      { cause },
    );
  }
  return cached;
}

/** True for errors thrown by a failed system call in the addon. */
export function isNativeErrnoError(error: unknown): error is NativeErrnoError {
  return (
    error instanceof Error &&
    typeof (error as Partial<NativeErrnoError>).errno === 'number' &&
    typeof (error as Partial<NativeErrnoError>).code === 'string'
  );
}

/**
 * The package root holds build/: it is two levels above src/sys/ when running from source
 * (tests) and three above dist/src/sys/ when running compiled. Walk up rather than guess.
 */
function findAddon(startDir: string): string | undefined {
  let dir = startDir;
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}
