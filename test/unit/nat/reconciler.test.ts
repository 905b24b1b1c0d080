import { describe, expect, it } from 'vitest';
import { IpvsdError } from '../../../src/errors.js';
import { createMemoryNatBackend } from '../../../src/nat/memory-backend.js';
import { createNatReconciler, type NatReconcilerDeps } from '../../../src/nat/reconciler.js';
import type { FullNatService } from '../../../src/nat/rules.js';
import { createLogger } from '../../../src/sys/logger.js';

const silent = createLogger({ level: 'silent' });

const web: FullNatService = {
  name: 'web',
  family: 'inet',
  original: { protocol: 'tcp', address: '203.0.113.100', port: 80 },
  fwmark: null,
  destinations: [{ address: '198.51.100.11', port: 8080 }],
  source: '198.51.100.2',
};

function setup(extra: Partial<NatReconcilerDeps> = {}) {
  const backend = createMemoryNatBackend();
  let conntrack = '0';
  const nat = createNatReconciler({
    backend,
    logger: silent,
    ensureConntrack: async () => {
      const changed = conntrack !== '1';
      conntrack = '1';
      return changed;
    },
    ...extra,
  });
  return { backend, nat, conntrack: () => conntrack };
}

describe('NAT reconciler', () => {
  it('writes the table at start and sets conntrack', async () => {
    const { backend, nat, conntrack } = setup();
    await nat.setDesired([web], 'start');
    expect(backend.applied).toEqual([[web]]);
    expect(backend.table()).toContain('snat ip to 198.51.100.2');
    expect(conntrack()).toBe('1');
    expect(nat.status()).toMatchObject({ table: 'present', rules: 1, errors: 0, drift_repairs: 0 });
  });

  it('leaves an unchanged table alone on resync, and writes it again when it drifted', async () => {
    const { backend, nat } = setup();
    await nat.setDesired([web], 'start');
    await nat.resync();
    expect(backend.applied).toHaveLength(1);
    backend.tamper(null); // `nft delete table inet ipvsd`
    await nat.resync();
    expect(backend.applied).toHaveLength(2);
    expect(backend.table()).toContain('snat ip to 198.51.100.2');
    backend.tamper('table inet ipvsd { chain full_nat { } }'); // `nft flush chain …`
    await nat.resync();
    expect(backend.applied).toHaveLength(3);
    expect(nat.status()).toMatchObject({ table: 'present', drift_repairs: 2 });
  });

  it('rewrites on a reload that changes the services', async () => {
    const { backend, nat } = setup();
    await nat.setDesired([web], 'start');
    const moved = { ...web, source: '198.51.100.3' };
    await nat.setDesired([moved], 'reload');
    expect(backend.table()).toContain('snat ip to 198.51.100.3');
    expect(nat.status().drift_repairs).toBe(0);
  });

  it('removes a table an earlier config left when none is wanted, then stops looking', async () => {
    const { backend, nat, conntrack } = setup();
    backend.tamper('left over');
    await nat.setDesired([], 'start');
    expect(backend.table()).toBeNull();
    expect(conntrack()).toBe('0'); // nothing to forward through a nat chain: left alone
    const reads = backend.reads();
    await nat.resync();
    await nat.resync();
    expect(backend.reads()).toBe(reads);
    expect(nat.status()).toMatchObject({ table: 'absent', rules: 0 });
  });

  it('without full NAT, a missing nft program is no error', async () => {
    const backend = createMemoryNatBackend();
    const missing = Object.assign(new IpvsdError('IPVSD_ERR_NFTABLES', 'nft not found'), {
      cause: Object.assign(new Error('spawn nft ENOENT'), { code: 'ENOENT' }),
    });
    backend.read = async () => {
      throw missing;
    };
    const nat = createNatReconciler({ backend, logger: silent });
    await nat.setDesired([], 'start');
    expect(nat.status()).toMatchObject({ table: 'absent', errors: 0, last_error: null });
    await nat.setDesired([web], 'reload');
    expect(nat.status()).toMatchObject({ errors: 1, last_error: 'nft not found' });
  });

  it('counts a failure, keeps the message and retries at the next resync', async () => {
    const { backend, nat } = setup();
    backend.failNext(1, 'nft exited 1: Error: Could not process rule: No such file or directory');
    await nat.setDesired([web], 'start');
    expect(nat.status()).toMatchObject({ errors: 1, table: 'unknown' });
    expect(nat.status().last_error).toMatch(/Could not process rule/);
    await nat.resync();
    expect(backend.table()).toContain('snat ip to 198.51.100.2');
    expect(nat.status()).toMatchObject({ errors: 1, last_error: null, table: 'present', drift_repairs: 0 });
  });

  it('removes the table on remove(), and does nothing after it', async () => {
    const { backend, nat } = setup();
    await nat.setDesired([web], 'start');
    await nat.remove();
    expect(backend.table()).toBeNull();
    await nat.resync();
    await nat.setDesired([web], 'reload');
    expect(backend.table()).toBeNull();
  });

  it('reports whether the director holds each full_nat address', async () => {
    let local = new Set<string>(['198.51.100.9']);
    const { nat } = setup({ localAddresses: async () => local });
    await nat.setDesired([web], 'start');
    expect(nat.status().sources).toEqual([{ address: '198.51.100.2', local: false }]);
    local = new Set(['198.51.100.2']);
    await nat.resync();
    expect(nat.status().sources).toEqual([{ address: '198.51.100.2', local: true }]);
  });

  it('runs one at a time: a resync during a run waits for it', async () => {
    const { backend, nat } = setup();
    const first = nat.setDesired([web], 'start');
    const second = nat.resync();
    await Promise.all([first, second]);
    expect(backend.applied).toHaveLength(1);
  });
});
