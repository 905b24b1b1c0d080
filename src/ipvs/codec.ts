/**
 * The IPVS generic netlink codec: model ↔ attributes. Pure. Encoders lay attributes out in the
 * order ipvsadm (libipvs) does, so the golden tests can compare our bytes with what the reference
 * tool sends; decoders accept whatever order the kernel uses and skip what they do not know.
 */

import { addressToBytes, bytesToAddress } from '../model/address.js';
import {
  DEFAULT_NETMASK,
  type Destination,
  type DestinationKey,
  type DestinationState,
  type Family,
  type Forwarding,
  type IpvsOperation,
  type IpvsStats,
  type IpvsTimeouts,
  type Protocol,
  type ServiceKey,
  type ServiceState,
  type VirtualService,
  ZERO_STATS,
} from '../model/ipvs.js';
import type { GenlRequest } from '../sys/genl-socket.js';
import {
  type Attrs,
  AttrWriter,
  cstring,
  getNested,
  getString,
  getU16,
  getU16be,
  getU32,
  getU64,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  nested,
  parseAttrs,
  u32,
} from '../sys/nlattr.js';
import type { IpvsInfo, SyncDaemon, SyncDaemonState } from './backend.js';
import * as C from './constants.js';

const AF: Record<Family, number> = { inet: C.AF_INET, inet6: C.AF_INET6 };
const PROTO: Record<Protocol, number> = { tcp: C.IPPROTO_TCP, udp: C.IPPROTO_UDP, sctp: C.IPPROTO_SCTP };
const FWD: Record<Forwarding, number> = {
  nat: C.IP_VS_CONN_F_MASQ,
  local: C.IP_VS_CONN_F_LOCALNODE,
  tun: C.IP_VS_CONN_F_TUNNEL,
  dr: C.IP_VS_CONN_F_DROUTE,
};

const familyFromAf = (af: number | null): Family | null =>
  af === C.AF_INET ? 'inet' : af === C.AF_INET6 ? 'inet6' : null;
const protocolFromNumber = (p: number | null): Protocol | null =>
  p === C.IPPROTO_TCP ? 'tcp' : p === C.IPPROTO_UDP ? 'udp' : p === C.IPPROTO_SCTP ? 'sctp' : null;
const forwardingFromNumber = (f: number): Forwarding =>
  (['nat', 'local', 'tun', 'dr'] as const)[f & C.IP_VS_CONN_F_FWD_MASK] ?? 'nat';

/**
 * Address text → wire bytes, remembered: a table repeats the same few hundred real-server and
 * virtual addresses thousands of times. Bounded so a long-running daemon cannot grow it forever.
 */
const addressBytesCache = new Map<string, Buffer>();
const ADDRESS_CACHE_MAX = 4096;

function addressBytes(address: string): Buffer {
  let bytes = addressBytesCache.get(address);
  if (bytes === undefined) {
    const parsed = addressToBytes(address);
    if (!parsed) throw new TypeError(`not an IP address: ${address}`);
    bytes = parsed;
    if (addressBytesCache.size >= ADDRESS_CACHE_MAX) addressBytesCache.clear();
    addressBytesCache.set(address, bytes);
  }
  return bytes;
}

/** union nf_inet_addr: always 16 bytes on the wire, IPv4 in the first four (the rest zero). */
function inetAddr(w: AttrWriter, type: number, address: string): void {
  const bytes = addressBytes(address);
  w.fixed(type, 16, bytes);
}

/** IPv4 masks travel as a big-endian u32; IPv6 "masks" are a prefix length in host order. */
function netmask(w: AttrWriter, family: Family, mask: string): void {
  w.raw(C.IPVS_SVC_ATTR_NETMASK, 4, (buf, at) => {
    if (family === 'inet') buf.set(addressToBytes(mask) ?? [255, 255, 255, 255], at);
    else buf.writeUInt32LE(Number(mask), at);
  });
}

function serviceKeyAttrs(w: AttrWriter, key: ServiceKey): void {
  w.u16(C.IPVS_SVC_ATTR_AF, AF[key.family]);
  if (key.fwmark !== null) w.u32(C.IPVS_SVC_ATTR_FWMARK, key.fwmark);
  else {
    w.u16(C.IPVS_SVC_ATTR_PROTOCOL, PROTO[key.protocol]);
    inetAddr(w, C.IPVS_SVC_ATTR_ADDR, key.address);
    w.u16be(C.IPVS_SVC_ATTR_PORT, key.port);
  }
}

