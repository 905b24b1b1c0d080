/**
 * The VRRP transport: one raw IPPROTO_VRRP (112) socket per interface and address family, from
 * the native addon (native/src/vrrp_socket.cc), which joins 224.0.0.18 or ff02::12 on the
 * interface, sends with TTL / hop limit 255 and receives on Node's event loop. This module only
 * shapes that into values and guards the callbacks; parsing, checksums and every decision about a
 * packet belong to the VRRP codec and state machine.
 *
 * The callbacks run on the event loop's poll phase. Keep them tiny (hand the packet to a queue or
 * a pure function): nothing thrown from them escapes — a throw from onPacket becomes an
 * IpvsdError(IPVSD_ERR_INTERNAL) passed to onError, and a throw from onError is dropped — but a
 * slow one delays every other socket and timer. send() and close() never throw either: send()
 * returns its failure as a value, because it runs from timers (DESIGN §4).
 *
 * Checksums: VRRP v3 covers a pseudo-header with the source address, so a caller that lets the
 * kernel pick the source must compute the checksum over the address the kernel will pick (the
 * interface's primary IPv4 address, or its IPv6 link-local address for ff02::12). Pinning it with
 * `sourceAddress` removes the guesswork.
 */
import { IpvsdError } from '../errors.js';
import { canonicalAddress } from '../model/address.js';
import type { Family } from '../model/ipvs.js';
import { parseIp } from './ip-address.js';
import { loadNative, type NativeAddon, type NativeVrrpPacketCallback } from './native.js';

/** RFC 5798 §5.1.1.2 and §5.1.2.2. */
export const VRRP_GROUP_INET = '224.0.0.18';
export const VRRP_GROUP_INET6 = 'ff02::12';
/** RFC 5798 §5.1.1.3: sent with 255, and anything received with less was routed: drop it. */
export const VRRP_TTL = 255;

export interface VrrpPacket {
  /** The VRRP message: version/type byte onward (no IP header). */
  readonly payload: Buffer;
  /** Canonical text of the IP source address (link-local for IPv6 multicast adverts). */
  readonly source: string;
  /** The IP destination: the VRRP group, or our own address for unicast adverts. */
  readonly destination: string;
  /** IPv4 TTL or IPv6 hop limit as received; -1 if the kernel gave none. */
  readonly ttl: number;
  /** Index of the interface the packet arrived on. */
  readonly ifindex: number;
  /**
   * When the kernel received the packet: wall-clock ms since the epoch (CLOCK_REALTIME, as
   * Date.now(), with a fraction). Undefined when unknown (the kernel gave no timestamp): use
   * the time the packet was read instead. Being wall-clock time, it jumps with clock steps.
   */
  readonly receivedAt?: number;
}

export interface VrrpSocketOptions {
  readonly family: Family;
  /** The interface the instance runs on; the socket only sees and sends on this one. */
  readonly ifname: string;
  /** Called for every packet; keep it tiny and non-throwing. */
  readonly onPacket: (packet: VrrpPacket) => void;
  /** Receive errors (errno-bearing) and anything onPacket threw. */
  readonly onError: (error: Error) => void;
  /**
   * Source address of everything sent (it must be local; e.g. unicast_src_ip). Default: the
   * kernel picks — the primary IPv4 address of the interface, or the IPv6 address that fits the
   * destination's scope (link-local for ff02::12).
   */
  readonly sourceAddress?: string;
  /**
   * TTL / hop limit of what is sent. 255 is what VRRP requires; anything else only exists so that
   * tests can send adverts that a receiver must drop.
   */
  readonly hopLimit?: number;
  /**
   * The multicast group to join and send to (keepalived's vrrp_mcast_group4/6), of `family`.
   * Default 224.0.0.18 / ff02::12.
   */
  readonly group?: string;
}

export interface VrrpSocket {
  readonly family: Family;
  readonly ifname: string;
  readonly ifindex: number;
  /** The VRRP multicast group of this family: send()'s default destination. */
  readonly group: string;
  readonly closed: boolean;
  /**
   * Sends one VRRP message (no IP header) to `destination` (default: the group; a unicast peer
   * otherwise). Returns undefined on success, else the error (errno-bearing from the kernel,
   * e.g. ENETDOWN, ENETUNREACH, EADDRNOTAVAIL for a pinned source that is not local).
   */
  send(payload: Uint8Array, destination?: string): Error | undefined;
  /**
   * Delivers, synchronously through onPacket, whatever the kernel has queued for this socket
   * (libuv would only get to it in its next poll phase, after the expired timers). Never throws;
   * nothing once closed.
   */
  receivePending(): void;
  /**
   * Packets the kernel dropped on this socket since it was opened because its receive queue was
   * full (SO_RXQ_OVFL: as of the last packet read). Kept after close().
   */
  drops(): number;
  /**
   * Stops delivery at once (no callback runs afterwards) and closes the socket. Idempotent. Until
   * then the socket keeps the event loop (and so the process) alive, as a listening server does.
   */
  close(): void;
}

