/**
 * Interface addresses over rtnetlink (NETLINK_ROUTE), for the VIPs that VRRP adds and removes, and
 * host routes for the VIPs it announces: unicast ones in a table of ipvsd's own (a routing daemon
 * exports them) and `local` ones in the kernel's table local (they make the VIP local).
 * It works in whatever network namespace the process runs in, and needs CAP_NET_ADMIN to change
 * anything. Requests go out one at a time on one socket: node-netlink keeps a single
 * multipart-reassembly buffer per socket and the kernel refuses a second dump while one is running
 * (EBUSY), so interleaving would corrupt dumps. Every failure surfaces as a NetlinkError (errno
 * kept) whose message says which address and interface were involved; the listeners we put on
 * node-netlink's socket only store or reject, because a throw inside them aborts the process.
 */
import { createRtNetlink, FlagsNew, type RtNetlinkSocket, rt } from 'netlink';
import { IpvsdError, NetlinkError } from '../errors.js';
import type { Family } from '../model/ipvs.js';
import {
  type AddressBatch,
  type AddressBatchResult,
  type AddressToAdd,
  createAddressBatch,
} from './address-batch.js';
import { formatIp, ipv4Broadcast, type ParsedCidr, parseCidr } from './ip-address.js';
import { isErrno, toNetlinkError } from './netlink-errors.js';

/** <linux/socket.h> */
export const AF_INET = 2;
export const AF_INET6 = 10;
/** <linux/if.h>: IFNAMSIZ including the terminating NUL. */
const IFNAMSIZ = 16;

export interface InterfaceAddress {
  readonly ifname: string;
  readonly ifindex: number;
  readonly family: Family;
  /** Canonical text (RFC 5952 for IPv6), without prefix. */
  readonly address: string;
  readonly prefixLength: number;
  /** IPv4 only (IFA_LABEL); IPv6 addresses have none. */
  readonly label?: string;
  /** RT_SCOPE_*: 0 global, 200 site, 253 link, 254 host. */
  readonly scope: number;
  /** IPv4: a further address in an already configured subnet (IFA_F_SECONDARY). */
  readonly secondary: boolean;
  /** IPv6: still in duplicate address detection, not yet usable (IFA_F_TENTATIVE). */
  readonly tentative: boolean;
  /** IPv6: duplicate address detection failed (IFA_F_DADFAILED). */
  readonly dadFailed: boolean;
}

export interface AddAddressOptions {
  /** IPv4 only: `eth0` or `eth0:something`, at most 15 characters (as iproute2 requires). */
  readonly label?: string;
  /** IPv4: also set the broadcast address (host bits all ones), like `ip addr add … brd +`. Default true. */
  readonly broadcast?: boolean;
}

/** A host route (/32 or /128) as a route dump shows it. */
export interface HostRoute {
  readonly family: Family;
  /** Canonical text. */
  readonly address: string;
  readonly table: number;
  /** rtm_protocol: who made it. */
  readonly protocol: number;
  /** RTN_*: 1 unicast, 6 blackhole, … */
  readonly type: number;
  /** The output interface, when the route has one. */
  readonly ifindex: number | null;
}

/** What makes a host route ipvsd's: its table and protocol. */
export interface HostRouteKey {
  readonly address: string;
  readonly table: number;
  readonly protocol: number;
  /**
   * `unicast` (default): a route out of the interface, scope link. `local` (RTN_LOCAL, scope host,
   * as `ip route add local …` makes): packets to the address are delivered to this host, as to an
   * address of its own, without the address being on an interface.
   */
  readonly type?: 'unicast' | 'local';
}

export interface RtnetlinkOptions {
  /** How long to wait for the kernel's answer to one request. Default 5000. */
  readonly timeoutMs?: number;
}

