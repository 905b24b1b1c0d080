/**
 * Echo request and reply for the ping check (keepalived's PING_CHECK, check_ping.c ping_it and
 * recv_it). Pure. The request is an 8-byte ICMP header and keepalived's 128-byte filler
 * (ICMP_BUFSIZE, layer4.c set_buf); IPv4's checksum is computed here (RFC 792), ICMPv6's by the
 * kernel (RFC 3542 §3.1). A reply is the echo reply of the right family with our identifier and
 * sequence number; keepalived compares type and sequence (its ping socket matched the identifier
 * for it), and anything shorter than the header is malformed.
 */
import { canonicalAddress } from '../model/address.js';
import { keepalivedFiller } from './udp-payload.js';

/** RFC 792 / RFC 4443 §4. */
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
export const ICMP_HEADER_BYTES = 8;
/** check_ping.c ICMP_BUFSIZE. */
export const ICMP_ECHO_PAYLOAD_BYTES = 128;

const FILLER = keepalivedFiller(ICMP_ECHO_PAYLOAD_BYTES);

/** RFC 1071 Internet checksum of `bytes`. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (bytes.length % 2 === 1) sum += (bytes[bytes.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function encodeEchoRequest(family: 4 | 6, identifier: number, sequence: number): Buffer {
  const out = Buffer.alloc(ICMP_HEADER_BYTES + ICMP_ECHO_PAYLOAD_BYTES);
  out[0] = family === 4 ? ICMP_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
  out.writeUInt16BE(identifier & 0xffff, 4);
  out.writeUInt16BE(sequence & 0xffff, 6);
  FILLER.copy(out, ICMP_HEADER_BYTES);
  if (family === 4) out.writeUInt16BE(internetChecksum(out), 2);
  return out;
}

export type EchoReply =
  | { readonly kind: 'reply'; readonly identifier: number; readonly sequence: number }
  /** Too short, or not an echo reply: dropped and counted. */
  | { readonly kind: 'malformed' };

export function decodeEchoReply(family: 4 | 6, message: Uint8Array): EchoReply {
  if (message.length < ICMP_HEADER_BYTES) return { kind: 'malformed' };
  if (message[0] !== (family === 4 ? ICMP_ECHO_REPLY : ICMP6_ECHO_REPLY) || message[1] !== 0)
    return { kind: 'malformed' };
  return {
    kind: 'reply',
    identifier: ((message[4] as number) << 8) | (message[5] as number),
    sequence: ((message[6] as number) << 8) | (message[7] as number),
  };
}

/** RFC 792 Destination Unreachable; RFC 4443 §3.1. */
export const ICMP_DEST_UNREACH = 3;
export const ICMP6_DST_UNREACH = 1;
const IPPROTO_UDP = 17;

/** An ICMP error about a UDP datagram we sent: the quoted headers say which socket it is for. */
export interface UdpUnreachable {
  readonly code: number;
  /** The quoted datagram's source and destination. */
  readonly source: string;
  readonly sourcePort: number;
  readonly destination: string;
  readonly destinationPort: number;
}

function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return canonicalAddress(groups.join(':'));
}

/**
 * A destination unreachable message that quotes a UDP datagram (RFC 792: the IP header and the
 * first 8 bytes of the datagram; RFC 4443: as much of the packet as fits); null for anything else
 * or anything too short to say (malformed).
 */
export function decodeUdpUnreachable(family: 4 | 6, message: Uint8Array): UdpUnreachable | null {
  const m = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (m.length < ICMP_HEADER_BYTES) return null;
  if (family === 4) {
    if (m[0] !== ICMP_DEST_UNREACH) return null;
    const ip = m.subarray(ICMP_HEADER_BYTES);
    if (ip.length < 20 || (ip[0] as number) >> 4 !== 4) return null;
    const ihl = ((ip[0] as number) & 0x0f) * 4;
    if (ihl < 20 || ip.length < ihl + 4 || ip[9] !== IPPROTO_UDP) return null;
    return {
      code: m[1] as number,
      source: [...ip.subarray(12, 16)].join('.'),
      destination: [...ip.subarray(16, 20)].join('.'),
      sourcePort: ip.readUInt16BE(ihl),
      destinationPort: ip.readUInt16BE(ihl + 2),
    };
  }
  if (m[0] !== ICMP6_DST_UNREACH) return null;
  const ip = m.subarray(ICMP_HEADER_BYTES);
  // The UDP header right after the fixed header: a datagram we sent has no extension headers.
  if (ip.length < 44 || (ip[0] as number) >> 4 !== 6 || ip[6] !== IPPROTO_UDP) return null;
  return {
    code: m[1] as number,
    source: ipv6Text(ip.subarray(8, 24)),
    destination: ipv6Text(ip.subarray(24, 40)),
    sourcePort: ip.readUInt16BE(40),
    destinationPort: ip.readUInt16BE(42),
  };
}

const UNREACH_V4: Readonly<Record<number, string>> = {
  0: 'network unreachable',
  1: 'host unreachable',
  2: 'protocol unreachable',
  3: 'port unreachable',
  9: 'network administratively prohibited',
  10: 'host administratively prohibited',
  13: 'communication administratively prohibited',
};
const UNREACH_V6: Readonly<Record<number, string>> = {
  0: 'no route to destination',
  1: 'communication administratively prohibited',
  3: 'address unreachable',
  4: 'port unreachable',
};

/** "host unreachable (ICMP)" */
export function unreachableReason(family: 4 | 6, code: number): string {
  const text = (family === 4 ? UNREACH_V4 : UNREACH_V6)[code] ?? `destination unreachable, code ${code}`;
  return `${text} (ICMP${family === 6 ? 'v6' : ''})`;
}