function writeService(w: AttrWriter, svc: VirtualService): void {
  const s = w.begin(C.IPVS_CMD_ATTR_SERVICE);
  serviceKeyAttrs(w, svc.key);
  w.cstring(C.IPVS_SVC_ATTR_SCHED_NAME, svc.scheduler);
  const flags =
    ((svc.flags & ~(C.IP_VS_SVC_F_PERSISTENT | C.IP_VS_SVC_F_HASHED)) |
      (svc.persistence ? C.IP_VS_SVC_F_PERSISTENT : 0)) >>>
    0;
  w.raw(C.IPVS_SVC_ATTR_FLAGS, 8, (buf, at) => {
    buf.writeUInt32LE(flags, at);
    buf.writeUInt32LE(0xffffffff, at + 4); // mask: every flag is ours to set
  });
  w.u32(C.IPVS_SVC_ATTR_TIMEOUT, svc.persistence?.timeoutS ?? 0);
  netmask(w, svc.key.family, svc.persistence?.netmask ?? DEFAULT_NETMASK[svc.key.family]);
  w.end(s);
}

export function serviceAttrs(svc: VirtualService): Buffer {
  const w = new AttrWriter();
  writeService(w, svc);
  return w.finish();
}

/**
 * The nested service key alone (what destination commands and GET_DEST carry), cached per key
 * object: the diff hands every destination of a service the same key, so a 10-destination service
 * encodes its key once, not ten times. Never mutated after encoding, so sharing is safe.
 */
const serviceKeyCache = new WeakMap<ServiceKey, Buffer>();

export function serviceKeyOnly(key: ServiceKey): Buffer {
  let encoded = serviceKeyCache.get(key);
  if (encoded === undefined) {
    const w = new AttrWriter(64);
    const s = w.begin(C.IPVS_CMD_ATTR_SERVICE);
    serviceKeyAttrs(w, key);
    encoded = w.end(s).finish();
    serviceKeyCache.set(key, encoded);
  }
  return encoded;
}

function destKeyAttrs(w: AttrWriter, dest: DestinationKey): void {
  // The family from the (remembered) wire bytes: 16 for IPv6, 4 for IPv4.
  w.u16(C.IPVS_DEST_ATTR_ADDR_FAMILY, addressBytes(dest.address).length === 16 ? C.AF_INET6 : C.AF_INET);
  inetAddr(w, C.IPVS_DEST_ATTR_ADDR, dest.address);
  w.u16be(C.IPVS_DEST_ATTR_PORT, dest.port);
}

function writeDest(w: AttrWriter, dest: Destination): void {
  const d = w.begin(C.IPVS_CMD_ATTR_DEST);
  destKeyAttrs(w, dest);
  w.u32(C.IPVS_DEST_ATTR_FWD_METHOD, FWD[dest.forwarding]);
  w.u32(C.IPVS_DEST_ATTR_WEIGHT, dest.weight);
  w.u32(C.IPVS_DEST_ATTR_U_THRESH, dest.upperThreshold);
  w.u32(C.IPVS_DEST_ATTR_L_THRESH, dest.lowerThreshold);
  w.end(d);
}

export function destAttrs(dest: Destination): Buffer {
  const w = new AttrWriter();
  writeDest(w, dest);
  return w.finish();
}

/** A service key followed by a destination, in one buffer. */
function keyAndDest(key: ServiceKey, dest: Destination | DestinationKey, full: boolean): Buffer {
  const w = new AttrWriter(128);
  w.append(serviceKeyOnly(key));
  if (full) writeDest(w, dest as Destination);
  else {
    const d = w.begin(C.IPVS_CMD_ATTR_DEST);
    destKeyAttrs(w, dest);
    w.end(d);
  }
  return w.finish();
}

export function encodeOperation(op: IpvsOperation): GenlRequest {
  switch (op.kind) {
    case 'add-service':
      return { cmd: C.IPVS_CMD_NEW_SERVICE, attrs: [serviceAttrs(op.service)] };
    case 'edit-service':
      return { cmd: C.IPVS_CMD_SET_SERVICE, attrs: [serviceAttrs(op.service)] };
    case 'delete-service':
      return { cmd: C.IPVS_CMD_DEL_SERVICE, attrs: [serviceKeyOnly(op.key)] };
    case 'add-destination':
      return { cmd: C.IPVS_CMD_NEW_DEST, attrs: [keyAndDest(op.key, op.destination, true)] };
    case 'edit-destination':
      return { cmd: C.IPVS_CMD_SET_DEST, attrs: [keyAndDest(op.key, op.destination, true)] };
    case 'delete-destination':
      return { cmd: C.IPVS_CMD_DEL_DEST, attrs: [keyAndDest(op.key, op.destination, false)] };
    case 'set-timeouts':
      return { cmd: C.IPVS_CMD_SET_CONFIG, attrs: timeoutAttrs(op.timeouts) };
  }
}

