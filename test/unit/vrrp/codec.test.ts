/**
 * The codec as tables: every drop reason from one small change to a valid advert, the encoder's
 * refusals, and round trips for both versions and families.
 */
import { describe, expect, it } from 'vitest';
import { internetChecksum, onesComplementSum, pseudoHeader } from '../../../src/vrrp/checksum.js';
import {
  advertProblem,
  advertVrid,
  type DecodeContext,
  decodeAdvert,
  type EncodeOptions,
  type ExpectedAdvert,
  encodeAdvert,
} from '../../../src/vrrp/codec.js';
import {
  DROP_REASONS,
  type DropReason,
  emptyDropCounts,
  isDropReason,
} from '../../../src/vrrp/drop-reasons.js';
import type { VrrpAdvert } from '../../../src/vrrp/packet.js';

const V2: VrrpAdvert = {
  version: 2,
  vrid: 51,
  priority: 100,
  advertIntervalCs: 100,
  addresses: ['203.0.113.100', '203.0.113.101'],
  authType: 'pass',
  password: 'secret',
};
const V3_INET: VrrpAdvert = {
  version: 3,
  vrid: 51,
  priority: 100,
  advertIntervalCs: 10,
  addresses: ['203.0.113.100'],
  authType: 'none',
  password: '',
};
const V3_INET6: VrrpAdvert = { ...V3_INET, addresses: ['2001:db8::100', '2001:db8::101'] };

const TX4: EncodeOptions = { srcAddress: '203.0.113.2', dstAddress: '224.0.0.18' };
const TX6: EncodeOptions = { srcAddress: 'fe80::2', dstAddress: 'ff02::12' };

function ctx4(expected?: ExpectedAdvert, ttl = 255): DecodeContext {
  return {
    family: 'inet',
    srcAddress: TX4.srcAddress,
    dstAddress: TX4.dstAddress,
    ttlOrHopLimit: ttl,
    expected,
  };
}
function ctx6(expected?: ExpectedAdvert): DecodeContext {
  return {
    family: 'inet6',
    srcAddress: TX6.srcAddress,
    dstAddress: TX6.dstAddress,
    ttlOrHopLimit: 255,
    expected,
  };
}
function expectedOf(a: VrrpAdvert): ExpectedAdvert {
  const { version, vrid, authType, password, addresses, advertIntervalCs } = a;
  return { version, vrid, authType, password, addresses, advertIntervalCs };
}

function encode(a: VrrpAdvert, opts: EncodeOptions = a.addresses[0]?.includes(':') ? TX6 : TX4): Buffer {
  const r = encodeAdvert(a, opts);
  if (!r.ok) throw new Error(r.detail);
  return r.bytes;
}

/** Re-checksums a v2 message after a test edited it, so the edit, not the checksum, is what fails. */
function fixV2Checksum(b: Buffer): Buffer {
  b.writeUInt16BE(0, 6);
  b.writeUInt16BE(internetChecksum(b), 6);
  return b;
}
function fixV3Checksum(b: Buffer, opts: EncodeOptions, family: 'inet' | 'inet6'): Buffer {
  b.writeUInt16BE(0, 6);
  const pseudo = pseudoHeader(family, opts.srcAddress, opts.dstAddress, b.length);
  if (pseudo === null) throw new Error('pseudo');
  b.writeUInt16BE(internetChecksum(pseudo, b), 6);
  return b;
}

function reasonOf(bytes: Uint8Array, ctx: DecodeContext): DropReason | 'ok' {
  const r = decodeAdvert(bytes, ctx);
  return r.ok ? 'ok' : r.reason;
}

describe('checksum', () => {
  it('matches the RFC 1071 §3 numerical example', () => {
    // 0001 f203 f4f5 f6f7 → sum 2ddf0 → folded ddf2.
    expect(onesComplementSum(Buffer.from('0001f203f4f5f6f7', 'hex'))).toBe(0xddf2);
    expect(internetChecksum(Buffer.from('0001f203f4f5f6f7', 'hex'))).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero and sums parts as one buffer', () => {
    expect(onesComplementSum(Buffer.from([0x12]))).toBe(0x1200);
    const whole = Buffer.from('4500003c1c4640004006b1e6ac100a63ac100a0c', 'hex');
    expect(internetChecksum(whole.subarray(0, 8), whole.subarray(8))).toBe(internetChecksum(whole));
  });

  it('lays out the IPv4 and IPv6 pseudo-headers', () => {
    expect(pseudoHeader('inet', '203.0.113.2', '224.0.0.18', 12)?.toString('hex')).toBe(
      'cb007102e00000120070000c',
    );
    expect(pseudoHeader('inet6', 'fe80::2', 'ff02::12', 24)?.toString('hex')).toBe(
      `fe800000000000000000000000000002ff020000000000000000000000000012${'00000018'}00000070`,
    );
    expect(pseudoHeader('inet', 'fe80::2', '224.0.0.18', 12)).toBeNull();
    expect(pseudoHeader('inet6', 'not-an-address', 'ff02::12', 12)).toBeNull();
  });
});

