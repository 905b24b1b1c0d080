/**
 * The CLI's backend opens the daemon's backend (node-netlink) only for what it does not do on its
 * own worker threads, and only once. Its table read and batches against the kernel are shown in
 * test/netns/genl-worker.test.ts (host kernel) and test/vm/apply.test.ts (IPVS).
 */
import { describe, expect, it } from 'vitest';
import type { IpvsBackend } from '../../../src/ipvs/backend.js';
import { createCommandBackend } from '../../../src/ipvs/command-backend.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';

describe('the command backend', () => {
  it('opens the other backend on first need, once, and closes it', async () => {
    const memory = createMemoryBackend();
    let opened = 0;
    let closed = 0;
    const backend = createCommandBackend(async () => {
      opened++;
      return { ...memory, close: () => closed++ } as IpvsBackend;
    });
    expect(await backend.apply([])).toEqual([]); // nothing to send: no socket at all
    expect(opened).toBe(0);
    expect(await backend.timeouts()).toEqual(await memory.timeouts());
    expect((await backend.info()).version).toBe((await memory.info()).version);
    expect(await backend.daemons()).toEqual([]);
    expect(opened).toBe(1);
    backend.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(1);
  });

  it('reports a failure to open the other backend on each command of a switch', async () => {
    const backend = createCommandBackend(async () => {
      throw new Error('no netlink here');
    });
    const { sent, done } = backend.switchDaemons([
      { op: 'stop', state: 'backup' },
      { op: 'start', daemon: { state: 'master', interface: 'eth0', syncId: 1 } },
    ]);
    expect(sent).toBe(false);
    const outcomes = await done;
    expect(outcomes).toHaveLength(2);
    for (const o of outcomes) expect(o?.message).toContain('no netlink here');
    await expect(backend.info()).rejects.toThrow('no netlink here');
    backend.close();
  });
});