export interface VrrpSocketDeps {
  /** Defaults to the native addon. */
  readonly native?: Pick<NativeAddon, 'VrrpSocket'>;
}

/**
 * Opens the socket. Throws IpvsdError(IPVSD_ERR_USAGE) for bad options, IpvsdError when the addon
 * is missing, and the addon's errno-bearing error when the kernel refuses (ENODEV: no such
 * interface; EPERM: no CAP_NET_RAW).
 */
export function openVrrpSocket(options: VrrpSocketOptions, deps: VrrpSocketDeps = {}): VrrpSocket {
  const { family, ifname, onPacket, onError } = options;
  if (family !== 'inet' && family !== 'inet6') {
    throw new IpvsdError(
      'IPVSD_ERR_USAGE',
      `VRRP socket: family must be inet or inet6, not ${String(family)}`,
    );
  }
  if (typeof ifname !== 'string' || ifname === '') {
    throw new IpvsdError('IPVSD_ERR_USAGE', 'VRRP socket: an interface name is required');
  }
  const hopLimit = options.hopLimit ?? VRRP_TTL;
  if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > 255) {
    throw new IpvsdError('IPVSD_ERR_USAGE', `VRRP socket: hop limit must be 1 to 255, not ${hopLimit}`);
  }
  let sourceAddress: string | undefined;
  if (options.sourceAddress !== undefined) {
    const parsed = parseIp(options.sourceAddress);
    if (parsed === null || parsed.family !== family) {
      throw new IpvsdError(
        'IPVSD_ERR_USAGE',
        `VRRP socket: source address ${JSON.stringify(options.sourceAddress)} is not an ${family === 'inet' ? 'IPv4' : 'IPv6'} address`,
      );
    }
    sourceAddress = parsed.address;
  }
  let group = family === 'inet' ? VRRP_GROUP_INET : VRRP_GROUP_INET6;
  if (options.group !== undefined) {
    const parsed = parseIp(options.group);
    if (parsed === null || parsed.family !== family) {
      throw new IpvsdError(
        'IPVSD_ERR_USAGE',
        `VRRP socket: group ${JSON.stringify(options.group)} is not an ${family === 'inet' ? 'IPv4' : 'IPv6'} address`,
      );
    }
    group = parsed.address;
  }

  const report = (error: Error): void => {
    try {
      onError(error);
    } catch {
      // The error handler itself failed: there is nowhere left to report to.
    }
  };
  const deliver: NativeVrrpPacketCallback = (payload, source, destination, ttl, ifindex, receivedAt) => {
    try {
      onPacket({
        payload,
        source: inetNtopToCanonical(source),
        destination: inetNtopToCanonical(destination),
        ttl,
        ifindex,
        ...(receivedAt === undefined ? {} : { receivedAt }),
      });
    } catch (cause) {
      report(
        new IpvsdError('IPVSD_ERR_INTERNAL', `VRRP packet handler on ${ifname} threw: ${String(cause)}`, {
          cause,
        }),
      );
    }
  };

  const Native = (deps.native ?? loadNative()).VrrpSocket;
  const handle = new Native(
    {
      family: family === 'inet' ? 4 : 6,
      ifname,
      hopLimit,
      ...(options.group !== undefined ? { group } : {}),
    },
    deliver,
    report,
  );
  let closed = false;
  let dropsAtClose = 0;
  const readDrops = (): number => {
    try {
      const n = handle.drops;
      return typeof n === 'number' && Number.isFinite(n) ? n : 0;
    } catch {
      return 0;
    }
  };

  return {
    family,
    ifname,
    ifindex: handle.ifindex,
    group,
    get closed() {
      return closed;
    },
    send(payload, destination = group) {
      if (closed) {
        return new IpvsdError('IPVSD_ERR_INTERNAL', `VRRP socket on ${ifname} is closed`);
      }
      try {
        handle.send(payload, destination, sourceAddress);
        return undefined;
      } catch (error) {
        return error instanceof Error
          ? error
          : new IpvsdError('IPVSD_ERR_INTERNAL', `VRRP send on ${ifname} failed: ${String(error)}`);
      }
    },
    receivePending() {
      if (closed) return;
      try {
        handle.receivePending();
      } catch (error) {
        // The addon throws nothing here; should it, the packets wait for the next poll.
        report(error instanceof Error ? error : new Error(String(error)));
      }
    },
    drops() {
      return closed ? dropsAtClose : readDrops();
    },
    close() {
      if (closed) return;
      dropsAtClose = readDrops();
      closed = true;
      try {
        handle.close();
      } catch {
        // The native close only releases; it has nothing to throw. Stay safe regardless.
      }
    },
  };
}

/**
 * glibc's inet_ntop already writes RFC 5952 text for everything VRRP sees; only IPv4-compatible
 * forms (`::192.0.2.1`) differ from the model's canonical text. The check keeps the hot path cheap.
 */
function inetNtopToCanonical(address: string): string {
  return address.includes(':') && address.includes('.') ? canonicalAddress(address) : address;
}