/** The part of node-netlink's RtNetlinkSocket we use; tests inject a fake. */
export type RtSocket = Pick<
  RtNetlinkSocket,
  | 'getLink'
  | 'getLinks'
  | 'getAddresses'
  | 'newAddress'
  | 'delAddress'
  | 'getRoutes'
  | 'newRoute'
  | 'delRoute'
> & {
  readonly socket: Pick<RtNetlinkSocket['socket'], 'on' | 'close'>;
};

export interface RtnetlinkDeps {
  readonly openSocket?: () => RtSocket;
  /** The socket of addAddressesAtOnce, opened on its first use. */
  readonly openBatch?: () => AddressBatch;
}

export interface Rtnetlink {
  /** The kernel's index of interface `ifname`; NetlinkError ENODEV when there is none. */
  interfaceIndex(ifname: string): Promise<number>;
  /** Every IPv4/IPv6 address, or those of one interface, in kernel order. */
  listAddresses(ifname?: string): Promise<InterfaceAddress[]>;
  /** Whether `ifname` holds the address; with `/len` the prefix length must match too. */
  hasAddress(ifname: string, cidr: string): Promise<boolean>;
  /**
   * Adds `cidr` (no `/len`: /32 or /128) to `ifname`. IPv6 addresses get IFA_F_NODAD so they are
   * usable at once. NetlinkError EEXIST when the interface already holds it.
   */
  addAddress(ifname: string, cidr: string, options?: AddAddressOptions): Promise<void>;
  /** Removes `cidr` from `ifname`. NetlinkError EADDRNOTAVAIL when the interface does not hold it. */
  removeAddress(ifname: string, cidr: string): Promise<void>;
  /**
   * Adds the address unless `ifname` already holds it with this prefix length. Returns true when it
   * added it. Still throws EEXIST when the address is there with another prefix length.
   */
  ensureAddress(ifname: string, cidr: string, options?: AddAddressOptions): Promise<boolean>;
  /** Removes the address if `ifname` holds it. Returns true when it removed it. */
  ensureNoAddress(ifname: string, cidr: string): Promise<boolean>;
  /**
   * Adds every address in one datagram on a second socket, each by interface index: no lookup,
   * no round trip each, not queued behind this socket's requests (./address-batch.ts). For a
   * VRRP takeover; the caller handles EEXIST (say, with ensureAddress). The socket opens on the
   * first call, an empty one included (the speaker opens it at start, off the takeover's path).
   */
  addAddressesAtOnce(addresses: readonly AddressToAdd[]): AddressBatchResult;
  /**
   * The host routes in `table`, of every protocol. The kernel dumps every table (it filters only
   * for sockets with strict checking, which node-netlink does not set): the filter is here.
   */
  listHostRoutes(table: number): Promise<HostRoute[]>;
  /**
   * Adds a host route to `address` (unicast out of `ifname`, or local on it) in `route.table`,
   * marked `route.protocol`. NetlinkError EEXIST when the table already has a route to it of the
   * same kind (of any protocol: never replaced).
   */
  addHostRoute(route: HostRouteKey, ifname: string): Promise<void>;
  /** Removes the host route; the kernel matches the protocol too, so another's route stays. ESRCH when none. */
  removeHostRoute(route: HostRouteKey): Promise<void>;
  /** Closes the socket; pending and later calls reject. Idempotent. */
  close(): void;
}

const ADD_DESCRIPTIONS = {
  EEXIST: 'address already assigned to the interface',
  ENODEV: 'no such interface',
  EACCES: 'permission denied: needs CAP_NET_ADMIN',
  EPERM: 'operation not permitted: needs CAP_NET_ADMIN',
} as const;
const REMOVE_DESCRIPTIONS = {
  EADDRNOTAVAIL: 'address not assigned to the interface',
  ENODEV: 'no such interface',
  EACCES: 'permission denied: needs CAP_NET_ADMIN',
  EPERM: 'operation not permitted: needs CAP_NET_ADMIN',
} as const;
const LOOKUP_DESCRIPTIONS = { ENODEV: 'no such interface' } as const;
const ROUTE_ADD_DESCRIPTIONS = {
  EEXIST: 'the table already has a route to it',
  ENODEV: 'no such interface',
  ENETDOWN: 'the interface is down',
  EPERM: 'operation not permitted: needs CAP_NET_ADMIN',
} as const;
const ROUTE_REMOVE_DESCRIPTIONS = {
  ESRCH: 'no such route',
  EPERM: 'operation not permitted: needs CAP_NET_ADMIN',
} as const;

