/**
 * Malformed kernel replies are dropped, never a crash: random bytes and mutations of real replies
 * (the golden capture) through the framing and every decoder.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeDaemon,
  decodeDestination,
  decodeInfo,
  decodeService,
  decodeTimeouts,
} from '../../../src/ipvs/codec.js';
import { parseAttrs, parseGenl, parseMessages } from '../../../src/sys/nlattr.js';

const golden: Record<string, { datagrams: string[] }> = JSON.parse(
  readFileSync(new URL('./fixtures/ipvsadm-netlink.json', import.meta.url), 'utf8'),
);
const realDatagrams = Object.values(golden).flatMap((s) => s.datagrams.map((h) => Buffer.from(h, 'hex')));

/** A real reply cut short and with up to 8 bytes overwritten. */
const mangledDatagram = fc
  .tuple(
    fc.constantFrom(...realDatagrams),
    fc.nat(),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
  )
  .map(([datagram, cut, flips]) => {
    const buf = Buffer.from(datagram.subarray(0, cut % (datagram.length + 1)));
    for (const [at, value] of flips) if (buf.length) buf[at % buf.length] = value;
    return buf;
  });

function decodeEverything(buf: Buffer): void {
  for (const attrs of messageAttrs(buf)) {
    decodeService(attrs);
    // `stats` is decoded on first read: read it, so the counters' places are checked too.
    void decodeDestination(attrs, 'inet')?.stats;
    void decodeDestination(attrs, 'inet6')?.stats;
    decodeInfo(attrs);
    decodeTimeouts(attrs);
    decodeDaemon(attrs);
  }
}

/** Each message's top-level attributes, as the socket hands them over (or the raw payload's). */
function messageAttrs(buf: Buffer): Map<number, Buffer>[] {
  return parseMessages(buf).messages.map((m) => parseGenl(m.payload)?.attrs ?? parseAttrs(m.payload));
}

describe('decoders on hostile input', () => {
  it('never throw on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        decodeEverything(Buffer.from(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('never throw on truncated or bit-flipped kernel replies', () => {
    expect(realDatagrams.length).toBeGreaterThan(50);
    fc.assert(fc.property(mangledDatagram, decodeEverything), { numRuns: 5000 });
  });

  it('decodes the real destinations of the capture with their counters', () => {
    // The capture holds destinations (ipvsadm -L after adding them), so this reads real ones.
    const destinations = realDatagrams
      .flatMap(messageAttrs)
      .map((attrs) => decodeDestination(attrs, 'inet'))
      .filter((d) => d !== null);
    expect(destinations.length).toBeGreaterThan(3);
    for (const d of destinations) {
      expect(d.address).toMatch(/^[0-9a-f.:]+$/);
      expect(Number.isInteger(d.stats.conns)).toBe(true);
    }
  });

  it('reports a datagram whose length field lies as malformed', () => {
    const datagram = Buffer.from(realDatagrams[0] as Buffer);
    datagram.writeUInt32LE(datagram.length + 100, 0);
    expect(parseMessages(datagram)).toEqual({ messages: [], malformed: true });
  });
});