describe('drop reasons', () => {
  it('are a fixed list with a zeroed counter map', () => {
    expect(new Set(DROP_REASONS).size).toBe(DROP_REASONS.length);
    expect(Object.values(emptyDropCounts())).toEqual(DROP_REASONS.map(() => 0));
    expect(isDropReason('bad_ttl')).toBe(true);
    expect(isDropReason('nope')).toBe(false);
  });
});

describe('round trips', () => {
  it.each([
    ['v2 PASS, two VIPs', V2, ctx4],
    ['v2 no auth', { ...V2, authType: 'none', password: '' } as VrrpAdvert, ctx4],
    ['v2 8-byte password', { ...V2, password: 'abcdefgh' }, ctx4],
    ['v2 multi-byte UTF-8 password', { ...V2, password: 'pässwö' }, ctx4],
    ['v2 255 s, priority 255', { ...V2, advertIntervalCs: 25500, priority: 255 }, ctx4],
    ['v3 IPv4', V3_INET, ctx4],
    ['v3 IPv4 max interval, priority 0', { ...V3_INET, advertIntervalCs: 4095, priority: 0 }, ctx4],
    ['v3 IPv6', V3_INET6, ctx6],
    ['v3 no addresses', { ...V3_INET, addresses: [] }, ctx4],
  ] as const)('%s', (_name, advert, ctx) => {
    const bytes = encode(advert, ctx === ctx6 ? TX6 : TX4);
    expect(decodeAdvert(bytes, ctx())).toEqual({ ok: true, advert });
    expect(decodeAdvert(bytes, ctx(expectedOf(advert)))).toEqual({ ok: true, advert });
  });

  it('returns IPv6 addresses in canonical form and compares configured ones canonically', () => {
    const bytes = encode({ ...V3_INET6, addresses: ['2001:DB8:0::100', '2001:db8:0:0:0:0:0:101'] });
    const r = decodeAdvert(
      bytes,
      ctx6({ ...expectedOf(V3_INET6), addresses: ['2001:0db8::101', '2001:db8::0100'] }),
    );
    expect(r).toEqual({ ok: true, advert: V3_INET6 });
  });

  it('v3 checksums depend on the destination: a unicast advert does not verify as multicast', () => {
    const unicast = { srcAddress: '203.0.113.2', dstAddress: '203.0.113.3' };
    const bytes = encode(V3_INET, unicast);
    expect(bytes.readUInt16BE(6)).not.toBe(encode(V3_INET).readUInt16BE(6));
    expect(reasonOf(bytes, { ...ctx4(), dstAddress: '203.0.113.3' })).toBe('ok');
    expect(reasonOf(bytes, ctx4())).toBe('bad_checksum');
  });

  it('v2 checksums do not: the same bytes verify whatever the addresses', () => {
    const bytes = encode(V2, { srcAddress: '203.0.113.2', dstAddress: '203.0.113.3' });
    expect(bytes.equals(encode(V2))).toBe(true);
    expect(reasonOf(bytes, { ...ctx4(), srcAddress: '198.51.100.1' })).toBe('ok');
  });

  it('ignores the v3 reserved bits on receipt (RFC 5798 §5.2.6)', () => {
    const bytes = encode(V3_INET);
    bytes[4] = (bytes[4] ?? 0) | 0xf0;
    expect(decodeAdvert(fixV3Checksum(bytes, TX4, 'inet'), ctx4())).toEqual({ ok: true, advert: V3_INET });
  });

  it('ignores v2 authentication data when no authentication is used (RFC 3768 §5.3.10)', () => {
    const none: VrrpAdvert = { ...V2, authType: 'none', password: '' };
    const bytes = encode(none);
    bytes.write('junkjunk', bytes.length - 8, 'latin1');
    expect(decodeAdvert(fixV2Checksum(bytes), ctx4(expectedOf(none)))).toEqual({ ok: true, advert: none });
  });

  it('reads the VRID without decoding', () => {
    expect(advertVrid(encode(V2))).toBe(51);
    expect(advertVrid(Buffer.alloc(7))).toBeNull();
  });
});

