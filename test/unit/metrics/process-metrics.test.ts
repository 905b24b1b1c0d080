/** ipvsd_process_*: read from the supervisors at each scrape. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { type ProcessMetricsSnapshot, registerProcessMetrics } from '../../../src/metrics/process-metrics.js';

describe('registerProcessMetrics', () => {
  it('restarts, start time and up per process; a child that is down has no start time', async () => {
    const registry = new Registry();
    let processes: ProcessMetricsSnapshot[] = [
      { name: 'ipvsd', pid: 10, restarts: 0, startedAt: 1_700_000_000_000, lastRestartAt: null },
      {
        name: 'checks',
        pid: 11,
        restarts: 2,
        startedAt: 1_700_000_100_500,
        lastRestartAt: 1_700_000_100_500,
      },
      { name: 'vrrp', pid: null, restarts: 1, startedAt: null, lastRestartAt: 1_700_000_050_000 },
    ];
    registerProcessMetrics(registry, () => processes);
    const lines = (await registry.metrics()).split('\n').filter((l) => l.startsWith('ipvsd_process_'));
    expect(lines).toEqual([
      'ipvsd_process_restarts_total{process="ipvsd"} 0',
      'ipvsd_process_restarts_total{process="checks"} 2',
      'ipvsd_process_restarts_total{process="vrrp"} 1',
      'ipvsd_process_start_time_seconds{process="ipvsd"} 1700000000',
      'ipvsd_process_start_time_seconds{process="checks"} 1700000100.5',
      'ipvsd_process_up{process="ipvsd"} 1',
      'ipvsd_process_up{process="checks"} 1',
      'ipvsd_process_up{process="vrrp"} 0',
    ]);
    processes = [
      { name: 'vrrp', pid: 12, restarts: 1, startedAt: 1_700_000_051_000, lastRestartAt: 1_700_000_051_000 },
    ];
    const again = (await registry.metrics()).split('\n').filter((l) => l.startsWith('ipvsd_process_up'));
    expect(again).toEqual(['ipvsd_process_up{process="vrrp"} 1']);
  });
});