export function createRtnetlink(options: RtnetlinkOptions = {}, deps: RtnetlinkDeps = {}): Rtnetlink {
  const timeoutMs = options.timeoutMs ?? 5000;
  const sock = (deps.openSocket ?? (() => createRtNetlink() as RtSocket))();
  const requestOptions = { timeout: timeoutMs };

  let closed = false;
  let stop!: (err: Error) => void;
  // Rejected once, on close() or a socket failure; every request races against it.
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  stopped.catch(() => {});
  // Tiny on purpose (§7): a throw here would abort the process. Without this listener
  // node-netlink's re-emitted 'error' event itself would throw.
  sock.socket.on('error', (err) => {
    stop(toNetlinkError(err, 'rtnetlink socket failed'));
  });

  let queue: Promise<unknown> = Promise.resolve();
  /** Runs one kernel request after the previous one settled; maps its failure with `context`. */
  function request<T>(
    context: string,
    descriptions: Readonly<Record<string, string>> | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    const next = queue.then(async () => {
      if (closed) throw new IpvsdError('IPVSD_ERR_NETLINK', `${context}: the rtnetlink socket is closed`);
      try {
        return await Promise.race([run(), stopped]);
      } catch (err) {
        throw toNetlinkError(err, context, undefined, descriptions);
      }
    });
    queue = next.catch(() => {});
    return next;
  }

  function lookupIndex(ifname: string, context: string): Promise<number> {
    checkIfname(ifname, context);
    return request(context, LOOKUP_DESCRIPTIONS, async () => {
      const [link] = await sock.getLink({}, { ifname }, requestOptions);
      const index = link?.data.index;
      if (index === undefined) throw new Error(`the kernel returned no link for ${ifname}`);
      return index;
    });
  }

  async function dumpAddresses(
    filter: { ifname: string; index: number } | null,
  ): Promise<InterfaceAddress[]> {
    const context = filter === null ? 'listing addresses' : `listing addresses of ${filter.ifname}`;
    let names: Map<number, string>;
    if (filter === null) {
      const links = await request(context, undefined, () => sock.getLinks({}, {}, requestOptions));
      names = new Map();
      for (const link of links) {
        if (link.data.index !== undefined)
          names.set(link.data.index, link.attrs.ifname ?? `if${link.data.index}`);
      }
    } else {
      names = new Map([[filter.index, filter.ifname]]);
    }
    // The kernel ignores ifa_index in a dump request unless strict checking is on: filter here.
    const messages = await request(context, undefined, () => sock.getAddresses({}, {}, requestOptions));
    const out: InterfaceAddress[] = [];
    for (const message of messages) {
      if (filter !== null && message.data.index !== filter.index) continue;
      const parsed = toInterfaceAddress(message, names);
      if (parsed !== null) out.push(parsed);
    }
    return out;
  }

  async function addAddress(ifname: string, cidr: string, opts: AddAddressOptions = {}): Promise<void> {
    const target = parseCidr(cidr);
    const context = `adding address ${describeCidr(target)} to ${ifname}`;
    const { data, attrs } = addressRequest(0, target, opts, ifname);
    const index = await lookupIndex(ifname, context);
    await request(context, ADD_DESCRIPTIONS, () =>
      sock.newAddress({ ...data, index }, attrs, {
        ...requestOptions,
        flags: FlagsNew.CREATE | FlagsNew.EXCL,
      }),
    );
  }

  async function removeAddress(ifname: string, cidr: string): Promise<void> {
    const target = parseCidr(cidr);
    const context = `removing address ${describeCidr(target)} from ${ifname}`;
    const index = await lookupIndex(ifname, context);
    const { data, attrs } = removeAddressRequest(index, target);
    await request(context, REMOVE_DESCRIPTIONS, () => sock.delAddress(data, attrs, requestOptions));
  }

  async function listAddresses(ifname?: string): Promise<InterfaceAddress[]> {
    if (ifname === undefined) return dumpAddresses(null);
    const index = await lookupIndex(ifname, `listing addresses of ${ifname}`);
    return dumpAddresses({ ifname, index });
  }

  async function hasAddress(ifname: string, cidr: string): Promise<boolean> {
    const target = parseCidr(cidr);
    const context = `checking for address ${describeCidr(target)} on ${ifname}`;
    const index = await lookupIndex(ifname, context);
    const addresses = await dumpAddresses({ ifname, index });
    return addresses.some((a) => matches(a, target));
  }

  let batch: AddressBatch | null = null;

  return {
    async listHostRoutes(table) {
      const messages = await request(`listing routes of table ${table}`, undefined, () =>
        sock.getRoutes({}, {}, requestOptions),
      );
      const out: HostRoute[] = [];
      for (const message of messages) {
        const parsed = toHostRoute(message);
        if (parsed !== null && parsed.table === table) out.push(parsed);
      }
      return out;
    },

    async addHostRoute(route, ifname) {
      const target = hostTarget(route.address);
      const kind = route.type === 'local' ? 'local ' : '';
      const context = `adding route ${kind}${target.address}/${target.prefixLength} dev ${ifname} table ${route.table} proto ${route.protocol}`;
      const index = await lookupIndex(ifname, context);
      const { data, attrs } = hostRouteRequest(route, target);
      await request(context, ROUTE_ADD_DESCRIPTIONS, () =>
        sock.newRoute(
          { ...data, scope: route.type === 'local' ? RT_SCOPE_HOST : RT_SCOPE_LINK },
          { ...attrs, oif: index },
          { ...requestOptions, flags: FlagsNew.CREATE | FlagsNew.EXCL },
        ),
      );
    },

    async removeHostRoute(route) {
      const target = hostTarget(route.address);
      const kind = route.type === 'local' ? 'local ' : '';
      const context = `removing route ${kind}${target.address}/${target.prefixLength} table ${route.table} proto ${route.protocol}`;
      const { data, attrs } = hostRouteRequest(route, target);
      // RT_SCOPE_NOWHERE in a delete means any scope (fib_table_delete), as `ip route del` sends it.
      await request(context, ROUTE_REMOVE_DESCRIPTIONS, () =>
        sock.delRoute({ ...data, scope: RT_SCOPE_NOWHERE }, attrs, requestOptions),
      );
    },

    interfaceIndex: (ifname) => lookupIndex(ifname, `looking up interface ${ifname}`),

    addAddressesAtOnce(addresses) {
      if (closed) {
        const error = new IpvsdError('IPVSD_ERR_NETLINK', 'the rtnetlink socket is closed');
        return { sent: false, done: Promise.resolve(addresses.map(() => error)) };
      }
      batch ??= (deps.openBatch ?? (() => createAddressBatch({ timeoutMs })))();
      return batch.add(addresses);
    },

    listAddresses,
    hasAddress,
    addAddress,
    removeAddress,

    async ensureAddress(ifname, cidr, opts) {
      try {
        await addAddress(ifname, cidr, opts);
        return true;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
        const target = parseCidr(cidr);
        const held = (await listAddresses(ifname)).find((a) => a.address === target.address);
        if (held !== undefined && held.prefixLength === target.prefixLength) return false;
        const e = err as NetlinkError;
        const detail =
          held === undefined ? '' : ` (${ifname} holds it as ${held.address}/${held.prefixLength})`;
        throw new NetlinkError(e.code, `${e.message}${detail}`, e.errno, e.errnoName, { cause: e.cause });
      }
    },

    async ensureNoAddress(ifname, cidr) {
      try {
        await removeAddress(ifname, cidr);
        return true;
      } catch (err) {
        if (isErrno(err, 'EADDRNOTAVAIL')) return false;
        throw err;
      }
    },

    close() {
      if (closed) return;
      closed = true;
      stop(new IpvsdError('IPVSD_ERR_NETLINK', 'the rtnetlink socket was closed'));
      sock.socket.close();
      batch?.close();
    },
  };
}