describe('each drop reason', () => {
  const valid = encode(V2);
  const expected = expectedOf(V2);

  it('bad_ttl: TTL or hop limit other than 255, unicast or not', () => {
    expect(decodeAdvert(valid, ctx4(expected, 254))).toEqual({
      ok: false,
      reason: 'bad_ttl',
      detail: 'TTL 254, expected 255',
    });
    expect(reasonOf(encode(V3_INET6), { ...ctx6(), ttlOrHopLimit: 1 })).toBe('bad_ttl');
  });

  it('truncated: shorter than the header, or than the addresses and auth data announced', () => {
    expect(reasonOf(valid.subarray(0, 7), ctx4())).toBe('truncated');
    expect(reasonOf(valid.subarray(0, valid.length - 1), ctx4())).toBe('truncated');
    expect(reasonOf(Buffer.alloc(0), ctx4())).toBe('truncated');
  });

  it('bad_length: longer than announced', () => {
    const longer = Buffer.concat([valid, Buffer.alloc(2)]);
    expect(reasonOf(fixV2Checksum(longer), ctx4())).toBe('bad_length');
  });

  it('bad_version: not 2 or 3, not ours, or v2 over IPv6', () => {
    const v4 = Buffer.from(valid);
    v4[0] = 0x41;
    expect(reasonOf(fixV2Checksum(v4), ctx4())).toBe('bad_version');
    expect(reasonOf(valid, ctx4({ ...expected, version: 3 }))).toBe('bad_version');
    expect(reasonOf(encode(V3_INET), ctx4({ ...expectedOf(V3_INET), version: 2 }))).toBe('bad_version');
    expect(decodeAdvert(valid, ctx6())).toMatchObject({ ok: false, reason: 'bad_version' });
  });

  it('bad_type: anything but ADVERTISEMENT', () => {
    const t2 = Buffer.from(valid);
    t2[0] = 0x22;
    expect(reasonOf(fixV2Checksum(t2), ctx4())).toBe('bad_type');
  });

  it('bad_checksum: v2 over the message, v3 with the pseudo-header', () => {
    const bad = Buffer.from(valid);
    bad.writeUInt16BE(bad.readUInt16BE(6) ^ 1, 6);
    expect(decodeAdvert(bad, ctx4())).toMatchObject({ ok: false, reason: 'bad_checksum' });
    expect(reasonOf(encode(V3_INET6), { ...ctx6(), srcAddress: 'fe80::3' })).toBe('bad_checksum');
    expect(reasonOf(encode(V3_INET), { ...ctx4(), srcAddress: 'garbage' })).toBe('bad_checksum');
  });

  it('vrid_mismatch: only when a VRID is expected', () => {
    expect(reasonOf(valid, ctx4({ ...expected, vrid: 52 }))).toBe('vrid_mismatch');
    const { vrid: _vrid, ...anyVrid } = expected;
    expect(reasonOf(valid, ctx4(anyVrid))).toBe('ok');
  });

  it('auth_unsupported: AH (2) and unknown types, even without expectations', () => {
    for (const [type, detail] of [
      [2, 'auth type 2 (IP Authentication Header, removed by RFC 3768)'],
      [3, 'unknown auth type 3'],
      [255, 'unknown auth type 255'],
    ] as const) {
      const b = Buffer.from(valid);
      b[4] = type;
      expect(decodeAdvert(fixV2Checksum(b), ctx4())).toEqual({
        ok: false,
        reason: 'auth_unsupported',
        detail,
      });
    }
  });

  it('auth_mismatch: other type, other password, a prefix or an extension of ours', () => {
    expect(reasonOf(valid, ctx4({ ...expected, authType: 'none', password: '' }))).toBe('auth_mismatch');
    expect(reasonOf(encode({ ...V2, authType: 'none', password: '' }), ctx4(expected))).toBe('auth_mismatch');
    for (const password of ['Secret', 'secre', 'secret1', '']) {
      expect(reasonOf(valid, ctx4({ ...expected, password }))).toBe('auth_mismatch');
    }
    expect(decodeAdvert(valid, ctx4({ ...expected, password: 'other' }))).toEqual({
      ok: false,
      reason: 'auth_mismatch',
      detail: 'password differs',
    });
  });

  it('address_count_mismatch and address_list_mismatch (order does not matter)', () => {
    expect(reasonOf(valid, ctx4({ ...expected, addresses: ['203.0.113.100'] }))).toBe(
      'address_count_mismatch',
    );
    expect(decodeAdvert(valid, ctx4({ ...expected, addresses: ['203.0.113.100', '203.0.113.102'] }))).toEqual(
      {
        ok: false,
        reason: 'address_list_mismatch',
        detail: 'missing 203.0.113.102; unexpected 203.0.113.101',
      },
    );
    expect(reasonOf(valid, ctx4({ ...expected, addresses: ['203.0.113.101', '203.0.113.100'] }))).toBe('ok');
    const dup = encode({ ...V2, addresses: ['203.0.113.100', '203.0.113.100'] });
    expect(reasonOf(dup, ctx4(expected))).toBe('address_list_mismatch');
  });

  it('interval_mismatch: v2 only; a v3 backup takes the master interval', () => {
    expect(decodeAdvert(valid, ctx4({ ...expected, advertIntervalCs: 200 }))).toEqual({
      ok: false,
      reason: 'interval_mismatch',
      detail: 'advert interval 1 s, configured 2 s',
    });
    const v3 = encode(V3_INET);
    expect(decodeAdvert(v3, ctx4({ ...expectedOf(V3_INET), advertIntervalCs: 100 }))).toEqual({
      ok: true,
      advert: V3_INET,
    });
  });

  it('bad_interval: zero, in either version', () => {
    const v2 = Buffer.from(valid);
    v2[5] = 0;
    expect(reasonOf(fixV2Checksum(v2), ctx4())).toBe('bad_interval');
    const v3 = encode(V3_INET);
    v3.writeUInt16BE(0xf000, 4); // reserved bits set, interval 0
    expect(reasonOf(fixV3Checksum(v3, TX4, 'inet'), ctx4())).toBe('bad_interval');
  });

  it('checks in the RFC order: the first problem is the one counted', () => {
    // Wrong TTL and wrong checksum: TTL first. Bad checksum and foreign VRID: checksum first.
    const bad = Buffer.from(valid);
    bad[7] = (bad[7] ?? 0) ^ 0xff;
    expect(reasonOf(bad, ctx4(expected, 64))).toBe('bad_ttl');
    expect(reasonOf(bad, ctx4({ ...expected, vrid: 9 }))).toBe('bad_checksum');
    // Foreign VRID with another password: the VRID (another router's advert, not an attack on ours).
    expect(reasonOf(valid, ctx4({ ...expected, vrid: 9, password: 'x' }))).toBe('vrid_mismatch');
  });
});

