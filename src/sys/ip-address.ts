/**
 * IP addresses and prefixes for the netlink layer. Netlink carries addresses as raw network-order
 * bytes, and we compare what we asked for with what the kernel dumps, so every address leaves
 * here in the model's one canonical text form (model/address.ts, which does the parsing and
 * formatting): dotted quad for IPv4, RFC 5952 for IPv6.
 */
import { IpvsdError } from '../errors.js';
import { addressToBytes, bytesToAddress } from '../model/address.js';
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
  const bytes = addressToBytes(text);
  if (bytes === null) return null;
  const family: Family = bytes.length === 4 ? 'inet' : 'inet6';
  return { family, address: bytesToAddress(bytes, family), bytes };
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

/** Canonical text for 4 or 16 network-order bytes. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  }
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return bytesToAddress(buffer, bytes.length === 4 ? 'inet' : 'inet6');
}

/** The IPv4 broadcast address of `bytes/prefixLength` (host bits all ones). */
export function ipv4Broadcast(bytes: Uint8Array, prefixLength: number): Buffer {
  const value = ((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  const hostMask = prefixLength >= 32 ? 0 : 0xffffffff >>> prefixLength;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((value | hostMask) >>> 0);
  return out;
}
