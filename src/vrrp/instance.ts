/**
 * The pieces of one VRRP instance that sit between its configuration and the wire: which address
 * family it speaks, which local address its adverts leave from (the tie-break of RFC 5798 §6.4.3
 * and, in v3, part of the checksum), what a received advert must match, and the advert it sends.
 * Pure: the speaker (speaker.ts) does the I/O.
 */
import type { VrrpInstanceConfig } from '../config/types.js';
import type { Family } from '../model/ipvs.js';
import type { InterfaceAddress } from '../sys/rtnetlink.js';
import type { ExpectedAdvert } from './codec.js';
import type { VrrpAdvert } from './packet.js';

/** v2 is IPv4 only; v3 speaks the family of its virtual addresses (IPv4 when it has none). */
export function instanceFamily(config: VrrpInstanceConfig): Family {
  if (config.version === 2) return 'inet';
  return config.virtualIpaddresses[0]?.family ?? (config.unicastSrcIp?.includes(':') ? 'inet6' : 'inet');
}

/** The VIPs as `address/len`, as rtnetlink takes them. */
export function vipCidrs(config: VrrpInstanceConfig): string[] {
  return config.virtualIpaddresses.map((v) => `${v.address}/${v.prefixLength}`);
}

/** One address the master holds: where it goes, as rtnetlink takes it. */
export interface VipTarget {
  readonly ifname: string;
  readonly cidr: string;
  readonly address: string;
  readonly label?: string;
}

/**
 * The interface an instance's own addresses go on: its VMAC when it has one (keepalived adds the
 * VIPs to the macvlan, vrrp_vmac.c), else its interface.
 */
export function vipInterface(config: VrrpInstanceConfig): string {
  return config.useVmac ?? config.interface;
}

/**
 * Every address the master holds: the VIPs (carried in adverts) and the excluded ones (not), each
 * on its `dev` or the instance's VIP interface (keepalived vrrp_ipaddress.c: `dev` wins).
 */
export function vipTargets(config: VrrpInstanceConfig): VipTarget[] {
  const home = vipInterface(config);
  return [...config.virtualIpaddresses, ...(config.virtualIpaddressesExcluded ?? [])].map((v) => ({
    ifname: v.dev ?? home,
    cidr: `${v.address}/${v.prefixLength}`,
    address: v.address,
    ...(v.label !== undefined ? { label: v.label } : {}),
  }));
}

/** How two targets compare across a reload. */
export const targetKey = (t: VipTarget): string => `${t.ifname} ${t.cidr} ${t.label ?? ''}`;

/**
 * The address adverts leave from: unicast_src_ip when set; else the interface's primary IPv4
 * address (what the kernel picks for 224.0.0.18), or its IPv6 link-local address (what it picks
 * for ff02::12). VIPs never count. Null when the interface has none.
 */
export function primaryAddress(
  config: VrrpInstanceConfig,
  family: Family,
  addresses: readonly InterfaceAddress[],
): string | null {
  if (config.unicastSrcIp !== null) return config.unicastSrcIp;
  const vips = new Set(vipTargets(config).map((v) => v.address));
  const candidates = addresses.filter(
    (a) => a.family === family && !vips.has(a.address) && !a.tentative && !a.dadFailed,
  );
  const pick =
    family === 'inet'
      ? (candidates.find((a) => !a.secondary && a.scope === 0) ?? candidates.find((a) => !a.secondary))
      : candidates.find((a) => a.scope === 253);
  return pick?.address ?? null;
}

/** What a received advert must match to be accepted by this instance. */
export function expectedAdvert(config: VrrpInstanceConfig): ExpectedAdvert {
  const pass = config.version === 2 && config.authentication?.type === 'pass';
  return {
    version: config.version,
    vrid: config.virtualRouterId,
    authType: pass ? 'pass' : 'none',
    password: pass ? (config.authentication?.password ?? '') : '',
    addresses: config.virtualIpaddresses.map((v) => v.address),
    advertIntervalCs: config.advertIntervalCs,
  };
}

/** The advert this instance sends with `priority`. */
export function ownAdvert(config: VrrpInstanceConfig, priority: number): VrrpAdvert {
  const expected = expectedAdvert(config);
  return {
    version: config.version,
    vrid: config.virtualRouterId,
    priority,
    advertIntervalCs: config.advertIntervalCs,
    addresses: expected.addresses,
    authType: expected.authType,
    password: expected.password,
  };
}