export function timeoutAttrs(t: IpvsTimeouts): Buffer[] {
  return [
    u32(C.IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcpS),
    u32(C.IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcpFinS),
    u32(C.IPVS_CMD_ATTR_TIMEOUT_UDP, t.udpS),
  ];
}

const DAEMON_STATE: Record<SyncDaemonState, number> = {
  master: C.IP_VS_STATE_MASTER,
  backup: C.IP_VS_STATE_BACKUP,
};

export function newDaemonRequest(d: SyncDaemon): GenlRequest {
  return {
    cmd: C.IPVS_CMD_NEW_DAEMON,
    attrs: [
      nested(C.IPVS_CMD_ATTR_DAEMON, [
        u32(C.IPVS_DAEMON_ATTR_STATE, DAEMON_STATE[d.state]),
        cstring(C.IPVS_DAEMON_ATTR_MCAST_IFN, d.interface),
        u32(C.IPVS_DAEMON_ATTR_SYNC_ID, d.syncId),
      ]),
    ],
  };
}

export function delDaemonRequest(state: SyncDaemonState): GenlRequest {
  return {
    cmd: C.IPVS_CMD_DEL_DAEMON,
    attrs: [nested(C.IPVS_CMD_ATTR_DAEMON, [u32(C.IPVS_DAEMON_ATTR_STATE, DAEMON_STATE[state])])],
  };
}

export const getServicesRequest: GenlRequest = { cmd: C.IPVS_CMD_GET_SERVICE, attrs: [] };
export const getDestsRequest = (key: ServiceKey): GenlRequest => ({
  cmd: C.IPVS_CMD_GET_DEST,
  attrs: [serviceKeyOnly(key)],
});
export const getInfoRequest: GenlRequest = { cmd: C.IPVS_CMD_GET_INFO, attrs: [] };
export const getConfigRequest: GenlRequest = { cmd: C.IPVS_CMD_GET_CONFIG, attrs: [] };
export const getDaemonsRequest: GenlRequest = { cmd: C.IPVS_CMD_GET_DAEMON, attrs: [] };
export const flushRequest: GenlRequest = { cmd: C.IPVS_CMD_FLUSH, attrs: [] };
export const zeroRequest = (key?: ServiceKey): GenlRequest => ({
  cmd: C.IPVS_CMD_ZERO,
  attrs: key ? [serviceKeyOnly(key)] : [],
});

// ---- decoding ---------------------------------------------------------------------------------

/** STATS64 when the kernel sends it (≥ 4.1), else the 32-bit STATS with 64-bit byte counters. */
export function decodeStats(s64: Attrs | null, s32: Attrs | null): IpvsStats {
  if (s64) {
    const g = (t: number) => getU64(s64, t) ?? 0;
    return statsFrom(g, g);
  }
  if (!s32) return ZERO_STATS;
  return statsFrom(
    (t) => getU32(s32, t) ?? 0,
    (t) => getU64(s32, t) ?? 0,
  );
}

/** The stats attributes read with `count` for the counters and rates and `bytes` for the byte counters. */
function statsFrom(count: (type: number) => number, bytes: (type: number) => number): IpvsStats {
  return {
    conns: count(C.IPVS_STATS_ATTR_CONNS),
    inPackets: count(C.IPVS_STATS_ATTR_INPKTS),
    outPackets: count(C.IPVS_STATS_ATTR_OUTPKTS),
    inBytes: bytes(C.IPVS_STATS_ATTR_INBYTES),
    outBytes: bytes(C.IPVS_STATS_ATTR_OUTBYTES),
    cps: count(C.IPVS_STATS_ATTR_CPS),
    inPps: count(C.IPVS_STATS_ATTR_INPPS),
    outPps: count(C.IPVS_STATS_ATTR_OUTPPS),
    inBps: count(C.IPVS_STATS_ATTR_INBPS),
    outBps: count(C.IPVS_STATS_ATTR_OUTBPS),
  };
}

