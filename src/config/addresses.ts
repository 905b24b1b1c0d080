/**
 * Address literals in one canonical spelling. The config is compared with kernel dumps and with
 * other entries (duplicates), so `2001:DB8:0::1` and `2001:db8::1` must be the same string: IPv6 is
 * rewritten in RFC 5952 form (lowercase, longest zero run compressed, hex groups only). Zone ids
 * (`fe80::1%eth0`) are refused: IPVS has no notion of them.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Family } from '../model/ipvs.js';

export interface IpAddress {
  readonly address: string;
  readonly family: Family;
}

/** An embedded dotted IPv4 tail (`::ffff:192.0.2.1`) becomes the last two groups. */
function ipv6Groups(text: string): number[] {
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (!last.includes('.')) return expandGroups(text);
  const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
  const groups = expandGroups(`${text.slice(0, lastColon + 1)}0:0`);
  groups.splice(6, 2, (a << 8) | b, (c << 8) | d);
  return groups;
}

/** Eight 16-bit groups from hex text with at most one `::` (already validated by node:net). */
function expandGroups(text: string): number[] {
  const [left = '', right] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const head = parse(left);
  if (right === undefined) return head;
  const rest = parse(right);
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}

function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** An IPv4 or IPv6 literal in canonical form, or null. */
export function parseIp(text: string): IpAddress | null {
  if (isIPv4(text)) return { address: text, family: 'inet' };
  if (isIPv6(text) && !text.includes('%')) return { address: formatIpv6(ipv6Groups(text)), family: 'inet6' };
  return null;
}

/** The prefix length of a contiguous dotted IPv4 mask (`255.255.255.0` → 24), or null. */
export function ipv4MaskPrefix(text: string): number | null {
  if (!isIPv4(text)) return null;
  const value = text.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  for (let prefix = 0; prefix <= 32; prefix++) {
    const mask = prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix);
    if (mask === value) return prefix;
  }
  return null;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** `127.0.0.1:9469`, `[::1]:9469` or `localhost:9469`; the port must be 1-65535. */
export function parseHostPort(text: string): HostPort | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return null;
  const bracketed = match[1];
  if (bracketed !== undefined) {
    const ip = parseIp(bracketed);
    return ip?.family === 'inet6' ? { host: ip.address, port } : null;
  }
  const host = match[2] ?? '';
  if (isIPv4(host) || HOSTNAME.test(host)) return { host, port };
  return null;
}
