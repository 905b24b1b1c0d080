/**
 * The one generic netlink socket (src/sys/genl-socket.ts), which the daemon and `ipvsctl` both use
 * for IPVS, against this machine's kernel. It has no IPVS, so the generic netlink controller stands
 * in: read-only requests, no namespace needed. The oracle for a batch is the same requests sent one
 * by one, each with its own ACK. The IPVS table itself is read and written through this socket in
 * the VM tier (test/vm/apply.test.ts compares with ipvsadm).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NetlinkError } from '../../src/errors.js';
import { createKernelBackend } from '../../src/ipvs/kernel-backend.js';
import { createGenlSocket, type GenlRequest, type GenlSocket } from '../../src/sys/genl-socket.js';
import { cstring, getString, getU16 } from '../../src/sys/nlattr.js';

// <linux/genetlink.h>
const GENL_ID_CTRL = 16;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const ENOENT = 2;
const EBADF = 9;

const getFamily = (name: string): GenlRequest => ({
  cmd: CTRL_CMD_GETFAMILY,
  attrs: [cstring(CTRL_ATTR_FAMILY_NAME, name)],
});
const familyName = (r: { attrs: Map<number, Buffer> }) => getString(r.attrs, CTRL_ATTR_FAMILY_NAME);

describe('the generic netlink socket on the kernel', () => {
  let sock: GenlSocket | undefined;
  afterEach(() => {
    sock?.close();
    sock = undefined;
  });

  it('resolves a family by name, and an unknown one is ENOENT from the kernel', async () => {
    sock = createGenlSocket();
    expect(await sock.resolveFamily('nlctrl')).toMatchObject({ id: GENL_ID_CTRL });
    const missing = sock.resolveFamily('nosuchfamily');
    await expect(missing).rejects.toBeInstanceOf(NetlinkError);
    await expect(missing).rejects.toMatchObject({ errno: ENOENT, code: 'IPVSD_ERR_KERNEL_REJECTED' });
  });

  it('batch: each request errno across chunks, as the same requests one by one report them', async () => {
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
    sock = createGenlSocket({ batchSize: 3 });
    const oneByOne: number[] = [];
    for (const name of names) {
      oneByOne.push(
        await sock.request(GENL_ID_CTRL, 2, getFamily(name)).then(
          () => 0,
          (err: NetlinkError) => err.errno,
        ),
      );
    }
    expect(oneByOne).toEqual(names.map((n) => (n.startsWith('nope') ? ENOENT : 0)));
    expect(await sock.batch(GENL_ID_CTRL, 2, names.map(getFamily))).toEqual(oneByOne);
    expect(await sock.batch(GENL_ID_CTRL, 2, [])).toEqual([]);
    // The socket goes on after refused requests, and a batch whose last request is refused
    // reports it on that request only.
    expect(await sock.batch(GENL_ID_CTRL, 2, [getFamily('nlctrl'), getFamily('nope')])).toEqual([0, ENOENT]);
    expect(sock.dropped()).toBe(0);
  });

  it('dump: every family, each the one a single request resolves; dumps on one socket queue', async () => {
    sock = createGenlSocket();
    const s = sock;
    const [first, second] = await Promise.all([
      s.dump(GENL_ID_CTRL, 2, { cmd: CTRL_CMD_GETFAMILY, attrs: [] }),
      s.dump(GENL_ID_CTRL, 2, { cmd: CTRL_CMD_GETFAMILY, attrs: [] }),
    ]);
    const names = (first ?? []).map(familyName);
    expect(names).toContain('nlctrl');
    expect((second ?? []).map(familyName)).toEqual(names);
    for (const reply of first ?? []) {
      const name = familyName(reply) as string;
      const [single] = await s.request(GENL_ID_CTRL, 2, getFamily(name));
      expect(getU16(single?.attrs ?? new Map(), CTRL_ATTR_FAMILY_ID)).toBe(
        getU16(reply.attrs, CTRL_ATTR_FAMILY_ID),
      );
    }
  });

  it('submit: sendmsg runs inside the call on an idle socket, and the results follow', async () => {
    sock = createGenlSocket({ batchSize: 2 });
    const { sent, results } = sock.submit(GENL_ID_CTRL, 2, [getFamily('nope'), getFamily('nlctrl')]);
    expect(sent).toBe(true);
    expect(await results).toEqual([ENOENT, 0]);
    expect(() => sock?.submit(GENL_ID_CTRL, 2, [getFamily('a'), getFamily('b'), getFamily('c')])).toThrow(
      RangeError,
    );
  });

  it('once closed, requests fail with EBADF and batches report EBADF for each request', async () => {
    const s = createGenlSocket();
    s.close();
    await expect(s.request(GENL_ID_CTRL, 2, getFamily('nlctrl'))).rejects.toMatchObject({ errno: EBADF });
    expect(await s.batch(GENL_ID_CTRL, 2, [getFamily('nlctrl'), getFamily('nope')])).toEqual([EBADF, EBADF]);
    s.close(); // idempotent
  });

  it('the IPVS backend on a kernel without IPVS says so', async () => {
    await expect(createKernelBackend()).rejects.toMatchObject({
      code: 'IPVSD_ERR_IPVS_UNAVAILABLE',
      errno: ENOENT,
    });
  });
});
