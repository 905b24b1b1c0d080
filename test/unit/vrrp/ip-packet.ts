/**
 * Test helper: the keepalived captures hold whole IP packets; the decoder takes what the raw socket
 * gives (the VRRP message plus source, destination and TTL). This splits one into the other, with a
 * deliberately minimal IPv4/IPv6 header reader that shares no code with src/.
 */
import { readFileSync } from 'node:fs';
import type { DecodeContext } from '../../../src/vrrp/codec.js';

export interface ReceivedPacket {
  readonly family: 'inet' | 'inet6';
  readonly srcAddress: string;
  readonly dstAddress: string;
  readonly ttlOrHopLimit: number;
  /** The VRRP message. */
  readonly payload: Buffer;
  /** The IP header, for tests that look at what keepalived put there. */
  readonly header: Buffer;
}

const ipv4 = (b: Buffer, at: number): string => [...b.subarray(at, at + 4)].join('.');
/** Full (uncompressed) groups are enough for the test: the decoder returns canonical text, compared separately. */
function ipv6(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + i * 2).toString(16));
  return groups.join(':');
}

export function parseIpPacket(hex: string): ReceivedPacket {
  const ip = Buffer.from(hex, 'hex');
  const version = (ip[0] ?? 0) >> 4;
  if (version === 4) {
    const ihl = ((ip[0] ?? 0) & 0x0f) * 4;
    const total = ip.readUInt16BE(2);
    if (ip[9] !== 112) throw new Error('not VRRP');
    return {
      family: 'inet',
      ttlOrHopLimit: ip[8] ?? 0,
      srcAddress: ipv4(ip, 12),
      dstAddress: ipv4(ip, 16),
      payload: ip.subarray(ihl, total),
      header: ip.subarray(0, ihl),
    };
  }
  if (version === 6) {
    const payloadLength = ip.readUInt16BE(4);
    if (ip[6] !== 112) throw new Error('not VRRP (or extension headers)');
    return {
      family: 'inet6',
      ttlOrHopLimit: ip[7] ?? 0,
      srcAddress: ipv6(ip, 8),
      dstAddress: ipv6(ip, 24),
      payload: ip.subarray(40, 40 + payloadLength),
      header: ip.subarray(0, 40),
    };
  }
  throw new Error(`IP version ${version}`);
}

export function contextOf(p: ReceivedPacket, expected?: DecodeContext['expected']): DecodeContext {
  return {
    family: p.family,
    srcAddress: p.srcAddress,
    dstAddress: p.dstAddress,
    ttlOrHopLimit: p.ttlOrHopLimit,
    ...(expected === undefined ? {} : { expected }),
  };
}

export interface Capture {
  readonly description: string;
  readonly keepalived: string;
  readonly config: readonly string[];
  readonly packets: readonly ReceivedPacket[];
}

export const CAPTURE_NAMES = ['v2-pass', 'v2-none-two-vips', 'v3-inet', 'v3-inet6'] as const;

export function loadCapture(name: (typeof CAPTURE_NAMES)[number]): Capture {
  const raw = JSON.parse(
    readFileSync(new URL(`./fixtures/keepalived-${name}.json`, import.meta.url), 'utf8'),
  ) as { description: string; keepalived: string; config: string[]; packets: string[] };
  return { ...raw, packets: raw.packets.map(parseIpPacket) };
}
