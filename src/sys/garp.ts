/**
 * Address announcements after a VRRP takeover: a gratuitous ARP request for an IPv4 virtual
 * address, an unsolicited Neighbor Advertisement (Override set) for an IPv6 one, each sent once
 * on one interface with that interface's MAC (native/src/garp.cc says why each field is what it
 * is). Bursts, repeats and delays are the caller's business.
 *
 * Nothing here throws: takeover runs from timers, and a failed announcement (link down, address
 * of the wrong family) is returned as an Error value for the caller to log and count.
 * Receivers: Linux updates an existing neighbour entry from either; it creates a new entry from a
 * gratuitous ARP only with arp_accept=1, and from an unsolicited NA only on a router
 * (forwarding=1) with accept_untracked_na set.
 */
import { IpvsdError } from '../errors.js';
import { parseIp } from './ip-address.js';
import { loadNative, type NativeAddon } from './native.js';

export interface NeighbourAdvertOptions {
  /**
   * The Router flag. Set it when this node forwards IPv6 on the interface (as keepalived does):
   * an advert with R=0 from a router makes hosts drop it from their default router lists.
   */
  readonly router?: boolean;
  /** Source address (must be local); default: the kernel picks, normally the link-local one. */
  readonly source?: string;
}

export interface GarpDeps {
  /** Defaults to the native addon. */
  readonly native?: Pick<NativeAddon, 'sendGratuitousArp' | 'sendUnsolicitedNa'>;
}

/** One gratuitous ARP request for `address` (IPv4) on `ifname`. */
export function sendGratuitousArp(ifname: string, address: string, deps: GarpDeps = {}): Error | undefined {
  const parsed = parseIp(address);
  if (parsed === null || parsed.family !== 'inet') {
    return new IpvsdError(
      'IPVSD_ERR_USAGE',
      `gratuitous ARP: ${JSON.stringify(address)} is not an IPv4 address`,
    );
  }
  return attempt(() => (deps.native ?? loadNative()).sendGratuitousArp(ifname, parsed.address));
}

/** One unsolicited Neighbor Advertisement for `address` (IPv6) on `ifname`, to ff02::1. */
export function sendUnsolicitedNa(
  ifname: string,
  address: string,
  options: NeighbourAdvertOptions = {},
  deps: GarpDeps = {},
): Error | undefined {
  const parsed = parseIp(address);
  if (parsed === null || parsed.family !== 'inet6') {
    return new IpvsdError(
      'IPVSD_ERR_USAGE',
      `neighbour advertisement: ${JSON.stringify(address)} is not an IPv6 address`,
    );
  }
  let source: string | undefined;
  if (options.source !== undefined) {
    const parsedSource = parseIp(options.source);
    if (parsedSource === null || parsedSource.family !== 'inet6') {
      return new IpvsdError(
        'IPVSD_ERR_USAGE',
        `neighbour advertisement: source ${JSON.stringify(options.source)} is not an IPv6 address`,
      );
    }
    source = parsedSource.address;
  }
  return attempt(() =>
    (deps.native ?? loadNative()).sendUnsolicitedNa(ifname, parsed.address, options.router ?? false, source),
  );
}

/** The announcement that fits the address's family: gratuitous ARP or unsolicited NA. */
export function announceAddress(
  ifname: string,
  address: string,
  options: NeighbourAdvertOptions = {},
  deps: GarpDeps = {},
): Error | undefined {
  return parseIp(address)?.family === 'inet6'
    ? sendUnsolicitedNa(ifname, address, options, deps)
    : sendGratuitousArp(ifname, address, deps);
}

function attempt(send: () => void): Error | undefined {
  try {
    send();
    return undefined;
  } catch (error) {
    return error instanceof Error
      ? error
      : new IpvsdError('IPVSD_ERR_INTERNAL', `address announcement failed: ${String(error)}`);
  }
}
