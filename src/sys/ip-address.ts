/**
 * IP address text ⇄ bytes for the netlink layer. Netlink carries addresses as raw network-order
 * bytes, and we compare what we asked for with what the kernel dumps, so every address leaves
 * here in one canonical text form: dotted quad for IPv4, RFC 5952 for IPv6 (lower case, longest
 * run of two or more zero groups shortened to `::`, dotted quad tail only for IPv4-mapped).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { IpvsdError } from '../errors.js';
import type { Family } from '../model/ipvs.js';

export interface ParsedAddress {
  readonly family: Family;
  /** Canonical text. */
  readonly address: string;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Buffer;
}

export interface ParsedCidr extends ParsedAddress {
  readonly prefixLength: number;
  /** True when the text carried `/len`; false when prefixLength defaulted to the full length. */
  readonly explicitPrefix: boolean;
}

/** Parses an IPv4 or IPv6 address (no zone, no prefix); null when it is not one. */
export function parseIp(text: string): ParsedAddress | null {
  if (isIPv4(text)) {
    const bytes = Buffer.from(text.split('.').map(Number));
    return { family: 'inet', address: formatIp(bytes), bytes };
  }
  if (isIPv6(text) && !text.includes('%')) {
    const bytes = ipv6ToBytes(text);
    return bytes === null ? null : { family: 'inet6', address: formatIp(bytes), bytes };
  }
  return null;
}

/**
 * Parses `address[/prefix]`. Without a prefix the address stands alone (/32 or /128), as
 * keepalived does for virtual addresses. Throws IpvsdError(IPVSD_ERR_USAGE) on bad input.
 */
export function parseCidr(text: string): ParsedCidr {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const parsed = parseIp(addressText);
  if (parsed === null) {
    throw new IpvsdError('IPVSD_ERR_USAGE', `invalid IP address ${JSON.stringify(text)}`);
  }
  const maxPrefix = parsed.family === 'inet' ? 32 : 128;
  if (slash === -1) return { ...parsed, prefixLength: maxPrefix, explicitPrefix: false };
  const prefixText = text.slice(slash + 1);
  const prefixLength = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefixLength >= 0 && prefixLength <= maxPrefix)) {
    throw new IpvsdError(
      'IPVSD_ERR_USAGE',
      `invalid prefix length in ${JSON.stringify(text)}: expected 0 to ${maxPrefix}`,
    );
  }
  return { ...parsed, prefixLength, explicitPrefix: true };
}

/** `address/prefixLength` in canonical form. */
export function formatCidr(address: ParsedAddress, prefixLength: number): string {
  return `${address.address}/${prefixLength}`;
}

/** Canonical text for 4 or 16 network-order bytes. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
  }
  // RFC 5952 §4.2: shorten the longest run of ≥2 zero groups (the first one on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The IPv4 broadcast address of `bytes/prefixLength` (host bits all ones). */
export function ipv4Broadcast(bytes: Uint8Array, prefixLength: number): Buffer {
  const value = ((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  const hostMask = prefixLength >= 32 ? 0 : 0xffffffff >>> prefixLength;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((value | hostMask) >>> 0);
  return out;
}

function ipv6ToBytes(text: string): Buffer | null {
  let head = text;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return null;
    tailV4 = tail.split('.').map(Number);
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16));
  const left = parseGroups(halves[0]);
  const right = parseGroups(halves[1]);
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...left, ...new Array<number>(halves.length === 1 ? 0 : missing).fill(0), ...right];
  if (groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(g, i * 2);
  });
  if (tailV4.length === 4) out.set(tailV4, 12);
  return out;
}
