/**
 * GenlSocket.dumpSeries (what the IPVS backend reads destinations with) against the real kernel. This
 * machine's kernel has no IPVS, so the series dumps the generic netlink controller's family list
 * (CTRL_CMD_GETFAMILY with NLM_F_DUMP): read-only, no namespace needed. The oracle is a plain dump()
 * of the same request on the same socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NetlinkError } from '../../src/errors.js';
import { createGenlSocket, type GenlRequest, type GenlSocket } from '../../src/sys/genl-socket.js';
import { getString } from '../../src/sys/nlattr.js';

// <linux/genetlink.h>
const GENL_ID_CTRL = 16;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_NAME = 2;
const EOPNOTSUPP = 95;

const getFamilies: GenlRequest = { cmd: CTRL_CMD_GETFAMILY, attrs: [] };
/** A command the controller does not have: the kernel refuses the dump with EOPNOTSUPP. */
const unknownCommand: GenlRequest = { cmd: 0x7e, attrs: [] };

describe('GenlSocket.dumpSeries on the kernel', () => {
  let sock: GenlSocket | undefined;
  afterEach(() => {
    sock?.close();
    sock = undefined;
  });

  it('runs every dump of the series and hands each reply over with its request index', async () => {
    sock = createGenlSocket();
    const oracle = (await sock.dump(GENL_ID_CTRL, 1, getFamilies)).map((r) =>
      getString(r.attrs, CTRL_ATTR_FAMILY_NAME),
    );
    expect(oracle).toContain('nlctrl');

    const names: (string | null)[][] = [[], [], [], [], []];
    await sock.dumpSeries(
      GENL_ID_CTRL,
      1,
      [getFamilies, getFamilies, getFamilies, getFamilies, getFamilies],
      (i, r) => {
        names[i]?.push(getString(r.attrs, CTRL_ATTR_FAMILY_NAME));
      },
    );
    for (const list of names) expect(list).toEqual(oracle);
    expect(sock.dropped()).toBe(0);
  });

  it('resolves at once for an empty series', async () => {
    sock = createGenlSocket();
    const seen: number[] = [];
    await sock.dumpSeries(GENL_ID_CTRL, 1, [], (i) => seen.push(i));
    expect(seen).toEqual([]);
  });

  it('stops at the first dump the kernel refuses, with its errno, and sends nothing after it', async () => {
    sock = createGenlSocket();
    const seen = new Set<number>();
    const series = sock.dumpSeries(GENL_ID_CTRL, 1, [getFamilies, unknownCommand, getFamilies], (i) => {
      seen.add(i);
    });
    await expect(series).rejects.toBeInstanceOf(NetlinkError);
    await expect(series).rejects.toMatchObject({ errno: EOPNOTSUPP, code: 'IPVSD_ERR_KERNEL_REJECTED' });
    expect([...seen]).toEqual([0]);
    // The socket is still usable: the next dump queues behind the failed series and works.
    expect((await sock.dump(GENL_ID_CTRL, 1, getFamilies)).length).toBeGreaterThan(0);
  });

  it('fails a series on a closed socket instead of hanging', async () => {
    sock = createGenlSocket();
    const series = sock.dumpSeries(GENL_ID_CTRL, 1, [getFamilies, getFamilies], () => {});
    sock.close();
    await expect(series).rejects.toBeInstanceOf(NetlinkError);
  });
});
