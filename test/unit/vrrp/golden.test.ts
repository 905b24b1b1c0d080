/**
 * Golden bytes. First, a v2 and a v3 advert whose checksums are summed here by hand, word by word
 * (RFC 1071), independently of src/. Then the adverts keepalived 2.2.7 really sent
 * (fixtures/capture-keepalived.sh): we must decode each into the advert its config describes, and
 * encode that advert back into exactly keepalived's bytes — the same checksum included. The IPv6
 * checksum in the capture was computed by the kernel (keepalived leaves it to IPV6_CHECKSUM), so it
 * checks our pseudo-header against a third implementation.
 */
import { describe, expect, it } from 'vitest';
import { decodeAdvert, encodeAdvert } from '../../../src/vrrp/codec.js';
import { VRRP_MCAST_GROUP4, VRRP_MCAST_GROUP6, type VrrpAdvert } from '../../../src/vrrp/packet.js';
import { CAPTURE_NAMES, contextOf, loadCapture } from './ip-packet.js';

/** RFC 1071 by hand: add 16-bit words, fold the carries back in, complement. */
function handChecksum(words: readonly number[]): number {
  let sum = words.reduce((a, b) => a + b, 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function encodeOk(advert: VrrpAdvert, srcAddress: string, dstAddress: string): Buffer {
  const result = encodeAdvert(advert, { srcAddress, dstAddress });
  if (!result.ok) throw new Error(result.detail);
  return result.bytes;
}

describe('hand-computed checksums', () => {
  it('v2: VRID 51, priority 100, 1 s, PASS "secret", VIP 203.0.113.100 (no pseudo-header)', () => {
    const words = [
      0x2133, // version 2, type 1 | VRID 51
      0x6401, // priority 100 | 1 address
      0x0101, // auth type 1 (PASS) | adver int 1 s
      0x0000, // checksum, zero while summing
      0xcb00, // 203.0.
      0x7164, // 113.100
      0x7365, // "se"
      0x6372, // "cr"
      0x6574, // "et"
      0x0000, // zero padding to 8 bytes
    ];
    const checksum = handChecksum(words);
    expect(checksum).toBe(0x0119);
    const bytes = encodeOk(
      {
        version: 2,
        vrid: 51,
        priority: 100,
        advertIntervalCs: 100,
        addresses: ['203.0.113.100'],
        authType: 'pass',
        password: 'secret',
      },
      '203.0.113.2',
      VRRP_MCAST_GROUP4,
    );
    expect(bytes.toString('hex')).toBe('2133640101010119cb0071647365637265740000');
    expect(bytes.readUInt16BE(6)).toBe(checksum);
  });

  it('v3 over IPv4: VRID 51, priority 100, 10 cs, VIP 203.0.113.100, with the pseudo-header', () => {
    const words = [
      // pseudo-header: source, destination, zero | protocol, VRRP length
      0xcb00,
      0x7102, // 203.0.113.2
      0xe000,
      0x0012, // 224.0.0.18
      0x0070, // 0 | 112
      0x000c, // 12 bytes: 8 of header, one IPv4 address
      // VRRP message
      0x3133, // version 3, type 1 | VRID 51
      0x6401, // priority 100 | 1 address
      0x000a, // reserved 0 | max adver int 10 cs
      0x0000, // checksum
      0xcb00,
      0x7164, // 203.0.113.100
    ];
    const checksum = handChecksum(words);
    expect(checksum).toBe(0x11ca);
    const bytes = encodeOk(
      {
        version: 3,
        vrid: 51,
        priority: 100,
        advertIntervalCs: 10,
        addresses: ['203.0.113.100'],
        authType: 'none',
        password: '',
      },
      '203.0.113.2',
      VRRP_MCAST_GROUP4,
    );
    expect(bytes.toString('hex')).toBe('31336401000a11cacb007164');
  });
});

/** What each capture's keepalived.conf says, with the priority of the packet at hand. */
const CONFIGURED: Record<(typeof CAPTURE_NAMES)[number], VrrpAdvert> = {
  'v2-pass': {
    version: 2,
    vrid: 51,
    priority: 100,
    advertIntervalCs: 100,
    addresses: ['203.0.113.100'],
    authType: 'pass',
    password: 'secret',
  },
  'v2-none-two-vips': {
    version: 2,
    vrid: 7,
    priority: 200,
    advertIntervalCs: 200,
    addresses: ['203.0.113.100', '203.0.113.101'],
    authType: 'none',
    password: '',
  },
  'v3-inet': {
    version: 3,
    vrid: 51,
    priority: 100,
    advertIntervalCs: 10,
    addresses: ['203.0.113.100'],
    authType: 'none',
    password: '',
  },
  'v3-inet6': {
    version: 3,
    vrid: 52,
    priority: 150,
    advertIntervalCs: 100,
    addresses: ['2001:db8::100'],
    authType: 'none',
    password: '',
  },
};

describe.each(CAPTURE_NAMES)('keepalived capture %s', (name) => {
  const capture = loadCapture(name);
  const configured = CONFIGURED[name];
  const expected = {
    version: configured.version,
    vrid: configured.vrid,
    authType: configured.authType,
    password: configured.password,
    addresses: configured.addresses,
    advertIntervalCs: configured.advertIntervalCs,
  };

  it('holds adverts at the configured priority, then the priority-0 adverts of its shutdown', () => {
    const priorities = capture.packets.map((p) => p.payload[2]);
    expect(priorities.filter((p) => p === configured.priority).length).toBeGreaterThanOrEqual(1);
    expect(priorities.at(-1)).toBe(0);
  });

  it('was sent with TTL/hop limit 255 to the VRRP group', () => {
    for (const p of capture.packets) {
      expect(p.ttlOrHopLimit).toBe(255);
      expect(p.dstAddress).toBe(p.family === 'inet' ? VRRP_MCAST_GROUP4 : 'ff02:0:0:0:0:0:0:12');
    }
  });

  it.each(
    capture.packets.map((p, i) => [i, p] as const),
  )('packet %i decodes to the configured advert', (_i, p) => {
    const result = decodeAdvert(p.payload, contextOf(p, expected));
    expect(result).toEqual({ ok: true, advert: { ...configured, priority: p.payload[2] } });
  });

  it.each(
    capture.packets.map((p, i) => [i, p] as const),
  )('packet %i is what we encode for the same advert, checksum included', (_i, p) => {
    const result = decodeAdvert(p.payload, contextOf(p));
    if (!result.ok) throw new Error(result.detail);
    const ours = encodeOk(result.advert, p.srcAddress, p.dstAddress);
    expect(ours.toString('hex')).toBe(p.payload.toString('hex'));
  });
});

describe('IPv6 capture', () => {
  it('comes from the fixed-MAC link-local source, so the kernel checksum is reproducible', () => {
    const [first] = loadCapture('v3-inet6').packets;
    expect(first?.srcAddress).toBe('fe80:0:0:0:0:ff:fe00:2');
    const ours = encodeOk(
      {
        version: 3,
        vrid: 52,
        priority: 150,
        advertIntervalCs: 100,
        addresses: ['2001:db8::100'],
        authType: 'none',
        password: '',
      },
      'fe80::ff:fe00:2',
      VRRP_MCAST_GROUP6,
    );
    expect(ours.toString('hex')).toBe(first?.payload.toString('hex'));
  });
});