/** A service from a GET_SERVICE reply (or request); null when required attributes are missing. */
export function decodeService(top: Attrs): (ServiceState & { destinations: [] }) | null {
  const a = getNested(top, C.IPVS_CMD_ATTR_SERVICE);
  if (!a) return null;
  const family = familyFromAf(getU16(a, C.IPVS_SVC_ATTR_AF));
  if (!family) return null;
  const fwmark = getU32(a, C.IPVS_SVC_ATTR_FWMARK);
  let key: ServiceKey;
  if (fwmark !== null && fwmark !== 0) key = { family, protocol: null, address: null, port: null, fwmark };
  else {
    const protocol = protocolFromNumber(getU16(a, C.IPVS_SVC_ATTR_PROTOCOL));
    const addr = a.get(C.IPVS_SVC_ATTR_ADDR);
    const port = getU16be(a, C.IPVS_SVC_ATTR_PORT);
    if (!protocol || !addr || addr.length < (family === 'inet' ? 4 : 16) || port === null) return null;
    key = { family, protocol, address: bytesToAddress(addr, family), port, fwmark: null };
  }
  const scheduler = getString(a, C.IPVS_SVC_ATTR_SCHED_NAME) ?? '';
  const flagsBuf = a.get(C.IPVS_SVC_ATTR_FLAGS);
  const rawFlags = flagsBuf && flagsBuf.length >= 4 ? flagsBuf.readUInt32LE(0) : 0;
  const netmaskBuf = a.get(C.IPVS_SVC_ATTR_NETMASK);
  const netmask =
    netmaskBuf && netmaskBuf.length >= 4
      ? family === 'inet'
        ? bytesToAddress(netmaskBuf, 'inet')
        : String(netmaskBuf.readUInt32LE(0))
      : DEFAULT_NETMASK[family];
  const persistence =
    rawFlags & C.IP_VS_SVC_F_PERSISTENT
      ? { timeoutS: getU32(a, C.IPVS_SVC_ATTR_TIMEOUT) ?? 0, netmask }
      : null;
  return {
    key,
    scheduler,
    persistence,
    flags: rawFlags & ~(C.IP_VS_SVC_F_PERSISTENT | C.IP_VS_SVC_F_HASHED),
    stats: decodeStats(getNested(a, C.IPVS_SVC_ATTR_STATS64), getNested(a, C.IPVS_SVC_ATTR_STATS)),
    destinations: [],
  };
}

/** A destination from a GET_DEST reply's attributes; null when required attributes are missing. */
export function decodeDestination(top: Attrs, serviceFamily: Family): DestinationState | null {
  const a = top.get(C.IPVS_CMD_ATTR_DEST);
  return a ? decodeDestinationIn(a, 0, a.length, serviceFamily) : null;
}

/**
 * The DEST attribute's payload, bytes [begin, end) of `a`. The hot loop of a dump (10,000 of these
 * for a big table): it reads the nested attributes in place instead of building a Map of
 * subarrays, and decodes the counters only when someone reads `stats` (a reconcile never does).
 */
function decodeDestinationIn(
  a: Buffer,
  begin: number,
  end: number,
  serviceFamily: Family,
): DestinationState | null {
  let af = -1;
  let addrAt = -1;
  let addrLen = 0;
  let port = -1;
  let fwd = 0;
  let weight = 0;
  let upper = 0;
  let lower = 0;
  let active = 0;
  let inactive = 0;
  let persist = 0;
  let s64At = -1;
  let s64End = -1;
  let s32At = -1;
  let s32End = -1;
  let off = begin;
  while (off + NLA_HDRLEN <= end) {
    const len = a.readUInt16LE(off);
    if (len < NLA_HDRLEN || off + len > end) break;
    const at = off + NLA_HDRLEN;
    const size = len - NLA_HDRLEN;
    const u32At = size >= 4 ? a.readUInt32LE(at) : 0;
    // Last one wins, as in parseAttrs (and the kernel); fields too short to read count as absent.
    switch (a.readUInt16LE(off + 2) & NLA_TYPE_MASK) {
      case C.IPVS_DEST_ATTR_ADDR_FAMILY:
        af = size >= 2 ? a.readUInt16LE(at) : -1;
        break;
      case C.IPVS_DEST_ATTR_ADDR:
        addrAt = at;
        addrLen = size;
        break;
      case C.IPVS_DEST_ATTR_PORT:
        port = size >= 2 ? a.readUInt16BE(at) : -1;
        break;
      case C.IPVS_DEST_ATTR_FWD_METHOD:
        fwd = u32At;
        break;
      case C.IPVS_DEST_ATTR_WEIGHT:
        weight = u32At;
        break;
      case C.IPVS_DEST_ATTR_U_THRESH:
        upper = u32At;
        break;
      case C.IPVS_DEST_ATTR_L_THRESH:
        lower = u32At;
        break;
      case C.IPVS_DEST_ATTR_ACTIVE_CONNS:
        active = u32At;
        break;
      case C.IPVS_DEST_ATTR_INACT_CONNS:
        inactive = u32At;
        break;
      case C.IPVS_DEST_ATTR_PERSIST_CONNS:
        persist = u32At;
        break;
      case C.IPVS_DEST_ATTR_STATS64:
        s64At = at;
        s64End = at + size;
        break;
      case C.IPVS_DEST_ATTR_STATS:
        s32At = at;
        s32End = at + size;
        break;
    }
    off += (len + 3) & ~3;
  }
  const family = familyFromAf(af === -1 ? null : af) ?? serviceFamily;
  if (addrAt === -1 || addrLen < (family === 'inet' ? 4 : 16) || port === -1) return null;
  return new DecodedDestination(
    bytesToAddress(a, family, addrAt),
    port,
    forwardingFromNumber(fwd),
    weight,
    upper,
    lower,
    active,
    inactive,
    persist,
    a,
    s64At,
    s64End,
    s32At,
    s32End,
  );
}