describe('encoder refusals', () => {
  it.each([
    ['VRID 0', { ...V2, vrid: 0 }, TX4, 'VRID must be 1-255, got 0'],
    ['priority 256', { ...V2, priority: 256 }, TX4, 'priority must be 0-255, got 256'],
    ['fractional priority', { ...V2, priority: 1.5 }, TX4, 'priority must be 0-255, got 1.5'],
    [
      'v2 over IPv6',
      { ...V2, addresses: ['2001:db8::1'] },
      TX6,
      'VRRPv2 is IPv4 only (RFC 3768); use version 3 for IPv6',
    ],
    [
      'v2 sub-second',
      { ...V2, advertIntervalCs: 50 },
      TX4,
      'VRRPv2 advert interval must be whole seconds, 1-255 s, got 50 cs',
    ],
    [
      'v2 256 s',
      { ...V2, advertIntervalCs: 25600 },
      TX4,
      'VRRPv2 advert interval must be whole seconds, 1-255 s, got 25600 cs',
    ],
    [
      'v3 4096 cs',
      { ...V3_INET, advertIntervalCs: 4096 },
      TX4,
      'VRRPv3 advert interval must be 1-4095 cs, got 4096 cs',
    ],
    [
      'v3 with a password',
      { ...V3_INET, authType: 'pass', password: 'x' },
      TX4,
      'VRRPv3 has no authentication (RFC 5798 §9)',
    ],
    ['9-byte password', { ...V2, password: 'ninebytes' }, TX4, 'password must be at most 8 bytes, got 9'],
    ['password without PASS', { ...V2, authType: 'none' }, TX4, 'a password needs auth type pass'],
    [
      'IPv6 VIP on IPv4',
      { ...V3_INET, addresses: ['2001:db8::1'] },
      TX4,
      'virtual address "2001:db8::1" is not an IPv4 address',
    ],
    ['bad source', V3_INET, { ...TX4, srcAddress: 'x' }, 'source "x" is not an IP address'],
    [
      'mixed families',
      V3_INET,
      { ...TX4, dstAddress: 'ff02::12' },
      `destination "ff02::12" is not an address of the source's family`,
    ],
    [
      '256 addresses',
      { ...V3_INET, addresses: new Array(256).fill('203.0.113.1') },
      TX4,
      'at most 255 virtual addresses fit the count field, got 256',
    ],
  ] as const)('%s', (_name, advert, opts, detail) => {
    expect(advertProblem(advert as VrrpAdvert, opts)).toBe(detail);
    expect(encodeAdvert(advert as VrrpAdvert, opts)).toEqual({ ok: false, detail });
  });
});