/** <linux/rtnetlink.h> */
const RT_TABLE_UNSPEC = 0;
/** The kernel's table of local addresses (`ip route show table local`). */
export const RT_TABLE_LOCAL = 255;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;
const RT_SCOPE_NOWHERE = 255;
const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;

function hostTarget(address: string): ParsedCidr {
  const target = parseCidr(address);
  if (target.explicitPrefix)
    throw new IpvsdError('IPVSD_ERR_USAGE', `a host route takes an address without a prefix, not ${address}`);
  return target;
}

/**
 * The rtmsg header and attributes naming a host route (pure; exported for tests). As iproute2 does,
 * a table id above 255 goes only in RTA_TABLE (the header's u8 then says RT_TABLE_UNSPEC).
 */
export function hostRouteRequest(
  route: HostRouteKey,
  target: ParsedCidr,
): { data: rt.Route; attrs: rt.RouteAttrs } {
  return {
    data: {
      family: target.family === 'inet' ? AF_INET : AF_INET6,
      dstLen: target.prefixLength,
      table: route.table < 256 ? route.table : RT_TABLE_UNSPEC,
      protocol: route.protocol,
      // In a delete too: the kernel then matches the type, so a local route and a unicast one to
      // the same address are never mistaken for each other.
      type: route.type === 'local' ? RTN_LOCAL : RTN_UNICAST,
    },
    attrs: { dst: target.bytes, table: route.table },
  };
}