/**
 * A destination from a dump. A class, not an object literal with a `stats` getter: a literal's getter
 * is a closure made per object, which cost more than the rest of a destination's decoding. `stats`
 * (a getter on the prototype, so spreading or JSON.stringify leaves it out: read it by name) decodes
 * the counters on first use from where they are in the reply: STATS64 and STATS as [at, end) of the
 * reply's buffer, -1 when absent.
 */
class DecodedDestination implements DestinationState {
  #stats: IpvsStats | null = null;
  readonly #buf: Buffer;
  readonly #s64At: number;
  readonly #s64End: number;
  readonly #s32At: number;
  readonly #s32End: number;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly forwarding: Forwarding,
    readonly weight: number,
    readonly upperThreshold: number,
    readonly lowerThreshold: number,
    readonly activeConns: number,
    readonly inactiveConns: number,
    readonly persistConns: number,
    buf: Buffer,
    s64At: number,
    s64End: number,
    s32At: number,
    s32End: number,
  ) {
    this.#buf = buf;
    this.#s64At = s64At;
    this.#s64End = s64End;
    this.#s32At = s32At;
    this.#s32End = s32End;
  }

  get stats(): IpvsStats {
    this.#stats ??= decodeStats(
      this.#s64At === -1 ? null : parseAttrs(this.#buf.subarray(this.#s64At, this.#s64End)),
      this.#s32At === -1 ? null : parseAttrs(this.#buf.subarray(this.#s32At, this.#s32End)),
    );
    return this.#stats;
  }
}

export function decodeInfo(top: Attrs): IpvsInfo | null {
  const v = getU32(top, C.IPVS_INFO_ATTR_VERSION);
  if (v === null) return null;
  return {
    version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`,
    connTableSize: getU32(top, C.IPVS_INFO_ATTR_CONN_TAB_SIZE) ?? 0,
  };
}

export function decodeTimeouts(top: Attrs): IpvsTimeouts {
  return {
    tcpS: getU32(top, C.IPVS_CMD_ATTR_TIMEOUT_TCP) ?? 0,
    tcpFinS: getU32(top, C.IPVS_CMD_ATTR_TIMEOUT_TCP_FIN) ?? 0,
    udpS: getU32(top, C.IPVS_CMD_ATTR_TIMEOUT_UDP) ?? 0,
  };
}

export function decodeDaemon(top: Attrs): SyncDaemon | null {
  const a = getNested(top, C.IPVS_CMD_ATTR_DAEMON);
  if (!a) return null;
  const state = getU32(a, C.IPVS_DAEMON_ATTR_STATE);
  const iface = getString(a, C.IPVS_DAEMON_ATTR_MCAST_IFN);
  if ((state !== C.IP_VS_STATE_MASTER && state !== C.IP_VS_STATE_BACKUP) || iface === null) return null;
  return {
    state: state === C.IP_VS_STATE_MASTER ? 'master' : 'backup',
    interface: iface,
    syncId: getU32(a, C.IPVS_DAEMON_ATTR_SYNC_ID) ?? 0,
  };
}
