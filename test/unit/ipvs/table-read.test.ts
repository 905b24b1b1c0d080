/**
 * The table reader walks the kernel's dumps: the services, then one GET_DEST dump per service with
 * that service's key. A fake dump answers from encoded replies here; the walk against the kernel's
 * IPVS is shown in the VM tier (test/vm/apply.test.ts compares `ipvsctl list` with ipvsadm).
 */
import { describe, expect, it } from 'vitest';
import { destAttrs, serviceAttrs, serviceKeyOnly } from '../../../src/ipvs/codec.js';
import * as C from '../../../src/ipvs/constants.js';
import { type IpvsDump, readKernelTable } from '../../../src/ipvs/table-read.js';
import {
  addressService,
  type Destination,
  fwmarkService,
  type VirtualService,
} from '../../../src/model/ipvs.js';
import type { GenlReply } from '../../../src/sys/genl-socket.js';
import { nested, parseAttrs, u32 } from '../../../src/sys/nlattr.js';

const service = (key: VirtualService['key']): VirtualService => ({
  key,
  scheduler: 'wrr',
  persistence: null,
  flags: 0,
});
const dest = (address: string, port: number, weight: number): Destination => ({
  address,
  port,
  forwarding: 'nat',
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
});
const reply = (cmd: number, attrs: Buffer): GenlReply => ({ cmd, attrs: parseAttrs(attrs) });

const web = service(addressService('inet', 'tcp', '203.0.113.10', 80));
const marked = service(fwmarkService('inet', 7));
const kernel = new Map<VirtualService, Destination[]>([
  [web, [dest('198.51.100.11', 8080, 3), dest('198.51.100.12', 8080, 1)]],
  [marked, [dest('198.51.100.21', 0, 1)]],
]);

/** Answers as the kernel would, and records what was asked. */
function fakeDump(extraServices: GenlReply[] = [], extraDests: GenlReply[] = []) {
  const asked: { cmd: number; key: string | null; what: string }[] = [];
  const dump: IpvsDump = async (req, what) => {
    const key = req.attrs[0]?.toString('hex') ?? null;
    asked.push({ cmd: req.cmd, key, what });
    if (req.cmd === C.IPVS_CMD_GET_SERVICE)
      return [...kernel.keys()]
        .map((s) => reply(C.IPVS_CMD_NEW_SERVICE, serviceAttrs(s)))
        .concat(extraServices);
    const owner = [...kernel.keys()].find((s) => serviceKeyOnly(s.key).toString('hex') === key);
    return (kernel.get(owner as VirtualService) ?? [])
      .map((d) => reply(C.IPVS_CMD_NEW_DEST, destAttrs(d)))
      .concat(extraDests);
  };
  return { dump, asked };
}

describe('readKernelTable', () => {
  it('lists the services, then dumps each one’s destinations with its key', async () => {
    const { dump, asked } = fakeDump();
    const table = await readKernelTable(dump);
    expect(table.map((s) => s.key)).toEqual([web.key, marked.key]);
    expect(table.map((s) => s.destinations.map((d) => `${d.address}:${d.port}/${d.weight}`))).toEqual([
      ['198.51.100.11:8080/3', '198.51.100.12:8080/1'],
      ['198.51.100.21:0/1'],
    ]);
    expect(asked).toEqual([
      { cmd: C.IPVS_CMD_GET_SERVICE, key: null, what: 'listing IPVS services' },
      {
        cmd: C.IPVS_CMD_GET_DEST,
        key: serviceKeyOnly(web.key).toString('hex'),
        what: 'listing IPVS destinations',
      },
      {
        cmd: C.IPVS_CMD_GET_DEST,
        key: serviceKeyOnly(marked.key).toString('hex'),
        what: 'listing IPVS destinations',
      },
    ]);
  });

  it('skips and counts replies that do not decode, and dumps nothing for a skipped service', async () => {
    const noAddress = nested(C.IPVS_CMD_ATTR_DEST, [u32(C.IPVS_DEST_ATTR_WEIGHT, 1)]);
    const { dump, asked } = fakeDump(
      [reply(C.IPVS_CMD_NEW_SERVICE, Buffer.alloc(0))],
      [reply(C.IPVS_CMD_NEW_DEST, noAddress)],
    );
    const counted: number[] = [];
    const table = await readKernelTable(dump, (n) => counted.push(n));
    expect(table.map((s) => s.destinations.length)).toEqual([2, 1]);
    // One service without attributes, one destination without an address in each of two dumps.
    expect(counted).toEqual([3]);
    expect(asked).toHaveLength(3);
  });

  it('passes a refused dump on as it came', async () => {
    const refused = new Error('listing IPVS destinations: EPERM');
    const { dump } = fakeDump();
    const failing: IpvsDump = async (req, what) => {
      if (req.cmd === C.IPVS_CMD_GET_DEST) throw refused;
      return dump(req, what);
    };
    await expect(readKernelTable(failing)).rejects.toBe(refused);
  });
});
