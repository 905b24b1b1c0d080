/**
 * splitDumpEach: how the native two-level dump's one buffer becomes replies per level. The bytes
 * are framed with the same helpers the sockets use; the native side's own behaviour on the kernel
 * is in test/netns/genl-worker.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { GenlDumpRefused, splitDumpEach } from '../../../src/sys/genl-dump.js';
import {
  cstring,
  formatMessage,
  genlPayload,
  getString,
  NLMSG_DONE,
  NLMSG_ERROR,
} from '../../../src/sys/nlattr.js';

const FAMILY = 0x25;
const SEQ = 1000;
const NAME = 7;

const reply = (seq: number, name: string) =>
  formatMessage(FAMILY, 2, seq, 0, genlPayload(1, 1, [cstring(NAME, name)]));
const int32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  return b;
};
const done = (seq: number, status = 0) => formatMessage(NLMSG_DONE, 2, seq, 0, int32(status));
const error = (seq: number, errno: number) =>
  formatMessage(NLMSG_ERROR, 0, seq, 0, Buffer.concat([int32(-errno), Buffer.alloc(16)]));
const names = (replies: readonly { attrs: Map<number, Buffer> }[]) =>
  replies.map((r) => getString(r.attrs, NAME));

describe('splitDumpEach', () => {
  it('gives the list and, for each of its replies, the replies of the dump made for it', () => {
    const buf = Buffer.concat([
      reply(SEQ, 'a'),
      reply(SEQ, 'b'),
      reply(SEQ, 'c'),
      done(SEQ),
      reply(SEQ + 1, 'a1'),
      reply(SEQ + 1, 'a2'),
      done(SEQ + 1),
      done(SEQ + 2),
      reply(SEQ + 3, 'c1'),
      done(SEQ + 3),
    ]);
    const r = splitDumpEach(FAMILY, 1, buf, SEQ);
    expect(names(r.list)).toEqual(['a', 'b', 'c']);
    expect(r.each.map(names)).toEqual([['a1', 'a2'], [], ['c1']]);
    expect(r.dropped).toBe(0);
  });

  it('an empty list is an empty table', () => {
    const r = splitDumpEach(FAMILY, 1, done(SEQ), SEQ);
    expect(r.list).toEqual([]);
    expect(r.each).toEqual([]);
  });

  it('throws which dump the kernel refused, with its errno, from an ERROR or a DONE status', () => {
    const listRefused = () => splitDumpEach(FAMILY, 1, error(SEQ, 1), SEQ);
    expect(listRefused).toThrow(GenlDumpRefused);
    expect(listRefused).toThrow(expect.objectContaining({ level: 'list', errno: 1, errnoName: 'EPERM' }));
    const eachRefused = () =>
      splitDumpEach(
        FAMILY,
        1,
        Buffer.concat([reply(SEQ, 'a'), reply(SEQ, 'b'), done(SEQ), done(SEQ + 1), done(SEQ + 2, -16)]),
        SEQ,
      );
    expect(eachRefused).toThrow(
      expect.objectContaining({ level: 'each', index: 1, errno: 16, code: 'IPVSD_ERR_KERNEL_REJECTED' }),
    );
  });

  it('drops what is malformed or not ours, and keeps the numbering of the rest', () => {
    const headerOnly = formatMessage(FAMILY, 2, SEQ, 0, Buffer.alloc(0)); // too short for a genl header
    const buf = Buffer.concat([
      reply(SEQ, 'a'),
      headerOnly,
      reply(SEQ, 'c'),
      formatMessage(0x99, 2, SEQ, 0, genlPayload(1, 1, [])), // another family
      reply(SEQ + 50, 'stray'), // a sequence number nothing was sent with
      reply(SEQ - 7, 'old'),
      done(SEQ),
      reply(SEQ + 1, 'a1'),
      reply(SEQ + 2, 'lost'), // belongs to the malformed reply: dropped with it
      reply(SEQ + 3, 'c1'),
      Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]), // a truncated header
    ]);
    const r = splitDumpEach(FAMILY, 1, buf, SEQ);
    expect(names(r.list)).toEqual(['a', 'c']);
    expect(r.each.map(names)).toEqual([['a1'], ['c1']]);
    expect(r.dropped).toBe(6);
  });
});
