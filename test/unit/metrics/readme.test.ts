import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registerAnnounceMetrics } from '../../../src/metrics/announce-metrics.js';
import { CHECK_DURATION, CHECKS_TOTAL } from '../../../src/metrics/check-series.js';
import {
  BACKEND_FAMILIES,
  BACKEND_LABEL_NAMES,
  SERVICE_FAMILIES,
  SERVICE_LABEL_NAMES,
} from '../../../src/metrics/ipvs-families.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { registerProcessMetrics } from '../../../src/metrics/process-metrics.js';
import { registerVrrpMetrics } from '../../../src/metrics/vrrp-metrics.js';
import { registerNatMetrics } from '../../../src/nat/metrics.js';
import { fakeTable, families } from '../../support/metrics.js';

interface Documented {
  readonly type: string;
  readonly labels: string[];
}

/** The Metrics table of docs/metrics.md (linked from the README): one row per metric, `| \`name\` | type | \`label\`, … |`. */
function readmeMetrics(): Map<string, Documented> {
  const readme = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  const start = readme.indexOf('\n## Metrics\n');
  const end = readme.indexOf('\n## ', start + 1);
  const rows = new Map<string, Documented>();
  for (const line of readme.slice(start, end).split('\n')) {
    const row = /^\| `(ipvsd_[a-z_]+)` \| ([a-z]+) \| (.*) \|$/.exec(line);
    if (row === null) continue;
    const labels = [...(row[3] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
    rows.set(row[1] as string, { type: row[2] as string, labels });
  }
  return rows;
}

/** What ipvsd exposes: the registry's metrics (with their label names) and the kernel families. */
async function registered(): Promise<Map<string, Documented>> {
  const metrics = createMetrics(
    { dumpIpvs: async () => fakeTable(), version: '0.0.0' },
    { processMetrics: false },
  );
  // The daemon adds the VRRP families to the same registry (bin/ipvsd.ts).
  registerVrrpMetrics(metrics.registry, () => null);
  registerProcessMetrics(metrics.registry, () => []);
  registerNatMetrics(metrics.registry, () => null);
  registerAnnounceMetrics(metrics.registry, () => []);
  const out = new Map<string, Documented>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames: string[] };
    const { type } = await metric.get();
    out.set(name, { type: String(type), labels: [...labelNames] });
  }
  // The per-check families are rendered outside prom-client (check-series.ts), at scrape time.
  const checkLabels = ['virtual_server', 'real_server', 'check'];
  out.set(CHECKS_TOTAL, { type: 'counter', labels: [...checkLabels, 'result'] });
  out.set(CHECK_DURATION, { type: 'histogram', labels: checkLabels });
  for (const f of SERVICE_FAMILIES) out.set(f.name, { type: f.type, labels: [...SERVICE_LABEL_NAMES] });
  for (const f of BACKEND_FAMILIES) out.set(f.name, { type: f.type, labels: [...BACKEND_LABEL_NAMES] });
  // The kernel families are rendered per scrape: make sure the ones listed are the ones served.
  const { types } = families(await metrics.exposition());
  for (const [name, type] of types) {
    if (name.startsWith('ipvsd_')) expect(out.get(name)?.type, name).toBe(type);
  }
  return out;
}

describe('the metrics list (docs/metrics.md)', () => {
  it('names every ipvsd metric with its type and labels, and nothing else', async () => {
    const documented = readmeMetrics();
    const actual = await registered();
    expect(documented.size).toBeGreaterThan(20);
    const sorted = (m: Map<string, Documented>) =>
      Object.fromEntries(
        [...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, { ...v, labels: v.labels.sort() }]),
      );
    expect(sorted(documented)).toEqual(sorted(actual));
  });
});
