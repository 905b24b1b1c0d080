/**
 * The in-place writers (AttrWriter, writeGenlMessage) must produce exactly the bytes of the
 * allocate-per-attribute helpers the golden tests pin to ipvsadm's, for any mix of attributes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AttrWriter,
  attr,
  cstring,
  formatMessage,
  genlMessageSize,
  genlPayload,
  nested,
  u16,
  u16be,
  u32,
  writeGenlMessage,
} from '../../../src/sys/nlattr.js';

type Item =
  | { kind: 'u16' | 'u16be' | 'u32'; type: number; value: number }
  | { kind: 'bytes'; type: number; value: Uint8Array }
  | { kind: 'cstring'; type: number; value: string }
  | { kind: 'nested'; type: number; children: Item[] };

const type = fc.integer({ min: 1, max: 0x3fff });
const { item } = fc.letrec<{ item: Item }>((tie) => ({
  item: fc.oneof(
    { depthSize: 'small' },
    fc.record({ kind: fc.constant('u16' as const), type, value: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ kind: fc.constant('u16be' as const), type, value: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ kind: fc.constant('u32' as const), type, value: fc.integer({ min: 0, max: 0xffffffff }) }),
    fc.record({ kind: fc.constant('bytes' as const), type, value: fc.uint8Array({ maxLength: 40 }) }),
    fc.record({ kind: fc.constant('cstring' as const), type, value: fc.string({ maxLength: 20 }) }),
    fc.record({
      kind: fc.constant('nested' as const),
      type,
      children: fc.array(tie('item'), { maxLength: 4 }),
    }),
  ),
}));

/** The reference: one Buffer per attribute. */
function reference(i: Item): Buffer {
  switch (i.kind) {
    case 'u16':
      return u16(i.type, i.value);
    case 'u16be':
      return u16be(i.type, i.value);
    case 'u32':
      return u32(i.type, i.value);
    case 'bytes':
      return attr(i.type, Buffer.from(i.value));
    case 'cstring':
      return cstring(i.type, i.value);
    case 'nested':
      return nested(i.type, i.children.map(reference));
  }
}

function write(w: AttrWriter, i: Item): void {
  switch (i.kind) {
    case 'u16':
      w.u16(i.type, i.value);
      return;
    case 'u16be':
      w.u16be(i.type, i.value);
      return;
    case 'u32':
      w.u32(i.type, i.value);
      return;
    case 'bytes':
      w.bytes(i.type, i.value);
      return;
    case 'cstring':
      w.cstring(i.type, i.value);
      return;
    case 'nested': {
      const start = w.begin(i.type);
      for (const c of i.children) write(w, c);
      w.end(start);
    }
  }
}

describe('AttrWriter', () => {
  it('writes the same bytes as attr/nested for any attributes, growing as needed', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 6 }), fc.integer({ min: 4, max: 64 }), (items, size) => {
        const w = new AttrWriter(size);
        for (const i of items) write(w, i);
        expect(w.finish().toString('hex')).toBe(Buffer.concat(items.map(reference)).toString('hex'));
      }),
      { numRuns: 500 },
    );
  });

  it('appends pre-encoded attributes as they are', () => {
    const key = nested(1, [u16(1, 2), u32(2, 7)]);
    const w = new AttrWriter(8);
    w.append(key).u32(3, 9);
    expect(w.finish()).toEqual(Buffer.concat([key, u32(3, 9)]));
  });
});

describe('writeGenlMessage', () => {
  it('lays messages out as formatMessage(genlPayload(...)) back to back', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            type: fc.integer({ min: 17, max: 0xffff }),
            flags: fc.integer({ min: 0, max: 0xffff }),
            seq: fc.integer({ min: 0, max: 0xffffffff }),
            cmd: fc.integer({ min: 0, max: 255 }),
            attrs: fc.array(item.map(reference), { maxLength: 3 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        (messages) => {
          const size = messages.reduce((n, m) => n + genlMessageSize(m.attrs), 0);
          const out = Buffer.alloc(size);
          let off = 0;
          for (const m of messages)
            off = writeGenlMessage(out, off, { ...m, pid: 4242, version: 1 }, m.attrs);
          expect(off).toBe(size);
          const expected = Buffer.concat(
            messages.map((m) => formatMessage(m.type, m.flags, m.seq, 4242, genlPayload(m.cmd, 1, m.attrs))),
          );
          expect(out.toString('hex')).toBe(expected.toString('hex'));
        },
      ),
      { numRuns: 300 },
    );
  });
});
