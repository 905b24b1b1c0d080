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
    fc.assert(
      fc.property(
        fc.constantFrom(...realDatagrams),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (datagram, cut, flips) => {
          const buf = Buffer.from(datagram.subarray(0, cut % (datagram.length + 1)));
          for (const [at, value] of flips) if (buf.length) buf[at % buf.length] = value;
          decodeEverything(buf);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('reports a datagram whose length field lies as malformed', () => {
    const datagram = Buffer.from(realDatagrams[0] as Buffer);
    datagram.writeUInt32LE(datagram.length + 100, 0);
    expect(parseMessages(datagram)).toEqual({ messages: [], malformed: true });
  });
});
