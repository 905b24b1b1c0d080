/**
 * The IPVS generic netlink codec: model ↔ attributes. Pure. Encoders lay attributes out in the
 * order ipvsadm (libipvs) does, so the golden tests can compare our bytes with what the reference
 * tool sends; decoders accept whatever order the kernel uses and skip what they do not know.
 */

import { addressFamily, addressToBytes, bytesToAddress } from '../model/address.js';
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
  attr,
  cstring,
  getNested,
  getString,
  getU16,
  getU16be,
  getU32,
  getU64,
  nested,
  u16,
  u16be,
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

/** union nf_inet_addr: always 16 bytes on the wire, IPv4 in the first four. */
function inetAddr(address: string): Buffer {
  const bytes = addressToBytes(address);
  if (!bytes) throw new TypeError(`not an IP address: ${address}`);
  const out = Buffer.alloc(16);
  bytes.copy(out);
  return out;
}

/** IPv4 masks travel as a big-endian u32; IPv6 "masks" are a prefix length in host order. */
function netmaskBytes(family: Family, netmask: string): Buffer {
  const b = Buffer.alloc(4);
  if (family === 'inet') (addressToBytes(netmask) ?? Buffer.from([255, 255, 255, 255])).copy(b);
  else b.writeUInt32LE(Number(netmask));
  return b;
}

function serviceKeyAttrs(key: ServiceKey): Buffer[] {
  const out = [u16(C.IPVS_SVC_ATTR_AF, AF[key.family])];
  if (key.fwmark !== null) out.push(u32(C.IPVS_SVC_ATTR_FWMARK, key.fwmark));
  else
    out.push(
      u16(C.IPVS_SVC_ATTR_PROTOCOL, PROTO[key.protocol]),
      attr(C.IPVS_SVC_ATTR_ADDR, inetAddr(key.address)),
      u16be(C.IPVS_SVC_ATTR_PORT, key.port),
    );
  return out;
}

export function serviceAttrs(svc: VirtualService): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(
    ((svc.flags & ~(C.IP_VS_SVC_F_PERSISTENT | C.IP_VS_SVC_F_HASHED)) |
      (svc.persistence ? C.IP_VS_SVC_F_PERSISTENT : 0)) >>>
      0,
    0,
  );
  flags.writeUInt32LE(0xffffffff, 4); // mask: every flag is ours to set
  return nested(C.IPVS_CMD_ATTR_SERVICE, [
    ...serviceKeyAttrs(svc.key),
    cstring(C.IPVS_SVC_ATTR_SCHED_NAME, svc.scheduler),
    attr(C.IPVS_SVC_ATTR_FLAGS, flags),
    u32(C.IPVS_SVC_ATTR_TIMEOUT, svc.persistence?.timeoutS ?? 0),
    attr(
      C.IPVS_SVC_ATTR_NETMASK,
      netmaskBytes(svc.key.family, svc.persistence?.netmask ?? DEFAULT_NETMASK[svc.key.family]),
    ),
  ]);
}

export const serviceKeyOnly = (key: ServiceKey): Buffer =>
  nested(C.IPVS_CMD_ATTR_SERVICE, serviceKeyAttrs(key));

function destKeyAttrs(dest: DestinationKey): Buffer[] {
  return [
    u16(C.IPVS_DEST_ATTR_ADDR_FAMILY, AF[addressFamily(dest.address) ?? 'inet']),
    attr(C.IPVS_DEST_ATTR_ADDR, inetAddr(dest.address)),
    u16be(C.IPVS_DEST_ATTR_PORT, dest.port),
  ];
}

export function destAttrs(dest: Destination): Buffer {
  return nested(C.IPVS_CMD_ATTR_DEST, [
    ...destKeyAttrs(dest),
    u32(C.IPVS_DEST_ATTR_FWD_METHOD, FWD[dest.forwarding]),
    u32(C.IPVS_DEST_ATTR_WEIGHT, dest.weight),
    u32(C.IPVS_DEST_ATTR_U_THRESH, dest.upperThreshold),
    u32(C.IPVS_DEST_ATTR_L_THRESH, dest.lowerThreshold),
  ]);
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
      return { cmd: C.IPVS_CMD_NEW_DEST, attrs: [serviceKeyOnly(op.key), destAttrs(op.destination)] };
    case 'edit-destination':
      return { cmd: C.IPVS_CMD_SET_DEST, attrs: [serviceKeyOnly(op.key), destAttrs(op.destination)] };
    case 'delete-destination':
      return {
        cmd: C.IPVS_CMD_DEL_DEST,
        attrs: [serviceKeyOnly(op.key), nested(C.IPVS_CMD_ATTR_DEST, destKeyAttrs(op.destination))],
      };
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

export function decodeDestination(top: Attrs, serviceFamily: Family): DestinationState | null {
  const a = getNested(top, C.IPVS_CMD_ATTR_DEST);
  if (!a) return null;
  const family = familyFromAf(getU16(a, C.IPVS_DEST_ATTR_ADDR_FAMILY)) ?? serviceFamily;
  const addr = a.get(C.IPVS_DEST_ATTR_ADDR);
  const port = getU16be(a, C.IPVS_DEST_ATTR_PORT);
  if (!addr || addr.length < (family === 'inet' ? 4 : 16) || port === null) return null;
  return {
    address: bytesToAddress(addr, family),
    port,
    forwarding: forwardingFromNumber(getU32(a, C.IPVS_DEST_ATTR_FWD_METHOD) ?? 0),
    weight: getU32(a, C.IPVS_DEST_ATTR_WEIGHT) ?? 0,
    upperThreshold: getU32(a, C.IPVS_DEST_ATTR_U_THRESH) ?? 0,
    lowerThreshold: getU32(a, C.IPVS_DEST_ATTR_L_THRESH) ?? 0,
    activeConns: getU32(a, C.IPVS_DEST_ATTR_ACTIVE_CONNS) ?? 0,
    inactiveConns: getU32(a, C.IPVS_DEST_ATTR_INACT_CONNS) ?? 0,
    persistConns: getU32(a, C.IPVS_DEST_ATTR_PERSIST_CONNS) ?? 0,
    stats: decodeStats(getNested(a, C.IPVS_DEST_ATTR_STATS64), getNested(a, C.IPVS_DEST_ATTR_STATS)),
  };
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
