/**
 * Echo request and reply for the ping check (keepalived's PING_CHECK, check_ping.c ping_it and
 * recv_it). Pure. The request is an 8-byte ICMP header and keepalived's 128-byte filler
 * (ICMP_BUFSIZE, layer4.c set_buf); IPv4's checksum is computed here (RFC 792), ICMPv6's by the
 * kernel (RFC 3542 §3.1). A reply is the echo reply of the right family with our identifier and
 * sequence number; keepalived compares type and sequence (its ping socket matched the identifier
 * for it), and anything shorter than the header is malformed.
 */
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
