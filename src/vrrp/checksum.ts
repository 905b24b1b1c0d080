/**
 * The Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 puts under it. VRRPv2 sums the VRRP
 * message alone (RFC 3768 §5.3.8); VRRPv3 adds the IPv4 or IPv6 pseudo-header of the packet that
 * carries it (RFC 5798 §5.2.8), so a v3 checksum depends on the source and destination addresses and a
 * unicast advert's checksum differs from the multicast one. Pure: bytes in, numbers out.
 */
import { addressToBytes } from '../model/address.js';
import type { Family } from '../model/ipvs.js';

/** IANA protocol number of VRRP: the IPv4 Protocol / IPv6 Next Header (RFC 3768 §5.2.4, RFC 5798 §5.1.1.4). */
export const IPPROTO_VRRP = 112;

/**
 * The 16-bit ones' complement sum of `bytes` as big-endian words, added to `initial` (RFC 1071 §4.1),
 * folded to 16 bits. An odd trailing byte counts as the high half of a word padded with zero.
 */
export function onesComplementSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  if (even < bytes.length) sum += (bytes[even] ?? 0) << 8;
  // Two folds are enough for any buffer below 2^16 words; loop for the rest.
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The checksum field's value: the ones' complement of the ones' complement sum of every part. Over a
 * message whose checksum field holds a correct value, this returns 0 — which is how receivers verify.
 */
export function internetChecksum(...parts: readonly Uint8Array[]): number {
  let sum = 0;
  for (const part of parts) sum = onesComplementSum(part, sum);
  return ~sum & 0xffff;
}

/**
 * The pseudo-header a VRRPv3 checksum covers: for IPv4 source, destination, zero, protocol 112 and the
 * VRRP length as 16 bits (the TCP/UDP layout, RFC 768); for IPv6 the RFC 8200 §8.1 layout (source,
 * destination, 32-bit length, three zero bytes, next header 112). null when an address is not of
 * `family`: the caller cannot compute a checksum for a packet it cannot describe.
 */
export function pseudoHeader(
  family: Family,
  srcAddress: string,
  dstAddress: string,
  vrrpLength: number,
): Buffer | null {
  const src = addressToBytes(srcAddress);
  const dst = addressToBytes(dstAddress);
  const size = family === 'inet' ? 4 : 16;
  if (src === null || dst === null || src.length !== size || dst.length !== size) return null;
  if (family === 'inet') {
    const out = Buffer.alloc(12);
    src.copy(out, 0);
    dst.copy(out, 4);
    out[9] = IPPROTO_VRRP;
    out.writeUInt16BE(vrrpLength & 0xffff, 10);
    return out;
  }
  const out = Buffer.alloc(40);
  src.copy(out, 0);
  dst.copy(out, 16);
  out.writeUInt32BE(vrrpLength >>> 0, 32);
  out[39] = IPPROTO_VRRP;
  return out;
}
