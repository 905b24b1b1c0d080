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
  decodeDestinationAt,
  decodeInfo,
  decodeService,
  decodeTimeouts,
} from '../../../src/ipvs/codec.js';
import {
  forEachMessage,
  GENL_HDRLEN,
  NLMSG_HDRLEN,
  parseAttrs,
  parseGenl,
  parseMessages,
} from '../../../src/sys/nlattr.js';

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
  const { messages } = parseMessages(buf);
  for (const m of messages) {
    const g = parseGenl(m.payload);
    const attrs = g?.attrs ?? parseAttrs(m.payload);
    decodeService(attrs);
    decodeDestination(attrs, 'inet');
    decodeDestination(attrs, 'inet6');
    decodeInfo(attrs);
    decodeTimeouts(attrs);
    decodeDaemon(attrs);
  }
  destinationsBothWays(buf);
}

/**
 * Each message's destination decoded in place (as a table dump does) and from its parsed
 * attributes; `stats` is read, so the counters' places are checked too.
 */
function destinationsBothWays(buf: Buffer): { inPlace: unknown[]; parsed: unknown[] } {
  const inPlace: unknown[] = [];
  const parsed: unknown[] = [];
  forEachMessage(buf, (off, len) => {
    const attrsAt = off + NLMSG_HDRLEN + GENL_HDRLEN;
    const attrs = attrsAt > off + len ? new Map() : parseAttrs(buf.subarray(attrsAt, off + len));
    for (const family of ['inet', 'inet6'] as const) {
      const a = decodeDestinationAt(buf, attrsAt, off + len, family);
      const b = decodeDestination(attrs, family);
      inPlace.push(a && { ...a, stats: a.stats });
      parsed.push(b && { ...b, stats: b.stats });
    }
  });
  return { inPlace, parsed };
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

  it('reads a destination in place exactly as from its parsed attributes, whole or mangled', () => {
    const whole = realDatagrams.map(destinationsBothWays);
    // The capture holds destinations (ipvsadm -L after adding them), so this compares real ones.
    expect(whole.flatMap((w) => w.inPlace).filter((d) => d !== null).length).toBeGreaterThan(3);
    for (const w of whole) expect(w.inPlace).toEqual(w.parsed);
    fc.assert(
      fc.property(mangledDatagram, (buf) => {
        const { inPlace, parsed } = destinationsBothWays(buf);
        expect(inPlace).toEqual(parsed);
      }),
      { numRuns: 3000 },
    );
  });

  it('reports a datagram whose length field lies as malformed', () => {
    const datagram = Buffer.from(realDatagrams[0] as Buffer);
    datagram.writeUInt32LE(datagram.length + 100, 0);
    expect(parseMessages(datagram)).toEqual({ messages: [], malformed: true });
  });
});
