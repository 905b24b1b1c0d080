/**
 * The native generic netlink worker (native/src/genl_worker.cc, wrapped by src/sys/genl-dump.ts
 * and src/sys/genl-batch.ts) against this machine's kernel. It has no IPVS, so the generic netlink
 * controller stands in: read-only requests, no namespace needed. The oracle is the event-loop
 * socket (src/sys/genl-socket.ts) making the same requests. The IPVS table itself is read and
 * written through these in the VM tier (test/vm/apply.test.ts compares with ipvsadm).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NetlinkError } from '../../src/errors.js';
import { openGenlBatchSender } from '../../src/sys/genl-batch.js';
import { GenlDumpRefused, genlDumpEach } from '../../src/sys/genl-dump.js';
import { createGenlSocket, type GenlRequest, type GenlSocket } from '../../src/sys/genl-socket.js';
import { loadNative } from '../../src/sys/native.js';
import { cstring, getString, u16 } from '../../src/sys/nlattr.js';

// <linux/genetlink.h>
const GENL_ID_CTRL = 16;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_CMD_GETPOLICY = 10;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const ENOENT = 2;

const spec = {
  familyName: 'nlctrl',
  version: 2,
  listCmd: CTRL_CMD_GETFAMILY,
  keyAttr: CTRL_ATTR_FAMILY_ID,
  timeoutMs: 5000,
};
const familyName = (r: { attrs: Map<number, Buffer> }) => getString(r.attrs, CTRL_ATTR_FAMILY_NAME);
const getFamily = (name: string): GenlRequest => ({
  cmd: CTRL_CMD_GETFAMILY,
  attrs: [cstring(CTRL_ATTR_FAMILY_NAME, name)],
});

describe('the native generic netlink worker on the kernel', () => {
  let sock: GenlSocket | undefined;
  afterEach(() => {
    sock?.close();
    sock = undefined;
  });

  it('genlDumpEach: the list, then one dump per listed item, each in the kernel order', async () => {
    sock = createGenlSocket();
    const oracle = (await sock.dump(GENL_ID_CTRL, 2, { cmd: CTRL_CMD_GETFAMILY, attrs: [] })).map(familyName);
    expect(oracle).toContain('nlctrl');
    // The second level dumps the family list again (a GETFAMILY dump ignores the attribute).
    const r = await genlDumpEach({ ...spec, eachCmd: CTRL_CMD_GETFAMILY });
    expect(r.familyId).toBe(GENL_ID_CTRL);
    expect(r.list.map(familyName)).toEqual(oracle);
    expect(r.each).toHaveLength(oracle.length);
    for (const replies of r.each) expect(replies.map(familyName)).toEqual(oracle);
    expect(r.dropped).toBe(0);
  });

  it('genlDumpEach: sends each reply its key attribute and stops at the first dump the kernel refuses', async () => {
    sock = createGenlSocket();
    const families = await sock.dump(GENL_ID_CTRL, 2, { cmd: CTRL_CMD_GETFAMILY, attrs: [] });
    // The oracle: each family's policy dump one by one; the first the kernel refuses (a family
    // without a policy) is where the native walk must stop, with the same errno.
    let refused: { index: number; errno: number } | null = null;
    for (const [index, f] of families.entries()) {
      const id = f.attrs.get(CTRL_ATTR_FAMILY_ID)?.readUInt16LE(0) as number;
      try {
        await sock.dump(GENL_ID_CTRL, 2, { cmd: CTRL_CMD_GETPOLICY, attrs: [u16(CTRL_ATTR_FAMILY_ID, id)] });
      } catch (err) {
        refused = { index, errno: (err as NetlinkError).errno };
        break;
      }
    }
    const walk = genlDumpEach({ ...spec, eachCmd: CTRL_CMD_GETPOLICY });
    if (refused === null) {
      const r = await walk;
      expect(r.each.every((replies) => replies.length > 0)).toBe(true);
      return;
    }
    await expect(walk).rejects.toBeInstanceOf(GenlDumpRefused);
    await expect(walk).rejects.toMatchObject({ level: 'each', index: refused.index, errno: refused.errno });
  });

  it('genlDumpEach: an unknown family is ENOENT', async () => {
    const walk = genlDumpEach({ ...spec, familyName: 'nosuchfamily', eachCmd: CTRL_CMD_GETFAMILY });
    await expect(walk).rejects.toBeInstanceOf(NetlinkError);
    await expect(walk).rejects.toMatchObject({ errno: ENOENT, code: 'IPVSD_ERR_NETLINK' });
  });

  it('the batch sender reports each request errno across chunks, as the event-loop socket does', async () => {
    const names = [
      'nlctrl',
      'nope1',
      'nlctrl',
      'nlctrl',
      'nope2',
      'nope3',
      'nlctrl',
      'nope4',
      'nlctrl',
      'nope5',
    ];
    sock = createGenlSocket();
    const oracle = await sock.batch(GENL_ID_CTRL, 2, names.map(getFamily));
    expect(oracle).toEqual(names.map((n) => (n.startsWith('nope') ? ENOENT : 0)));
    const sender = openGenlBatchSender('nlctrl', { batchSize: 3 });
    try {
      expect(sender.familyId).toBe(GENL_ID_CTRL);
      const encoded: string[] = [];
      const errnos = await sender.send(names, (n) => {
        encoded.push(n);
        return getFamily(n);
      });
      expect(errnos).toEqual(oracle);
      expect(encoded).toEqual(names);
      expect(await sender.send([], getFamily)).toEqual([]);
      // The socket goes on after refused requests: a second batch on it.
      expect(await sender.send(['nope', 'nlctrl'], getFamily)).toEqual([ENOENT, 0]);
    } finally {
      sender.close();
    }
  });

  it('the batch sender: an unknown family throws ENOENT at open', () => {
    expect(() => openGenlBatchSender('nosuchfamily')).toThrow(expect.objectContaining({ errno: ENOENT }));
  });

  it('the native batch socket takes one chunk at a time and refuses chunks once closed', async () => {
    const { GenlBatchSocket } = loadNative();
    const s = new GenlBatchSocket('nlctrl', 5000);
    const { writeGenlChunk, NLM_F_REQUEST } = await import('../../src/sys/nlattr.js');
    const chunk = writeGenlChunk(
      [getFamily('nlctrl'), getFamily('nope')],
      { type: GENL_ID_CTRL, version: 2, pid: 0, flags: NLM_F_REQUEST },
      (i) => 100 + i,
    );
    const first = s.send(chunk, 101);
    await expect(s.send(chunk, 101)).rejects.toMatchObject({ code: 'EBUSY' });
    expect(Array.from(await first)).toEqual([101, ENOENT]);
    s.close();
    await expect(s.send(chunk, 101)).rejects.toMatchObject({ code: 'EBADF' });
    s.close(); // idempotent
  });
});
