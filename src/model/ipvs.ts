/**
 * The IPVS table as plain data: what the config asks for, what the kernel holds, and the
 * operations that turn one into the other. No behaviour lives here beyond keys and formatting,
 * so every layer (config, director, ipvs, cli) can share these types without importing each other.
 */

export type Family = 'inet' | 'inet6';
export type Protocol = 'tcp' | 'udp' | 'sctp';
/** `local` is what the kernel reports for a destination that is one of the director's own addresses. */
export type Forwarding = 'nat' | 'dr' | 'tun' | 'local';

/**
 * The IPVS schedulers: every ip_vs_*.ko scheduler module of the kernel (and of a stock Debian kernel),
 * by the name IPVS_SVC_ATTR_SCHED_NAME carries.
 */
export const SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'fo',
  'ovf',
  'mh',
  'twos',
] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

/** A service is found either by (protocol, address, port) or by firewall mark, per address family. */
export type ServiceKey =
  | {
      readonly family: Family;
      readonly protocol: Protocol;
      readonly address: string;
      readonly port: number;
      readonly fwmark: null;
    }
  | {
      readonly family: Family;
      readonly protocol: null;
      readonly address: null;
      readonly port: null;
      readonly fwmark: number;
    };

export interface Persistence {
  readonly timeoutS: number;
  /** Dotted quad for inet (`255.255.255.255`), prefix length for inet6 (`128`). */
  readonly netmask: string;
}

/** The netmask of a persistent service that names none: every client address on its own. */
export const DEFAULT_NETMASK: Readonly<Record<Family, string>> = { inet: '255.255.255.255', inet6: '128' };

export interface VirtualService {
  readonly key: ServiceKey;
  readonly scheduler: string;
  readonly persistence: Persistence | null;
  /**
   * IP_VS_SVC_F_* flags other than PERSISTENT (derived from `persistence`) and HASHED (kernel-internal):
   * ONEPACKET and the SCHED1..3 scheduler flags (sh-fallback, sh-port, mh-fallback, mh-port).
   */
  readonly flags: number;
}

export interface DestinationKey {
  readonly address: string;
  readonly port: number;
}

export interface Destination extends DestinationKey {
  readonly forwarding: Forwarding;
  readonly weight: number;
  /** 0 means no limit. */
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
}

export interface DesiredService extends VirtualService {
  readonly destinations: readonly Destination[];
}

export interface IpvsStats {
  readonly conns: number;
  readonly inPackets: number;
  readonly outPackets: number;
  readonly inBytes: number;
  readonly outBytes: number;
  readonly cps: number;
  readonly inPps: number;
  readonly outPps: number;
  readonly inBps: number;
  readonly outBps: number;
}

/** Counters of a service or destination nobody has used yet (and after ZERO). */
export const ZERO_STATS: IpvsStats = {
  conns: 0,
  inPackets: 0,
  outPackets: 0,
  inBytes: 0,
  outBytes: 0,
  cps: 0,
  inPps: 0,
  outPps: 0,
  inBps: 0,
  outBps: 0,
};

export interface DestinationState extends Destination {
  readonly activeConns: number;
  readonly inactiveConns: number;
  readonly persistConns: number;
  readonly stats: IpvsStats;
}

export interface ServiceState extends VirtualService {
  readonly stats: IpvsStats;
  readonly destinations: readonly DestinationState[];
}

export interface IpvsTimeouts {
  readonly tcpS: number;
  readonly tcpFinS: number;
  readonly udpS: number;
}

/** One kernel change. Edits are in place (SET_SERVICE / SET_DEST) so live connections survive. */
export type IpvsOperation =
  | { readonly kind: 'add-service'; readonly service: VirtualService }
  | { readonly kind: 'edit-service'; readonly service: VirtualService }
  | { readonly kind: 'delete-service'; readonly key: ServiceKey }
  | { readonly kind: 'add-destination'; readonly key: ServiceKey; readonly destination: Destination }
  | { readonly kind: 'edit-destination'; readonly key: ServiceKey; readonly destination: Destination }
  | { readonly kind: 'delete-destination'; readonly key: ServiceKey; readonly destination: DestinationKey }
  | { readonly kind: 'set-timeouts'; readonly timeouts: IpvsTimeouts };

export function addressService(
  family: Family,
  protocol: Protocol,
  address: string,
  port: number,
): ServiceKey {
  return { family, protocol, address, port, fwmark: null };
}

export function fwmarkService(family: Family, fwmark: number): ServiceKey {
  return { family, protocol: null, address: null, port: null, fwmark };
}

/** Formats an address with its port the way operators write it: `192.0.2.1:80`, `[2001:db8::1]:80`. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The stable string form of a service key, also the `VS` argument of the CLI:
 * `tcp/203.0.113.100:80`, `udp/[2001:db8::1]:53`, `fwmark/7` (inet) or `fwmark6/7` (inet6).
 */
export function serviceKeyString(key: ServiceKey): string {
  if (key.fwmark !== null) return key.family === 'inet6' ? `fwmark6/${key.fwmark}` : `fwmark/${key.fwmark}`;
  return `${key.protocol}/${hostPort(key.address, key.port)}`;
}

export function destinationKeyString(dest: DestinationKey): string {
  return hostPort(dest.address, dest.port);
}
