/**
 * Anyone on the link can send protocol 112: the decoder must return a value for every input. Random
 * bytes under random contexts, then the real keepalived adverts with every byte flipped, truncated at
 * every length and mutated at random — and encode∘decode is the identity on every valid advert.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalAddress } from '../../../src/model/address.js';
import {
  type DecodeContext,
  type DecodeResult,
  decodeAdvert,
  encodeAdvert,
} from '../../../src/vrrp/codec.js';
import { DROP_REASONS } from '../../../src/vrrp/drop-reasons.js';
import type { VrrpAdvert } from '../../../src/vrrp/packet.js';
import { CAPTURE_NAMES, contextOf, loadCapture, type ReceivedPacket } from './ip-packet.js';

const captured: ReceivedPacket[] = CAPTURE_NAMES.flatMap((name) => loadCapture(name).packets);

function expectValue(r: DecodeResult): void {
  if (r.ok) {
    expect(typeof r.advert.priority).toBe('number');
  } else {
    expect(DROP_REASONS).toContain(r.reason);
    expect(typeof r.detail).toBe('string');
  }
}

const anyAddress = fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 }));
const anyExpected = fc.option(
  fc.record(
    {
      version: fc.constantFrom(2 as const, 3 as const),
      vrid: fc.integer({ min: -1, max: 300 }),
      authType: fc.constantFrom('none' as const, 'pass' as const),
      password: fc.string({ maxLength: 12 }),
      addresses: fc.array(anyAddress, { maxLength: 4 }),
      advertIntervalCs: fc.integer({ min: 0, max: 5000 }),
    },
    { requiredKeys: ['version', 'authType', 'password', 'addresses', 'advertIntervalCs'] },
  ),
  { nil: undefined },
);
const anyContext: fc.Arbitrary<DecodeContext> = fc.record({
  family: fc.constantFrom('inet' as const, 'inet6' as const),
  srcAddress: anyAddress,
  dstAddress: anyAddress,
  ttlOrHopLimit: fc.oneof(fc.constant(255), fc.integer({ min: -1, max: 256 })),
  expected: anyExpected,
});

describe('decodeAdvert on hostile input', () => {
  it('returns a value for random bytes under random contexts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), anyContext, (bytes, ctx) => {
        expectValue(decodeAdvert(bytes, ctx));
      }),
      { numRuns: 3000 },
    );
  });

  it('returns a value for random bytes that look like VRRP (version 2/3, type 1, TTL 255)', () => {
    const vrrpish = fc
      .tuple(fc.constantFrom(0x21, 0x31), fc.uint8Array({ minLength: 7, maxLength: 300 }))
      .map(([b0, rest]) => Uint8Array.from([b0, ...rest]));
    fc.assert(
      fc.property(vrrpish, anyContext, (bytes, ctx) => {
        expectValue(decodeAdvert(bytes, { ...ctx, ttlOrHopLimit: 255 }));
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts a view into a larger buffer (a socket read into a pool)', () => {
    const p = captured[0];
    if (p === undefined) throw new Error('no capture');
    const pool = Buffer.alloc(p.payload.length + 64, 0xee);
    p.payload.copy(pool, 32);
    const view = new Uint8Array(pool.buffer, pool.byteOffset + 32, p.payload.length);
    expect(decodeAdvert(view, contextOf(p)).ok).toBe(true);
  });

  describe.each(captured.map((p, i) => [i, p] as const))('captured packet %i', (_i, p) => {
    const ctx = contextOf(p);

    it('decodes as captured', () => {
      expect(decodeAdvert(p.payload, ctx).ok).toBe(true);
    });

    it('is dropped with every byte flipped (the checksum catches any one-byte change)', () => {
      for (let i = 0; i < p.payload.length; i++) {
        const b = Buffer.from(p.payload);
        b[i] = (b[i] ?? 0) ^ 0xff;
        const r = decodeAdvert(b, ctx);
        expectValue(r);
        expect(r.ok, `byte ${i} flipped`).toBe(false);
      }
    });

    it('is dropped as truncated at every shorter length', () => {
      for (let n = 0; n < p.payload.length; n++) {
        expect(decodeAdvert(p.payload.subarray(0, n), ctx)).toMatchObject({ ok: false, reason: 'truncated' });
      }
    });

    it('survives random mutations: byte writes, insertions, deletions', () => {
      const mutation = fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant('set' as const),
            at: fc.nat(),
            value: fc.integer({ min: 0, max: 255 }),
          }),
          fc.record({
            op: fc.constant('insert' as const),
            at: fc.nat(),
            value: fc.integer({ min: 0, max: 255 }),
          }),
          fc.record({ op: fc.constant('delete' as const), at: fc.nat(), value: fc.constant(0) }),
        ),
        { minLength: 1, maxLength: 6 },
      );
      fc.assert(
        fc.property(mutation, anyContext, fc.boolean(), (ops, randomCtx, keepCtx) => {
          const bytes = [...p.payload];
          for (const { op, at, value } of ops) {
            const i = bytes.length === 0 ? 0 : at % (bytes.length + (op === 'insert' ? 1 : 0));
            if (op === 'set' && bytes.length > 0) bytes[i] = value;
            else if (op === 'insert') bytes.splice(i, 0, value);
            else if (op === 'delete') bytes.splice(i, 1);
          }
          expectValue(decodeAdvert(Uint8Array.from(bytes), keepCtx ? ctx : randomCtx));
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('encode ∘ decode', () => {
  const ipv4 = fc.ipV4();
  const ipv6 = fc.ipV6();
  const common = {
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
  };
  const v3 = {
    ...common,
    version: fc.constant(3 as const),
    advertIntervalCs: fc.integer({ min: 1, max: 4095 }),
    authType: fc.constant('none' as const),
    password: fc.constant(''),
  };
  /** [advert, source, destination, family]: each family with its own addresses. */
  const sendable = fc.oneof(
    fc.tuple(
      fc.record({
        ...common,
        version: fc.constant(2 as const),
        advertIntervalCs: fc.integer({ min: 1, max: 255 }).map((s) => s * 100),
        addresses: fc.array(ipv4, { maxLength: 20 }),
        authType: fc.constantFrom('none' as const, 'pass' as const),
        password: fc.string({ maxLength: 8 }).filter((s) => Buffer.byteLength(s) <= 8 && !s.includes('\0')),
      }),
      ipv4,
      ipv4,
      fc.constant('inet' as const),
    ),
    fc.tuple(
      fc.record({ ...v3, addresses: fc.array(ipv4, { maxLength: 20 }) }),
      ipv4,
      ipv4,
      fc.constant('inet' as const),
    ),
    fc.tuple(
      fc.record({ ...v3, addresses: fc.array(ipv6, { maxLength: 10 }) }),
      ipv6,
      ipv6,
      fc.constant('inet6' as const),
    ),
  );

  it('decodes every encodable advert back to itself, with and without expectations', () => {
    fc.assert(
      fc.property(sendable, ([generated, srcAddress, dstAddress, family]) => {
        const a: VrrpAdvert = generated.authType === 'none' ? { ...generated, password: '' } : generated;
        const encoded = encodeAdvert(a, { srcAddress, dstAddress });
        if (!encoded.ok) throw new Error(encoded.detail);
        const ctx: DecodeContext = { family, srcAddress, dstAddress, ttlOrHopLimit: 255 };
        const back = decodeAdvert(encoded.bytes, ctx);
        if (!back.ok) throw new Error(`${back.reason}: ${back.detail}`);
        // Addresses come back in their canonical spelling.
        expect(back.advert).toEqual({ ...a, addresses: a.addresses.map(canonicalAddress) });
        const { version, vrid, authType, password, addresses, advertIntervalCs } = a;
        const again = decodeAdvert(encoded.bytes, {
          ...ctx,
          expected: { version, vrid, authType, password, addresses, advertIntervalCs },
        });
        expect(again).toEqual(back);
      }),
      { numRuns: 1000 },
    );
  });
});
