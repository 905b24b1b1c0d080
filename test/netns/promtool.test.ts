/**
 * Lints the real exposition with Prometheus' own `promtool check metrics` (Debian package
 * `prometheus`, installed by scripts/install-deps.sh). A missing promtool fails the test: it never skips.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { registerVrrpMetrics } from '../../src/metrics/vrrp-metrics.js';
import type { ServiceState } from '../../src/model/ipvs.js';
import { fakeTable, serviceName, VRRP_SNAPSHOT } from '../support/metrics.js';

function promtool(exposition: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error) {
    throw new Error(
      `cannot run promtool (${run.error.message}): install the Debian package "prometheus" (see .ci/run)`,
    );
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

function everything(table: () => ServiceState[] = fakeTable) {
  let fail = false;
  const metrics = createMetrics(
    {
      dumpIpvs: async () => {
        if (fail) throw new Error('EPERM');
        return table();
      },
      version: '0.1.0',
      serviceName,
    },
    { processMetrics: true },
  );
  for (const [i, rs] of ['198.51.100.11:8080', '198.51.100.12:8080', '[2001:db8::53]:53'].entries()) {
    const labels = { virtual_server: i < 2 ? 'web' : 'dns "v6" \\ east', real_server: rs };
    metrics.checkCompleted({ ...labels, check: i < 2 ? 'http' : 'tcp' }, { ok: i !== 1, latencyMs: 2 + i });
    metrics.setHealth(labels, i !== 1);
    metrics.setDrained(labels, i === 2);
  }
  metrics.setQuorum('web', { met: true, liveWeight: 3, required: 1 });
  metrics.reconciled({ kind: 'start', operations: 7, errors: 0, durationMs: 40 });
  metrics.reconciled({ kind: 'event', operations: 1, errors: 1, durationMs: 3 });
  metrics.reloaded(false);
  metrics.reloaded(true);
  return {
    metrics,
    breakDump: () => {
      fail = true;
    },
  };
}

describe('promtool check metrics', () => {
  it('finds no problem in the full exposition', async () => {
    const { metrics } = everything();
    const text = await metrics.exposition();
    expect(text).toContain('ipvsd_ipvs_backend_weight{');
    expect(text).toContain('process_cpu_seconds_total');
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('finds no problem when the kernel dump failed', async () => {
    const { metrics, breakDump } = everything();
    breakDump();
    const text = await metrics.exposition();
    expect(text).not.toContain('ipvsd_ipvs_backend_weight');
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('finds no problem with an empty kernel table', async () => {
    const { metrics } = everything(() => []);
    const text = await metrics.exposition();
    expect(text).toContain('# TYPE ipvsd_ipvs_backend_weight gauge');
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('finds no problem with the VRRP families beside the daemon families', async () => {
    const metrics = createMetrics({ dumpIpvs: async () => [], version: '0.1.0' }, { processMetrics: true });
    registerVrrpMetrics(metrics.registry, () => VRRP_SNAPSHOT);
    const text = await metrics.exposition();
    expect(text).toContain('# TYPE ipvsd_vrrp_instance_transitions_total counter');
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('is a real lint: it rejects a gauge named like a counter', () => {
    const bad = '# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n';
    expect(promtool(bad).status).not.toBe(0);
  });
});