/** One RTM_NEWROUTE dump entry as a HostRoute; null unless it is an IPv4/IPv6 host route. */
export function toHostRoute(message: rt.RouteMessage): HostRoute | null {
  const { data, attrs } = message;
  const family: Family | null = data.family === AF_INET ? 'inet' : data.family === AF_INET6 ? 'inet6' : null;
  const dst = attrs.dst;
  if (family === null || dst === undefined || dst.length !== (family === 'inet' ? 4 : 16)) return null;
  if (data.dstLen !== dst.length * 8) return null;
  return {
    family,
    address: formatIp(dst),
    table: attrs.table ?? data.table ?? 0,
    protocol: enumNumber(rt.RouteProtocol, data.protocol),
    type: enumNumber(rt.RouteType, data.type),
    ifindex: attrs.oif ?? null,
  };
}

/** node-netlink hands back an enum's name when it knows the value, the number when not. */
function enumNumber(mapping: Readonly<Record<string, string | number>>, value: unknown): number {
  if (typeof value === 'number') return value;
  const n = typeof value === 'string' ? mapping[value] : undefined;
  return typeof n === 'number' ? n : -1;
}

/** The ifaddrmsg header and attributes of an RTM_NEWADDR request (pure; exported for tests). */
export function addressRequest(
  index: number,
  target: ParsedCidr,
  opts: AddAddressOptions = {},
  ifname?: string,
): { data: rt.Address; attrs: rt.AddressAttrs } {
  if (target.family === 'inet') {
    const attrs: rt.AddressAttrs = { local: target.bytes, address: target.bytes };
    if ((opts.broadcast ?? true) && target.prefixLength <= 30) {
      attrs.broadcast = ipv4Broadcast(target.bytes, target.prefixLength);
    }
    if (opts.label !== undefined) {
      checkLabel(opts.label, ifname, `adding address ${describeCidr(target)}`);
      attrs.label = opts.label;
    }
    return { data: { family: AF_INET, prefixlen: target.prefixLength, index, scope: 0 }, attrs };
  }
  if (opts.label !== undefined) {
    throw new IpvsdError(
      'IPVSD_ERR_USAGE',
      `adding address ${describeCidr(target)}: IPv6 addresses cannot carry a label (${opts.label})`,
    );
  }
  // IFA_F_NODAD in the u8 header field for old kernels and in IFA_FLAGS, which newer ones read.
  return {
    data: { family: AF_INET6, prefixlen: target.prefixLength, index, scope: 0, flags: { nodad: true } },
    attrs: { local: target.bytes, address: target.bytes, flags: { nodad: true } },
  };
}

