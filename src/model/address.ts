/**
 * One spelling per IP address. The config, the kernel dump and the operator may write the same IPv6
 * address many ways (`2001:DB8:0::1`, `2001:db8::1`, `2001:0db8:0:0:0:0:0:1`); anything that matches
 * addresses by string (the diff, the CLI's `VS`/`RS` arguments, metrics labels) must first bring them to
 * the RFC 5952 form, or it would see changes that are not there and churn the kernel table.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Family } from './ipvs.js';

/** `inet` for an IPv4 address, `inet6` for an IPv6 one (zone allowed), null for anything else. */
export function addressFamily(address: string): Family | null {
  let family = familyCache.get(address);
  if (family === undefined) {
    family = isIPv4(address) ? 'inet' : isIPv6(address) ? 'inet6' : null;
    if (familyCache.size >= CANONICAL_CACHE_MAX) familyCache.clear();
    familyCache.set(address, family);
  }
  return family;
}

/** As canonicalCache below: a big config names the same few hundred addresses thousands of times. */
const familyCache = new Map<string, Family | null>();

/**
 * Answers remembered: a diff canonicalises every address of both tables (tens of thousands of calls
 * for a big table, over a few hundred distinct addresses). Bounded for a long-running daemon.
 */
const canonicalCache = new Map<string, string>();
const CANONICAL_CACHE_MAX = 4096;

/**
 * The canonical text of an IP address: IPv4 unchanged (node:net already refuses leading zeros), IPv6 as
 * RFC 5952 §4 says: lower-case hex, no leading zeros, the longest run (leftmost on a tie) of two or more
 * zero groups as `::`, and IPv4-mapped addresses in mixed notation (`::ffff:192.0.2.1`, §5), which is
 * also what inet_ntop(3) and ipvsadm print. A zone (`%eth0`) is kept as written. A string that is not an
 * IP address is returned unchanged, so callers can normalise before they validate.
 */
export function canonicalAddress(address: string): string {
  let canonical = canonicalCache.get(address);
  if (canonical === undefined) {
    canonical = canonicalOf(address);
    if (canonicalCache.size >= CANONICAL_CACHE_MAX) canonicalCache.clear();
    canonicalCache.set(address, canonical);
  }
  return canonical;
}

function canonicalOf(address: string): string {
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  const zoneAt = address.indexOf('%');
  const bare = zoneAt === -1 ? address : address.slice(0, zoneAt);
  const zone = zoneAt === -1 ? '' : address.slice(zoneAt);
  return formatIPv6(parseIPv6(bare)) + zone;
}

/** Two addresses are the same when their canonical forms are. */
export function sameAddress(a: string, b: string): boolean {
  return a === b || canonicalAddress(a) === canonicalAddress(b);
}

/**
 * A persistence netmask in the model's form: a dotted quad for inet (a prefix length such as `24` or
 * `/24` is converted), a bare prefix length for inet6 (`/64` → `64`). Anything else is returned unchanged.
 */
export function canonicalNetmask(family: Family, netmask: string): string {
  const prefix = /^\/?(\d{1,3})$/.exec(netmask.trim());
  if (family === 'inet6') return prefix?.[1] !== undefined ? String(Number(prefix[1])) : netmask;
  if (prefix?.[1] !== undefined) {
    const bits = Number(prefix[1]);
    if (bits > 32) return netmask;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join('.');
  }
  return netmask;
}

/** Eight 16-bit groups of an address that node:net has already validated as IPv6 (without zone). */
function parseIPv6(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // Embedded dotted quad in the last 32 bits.
    const octets = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, lastColon + 1);
    // `::1.2.3.4` leaves `::`; `1:2:3:4:5:6:1.2.3.4` leaves `1:2:3:4:5:6:` — drop the dangling colon.
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const toGroups = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const gap = text.indexOf('::');
  let groups: number[];
  if (gap === -1) {
    groups = [...toGroups(text), ...tail];
  } else {
    const head = toGroups(text.slice(0, gap));
    const rest = [...toGroups(text.slice(gap + 2)), ...tail];
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  return groups;
}

function formatIPv6(groups: readonly number[]): string {
  const g = (i: number): number => groups[i] ?? 0;
  if (g(0) === 0 && g(1) === 0 && g(2) === 0 && g(3) === 0 && g(4) === 0 && g(5) === 0xffff) {
    return `::ffff:${g(6) >> 8}.${g(6) & 0xff}.${g(7) >> 8}.${g(7) & 0xff}`;
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (g(i) !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && g(j) === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestLength < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** 4 bytes (IPv4) or 16 bytes (IPv6), network order, as netlink carries addresses; null if not an IP. */
export function addressToBytes(address: string): Buffer | null {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address) || address.includes('%')) return null;
  const out = Buffer.alloc(16);
  parseIPv6(address).forEach((group, i) => {
    out.writeUInt16BE(group, i * 2);
  });
  return out;
}

/** The canonical text of an address read from the wire: 4 bytes for inet, 16 for inet6, from `at`. */
export function bytesToAddress(bytes: Buffer, family: Family, at = 0): string {
  if (family === 'inet') return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(at + i * 2));
  return formatIPv6(groups);
}
