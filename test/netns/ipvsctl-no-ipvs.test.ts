/**
 * This machine's kernel has no IPVS at all: the place to show what an operator sees then. (The
 * other kernel errors need IPVS and are shown in the VM tier, test/vm/apply.test.ts.)
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetnsLab } from '../support/netns.js';

const lab = createNetnsLab();
afterAll(() => lab.cleanup());
const IPVSCTL = 'dist/src/bin/ipvsctl.js';

describe('ipvsctl on a kernel without IPVS', () => {
  it('list and apply fail with exit 1 and say how to get IPVS', async () => {
    // The premise: no IPVS here. If this machine ever gets IPVS, this test must move, not pass silently.
    expect(existsSync('/proc/net/ip_vs')).toBe(false);
    const ns = await lab.namespace('noipvs');
    const list = await lab.runNode(ns, IPVSCTL, ['list']);
    expect(list.code).toBe(1);
    expect(list.stderr).toBe(
      'ipvsctl: the kernel has no IPVS (generic netlink family "IPVS" not found): load it with `modprobe ip_vs`, or use a kernel built with CONFIG_IP_VS\n',
    );
    const apply = await lab.runNode(ns, IPVSCTL, ['apply', 'config/single-director.yaml']);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain('the kernel has no IPVS');
  });

  it('check needs no kernel at all', async () => {
    const ns = await lab.namespace('check');
    const r = await lab.runNode(ns, IPVSCTL, ['check', 'config/single-director.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