/** The ifaddrmsg header and attributes of an RTM_DELADDR request (pure; exported for tests). */
export function removeAddressRequest(
  index: number,
  target: ParsedCidr,
): { data: rt.Address; attrs: rt.AddressAttrs } {
  const family = target.family === 'inet' ? AF_INET : AF_INET6;
  const attrs: rt.AddressAttrs =
    target.family === 'inet' ? { local: target.bytes, address: target.bytes } : { local: target.bytes };
  return { data: { family, prefixlen: target.prefixLength, index }, attrs };
}

/** One RTM_NEWADDR dump entry as an InterfaceAddress; null for families other than IPv4/IPv6. */
export function toInterfaceAddress(
  message: rt.AddressMessage,
  names: ReadonlyMap<number, string>,
): InterfaceAddress | null {
  const { data, attrs } = message;
  const family: Family | null = data.family === AF_INET ? 'inet' : data.family === AF_INET6 ? 'inet6' : null;
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
  const bytes = attrs.local ?? attrs.address;
  if (family === null || bytes === undefined || data.index === undefined) return null;
  if (bytes.length !== (family === 'inet' ? 4 : 16)) return null;
  // IFA_FLAGS (u32), when present, supersedes the u8 ifa_flags.
  const flags = attrs.flags ?? data.flags ?? {};
  const out: InterfaceAddress = {
    ifname: names.get(data.index) ?? `if${data.index}`,
    ifindex: data.index,
    family,
    address: formatIp(bytes),
    prefixLength: data.prefixlen ?? 0,
    scope: data.scope ?? 0,
    secondary: flags.secondary === true,
    tentative: flags.tentative === true,
    dadFailed: flags.dadfailed === true,
  };
  return attrs.label === undefined ? out : { ...out, label: attrs.label };
}

function matches(a: InterfaceAddress, target: ParsedCidr): boolean {
  return (
    a.family === target.family &&
    a.address === target.address &&
    (!target.explicitPrefix || a.prefixLength === target.prefixLength)
  );
}

function describeCidr(target: ParsedCidr): string {
  return `${target.address}/${target.prefixLength}`;
}

function checkIfname(ifname: string, context: string): void {
  if (
    ifname.length === 0 ||
    ifname.length >= IFNAMSIZ ||
    /[\s/:]/.test(ifname) ||
    ifname === '.' ||
    ifname === '..'
  ) {
    throw new IpvsdError(
      'IPVSD_ERR_USAGE',
      `${context}: invalid interface name ${JSON.stringify(ifname)} (1 to ${IFNAMSIZ - 1} characters, no spaces, '/' or ':')`,
    );
  }
}

function checkLabel(label: string, ifname: string | undefined, context: string): void {
  const prefixOk = ifname === undefined || label === ifname || label.startsWith(`${ifname}:`);
  if (label.length === 0 || label.length >= IFNAMSIZ || !prefixOk) {
    throw new IpvsdError(
      'IPVSD_ERR_USAGE',
      `${context}: invalid label ${JSON.stringify(label)}: it must be the interface name or start with "${ifname ?? 'IFNAME'}:", at most ${IFNAMSIZ - 1} characters`,
    );
  }
}
