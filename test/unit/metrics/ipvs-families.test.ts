import { describe, expect, it } from 'vitest';
import {
  BACKEND_FAMILIES,
  ipvsFamilyChunks,
  renderIpvsFamilies,
  SERVICE_FAMILIES,
} from '../../../src/metrics/ipvs-families.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { addressService, type DestinationState, type ServiceState } from '../../../src/model/ipvs.js';
import { fakeTable, families, sample, samples, serviceName, stats } from '../../support/metrics.js';

/** 100 services × 100 real servers: the size the memory benchmark asks for. */
function bigTable(): ServiceState[] {
  const table: ServiceState[] = [];
  for (let s = 0; s < 100; s++) {
    const destinations: DestinationState[] = [];
    for (let d = 0; d < 100; d++) {
      destinations.push({
        address: `198.51.${s}.${d}`,
        port: 8080,
        forwarding: 'nat',
        weight: 1,
        upperThreshold: 0,
        lowerThreshold: 0,
        activeConns: d,
        inactiveConns: 0,
        persistConns: 0,
        stats: stats(d),
      });
    }
    table.push({
      key: addressService('inet', 'tcp', `203.0.113.${s}`, 80),
      scheduler: 'wrr',
      persistence: null,
      flags: 0,
      stats: stats(s),
      destinations,
    });
  }
  return table;
}

describe('renderIpvsFamilies', () => {
  it('writes every family with HELP and TYPE, even for an empty table', () => {
    const { types, help } = families(renderIpvsFamilies([], serviceName));
    for (const family of [...SERVICE_FAMILIES, ...BACKEND_FAMILIES]) {
      expect(types.get(family.name)).toBe(family.type);
      expect(help.has(family.name)).toBe(true);
    }
  });

  it('is the concatenation of its chunks', () => {
    const chunks = [...ipvsFamilyChunks(fakeTable(), serviceName)];
    expect(chunks.join('')).toBe(renderIpvsFamilies(fakeTable(), serviceName));
    expect(renderIpvsFamilies(fakeTable(), serviceName).endsWith('\n')).toBe(false);
  });

  it('cuts a large table into chunks of at most 1000 samples', { timeout: 30_000 }, () => {
    const chunks = [...ipvsFamilyChunks(bigTable(), () => 'vs')];
    let total = 0;
    for (const chunk of chunks) {
      const n = chunk.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
      expect(n).toBeLessThanOrEqual(1000);
      total += n;
    }
    expect(total).toBe(100 * SERVICE_FAMILIES.length + 10_000 * BACKEND_FAMILIES.length);
    // Pauses while gathering rows, too (empty chunks).
    expect(chunks.filter((c) => c === '').length).toBeGreaterThanOrEqual(10);
  });
});

describe('a scrape of a large table', () => {
  // Big tables and a loaded CI machine: a generous timeout.
  it('yields to the event loop while rendering', { timeout: 30_000 }, async () => {
    const table = bigTable();
    const metrics = createMetrics(
      { dumpIpvs: async () => table, version: '1', serviceName: () => 'vs' },
      {
        processMetrics: false,
      },
    );
    let ticks = 0;
    let done = false;
    const tick = (): void => {
      ticks += 1;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const text = await metrics.exposition();
    done = true;
    expect(ticks).toBeGreaterThan(1);
    expect(samples(text.slice(0, 2000)).length).toBeGreaterThan(0);
    expect(sample(text, 'ipvsd_ipvs_backend_connections_active', { remote_address: '198.51.99.42' })).toBe(
      42,
    );
  });
});
