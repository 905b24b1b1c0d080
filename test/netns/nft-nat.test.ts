/**
 * Full NAT's table against the real `nft` and this machine's nf_tables, in a namespace made for
 * this file: the nft backend (src/nat/nft-backend.ts) writes what the pure builder made, `nft list`
 * run by the test is the oracle; the reconciler over the real backend repairs a table someone
 * else changed and removes it. The packets themselves (IPVS forwarding through the rule) are the
 * VM tier's business (test/vm/full-nat.test.ts): this kernel has no IPVS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNftBackend } from '../../src/nat/nft-backend.js';
import { createNatReconciler } from '../../src/nat/reconciler.js';
import type { FullNatService } from '../../src/nat/rules.js';
import { createLogger } from '../../src/sys/logger.js';
import { createNetnsLab, type NetnsLab } from '../support/netns.js';

const web: FullNatService = {
  name: 'web',
  family: 'inet',
  original: { protocol: 'tcp', address: '203.0.113.100', port: 80 },
  fwmark: null,
  destinations: [
    { address: '198.51.100.11', port: 8080 },
    { address: '198.51.100.12', port: 8080 },
  ],
  source: '198.51.100.2',
};
const dns6: FullNatService = {
  name: 'dns6',
  family: 'inet6',
  original: { protocol: 'udp', address: '2001:db8::100', port: 53 },
  fwmark: null,
  destinations: [{ address: '2001:db8:1::11', port: 53 }],
  source: '2001:db8:1::2',
};

describe('full NAT table through nft', () => {
  let lab: NetnsLab;
  let ns: string;
  const list = async (): Promise<string> => {
    const r = await lab.exec(ns, 'nft', ['list', 'table', 'inet', 'ipvsd']);
    return r.code === 0 ? r.stdout : '';
  };
  const nft = (...args: string[]) => lab.execOk(ns, 'nft', args);
  const backend = () => createNftBackend({ prefix: ['ip', 'netns', 'exec', ns] });

  beforeAll(async () => {
    lab = createNetnsLab();
    ns = await lab.namespace('nft');
  });
  afterAll(() => lab?.cleanup());

  it('writes the rules nft then lists, reads back a stable fingerprint, and removes the table', async () => {
    const b = backend();
    expect(await b.read()).toBeNull();
    await b.apply([web, dns6]);
    const text = await list();
    expect(text).toContain('type nat hook postrouting priority srcnat; policy accept;');
    expect(text).toMatch(
      /ct original ip daddr 203\.0\.113\.100 ct original proto-dst 80 ip daddr \. tcp dport \{ 198\.51\.100\.11 \. 8080, 198\.51\.100\.12 \. 8080 \} counter packets 0 bytes 0 snat ip to 198\.51\.100\.2 comment "ipvsd web"/,
    );
    expect(text).toMatch(
      /ct original ip6 daddr 2001:db8::100 .* snat ip6 to 2001:db8:1::2 comment "ipvsd dns6"/,
    );
    const first = await b.read();
    expect(first).not.toBeNull();
    expect(await b.read()).toBe(first);
    // Applying again replaces the table atomically: same rules, same fingerprint (handles ignored).
    await b.apply([web, dns6]);
    expect(await b.read()).toBe(first);
    await b.apply([]);
    expect(await list()).toBe('');
    expect(await b.read()).toBeNull();
    await b.apply([]); // removing what is not there is no error
  });

  it('leaves the other tables of the namespace alone', async () => {
    await nft('add', 'table', 'inet', 'operator');
    await nft('add', 'chain', 'inet', 'operator', 'c');
    const b = backend();
    await b.apply([web]);
    await b.apply([]);
    expect(await nft('list', 'tables')).toContain('table inet operator');
    await nft('delete', 'table', 'inet', 'operator');
  });

  it('reports what nft refused, with its message, and changes nothing', async () => {
    const b = backend();
    await b.apply([web]);
    const before = await list();
    const bad = { ...web, source: '198.51.100.300' };
    await expect(b.apply([bad])).rejects.toMatchObject({
      code: 'IPVSD_ERR_NFTABLES',
      message: expect.stringMatching(
        /replacing nftables table inet ipvsd: nft exited 1: .*198\.51\.100\.300/,
      ),
    });
    expect(await list()).toBe(before);
    await b.apply([]);
  });

  it('says so when there is no nft program', async () => {
    const b = createNftBackend({ program: '/nonexistent/nft' });
    await expect(b.apply([web])).rejects.toMatchObject({
      code: 'IPVSD_ERR_NFTABLES',
      message: expect.stringContaining('full NAT needs the nft program'),
    });
  });

  it('the reconciler repairs a deleted rule, a flushed chain and a dropped table, and removes it', async () => {
    const nat = createNatReconciler({ backend: backend(), logger: createLogger({ level: 'silent' }) });
    await nat.setDesired([web], 'start');
    const written = await list();
    expect(written).toContain('snat ip to 198.51.100.2');

    const handle = /snat .* # handle (\d+)/.exec(
      await nft('-a', 'list', 'chain', 'inet', 'ipvsd', 'full_nat'),
    )?.[1];
    await nft('delete', 'rule', 'inet', 'ipvsd', 'full_nat', 'handle', handle as string);
    await nat.resync();
    expect(await list()).toBe(written);

    await nft('flush', 'chain', 'inet', 'ipvsd', 'full_nat');
    await nat.resync();
    expect(await list()).toBe(written);

    await nft(
      'add',
      'rule',
      'inet',
      'ipvsd',
      'full_nat',
      'ip',
      'daddr',
      '198.51.100.50',
      'snat',
      'ip',
      'to',
      '198.51.100.3',
    );
    await nat.resync();
    expect(await list()).toBe(written);

    await nft('delete', 'table', 'inet', 'ipvsd');
    await nat.resync();
    expect(await list()).toBe(written);
    expect(nat.status()).toMatchObject({ table: 'present', drift_repairs: 4, errors: 0 });

    // An unchanged table is left alone: same handles after a resync.
    const handles = await nft('-a', 'list', 'table', 'inet', 'ipvsd');
    await nat.resync();
    expect(await nft('-a', 'list', 'table', 'inet', 'ipvsd')).toBe(handles);

    await nat.remove();
    expect(await list()).toBe('');
  });
});
