import { describe, expect, it } from 'vitest';
import { createMetrics, type MetricsDeps, type MetricsOptions } from '../../../src/metrics/metrics.js';
import { type DirectorMetrics, noopMetrics } from '../../../src/metrics/types.js';
import type { ServiceState } from '../../../src/model/ipvs.js';
import {
  deferred,
  fakeTable,
  families,
  sample,
  samples,
  seriesOf,
  serviceName,
} from '../../support/metrics.js';

const T0 = 1_700_000_000_000;

function setup(deps: Partial<MetricsDeps> = {}, options: MetricsOptions = {}) {
  let dumps = 0;
  let clock = T0;
  const metrics = createMetrics(
    {
      dumpIpvs: async () => {
        dumps += 1;
        return fakeTable();
      },
      version: '1.2.3',
      now: () => clock,
      serviceName,
      ...deps,
    },
    { processMetrics: false, ...options },
  );
  return {
    metrics,
    dumps: () => dumps,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

const DAEMON_FAMILIES: Record<string, string> = {
  ipvsd_build_info: 'gauge',
  ipvsd_check_duration_seconds: 'histogram',
  ipvsd_checks_total: 'counter',
  ipvsd_real_server_up: 'gauge',
  ipvsd_real_server_drained: 'gauge',
  ipvsd_virtual_server_quorum_met: 'gauge',
  ipvsd_virtual_server_live_weight: 'gauge',
  ipvsd_virtual_server_quorum_required_weight: 'gauge',
  ipvsd_reconcile_operations_total: 'counter',
  ipvsd_reconcile_errors_total: 'counter',
  ipvsd_reconcile_duration_seconds: 'histogram',
  ipvsd_reconcile_last_timestamp_seconds: 'gauge',
  ipvsd_config_reloads_total: 'counter',
  ipvsd_config_last_reload_successful: 'gauge',
  ipvsd_config_last_reload_success_timestamp_seconds: 'gauge',
  ipvsd_ipvs_scrape_errors_total: 'counter',
};

const KERNEL_FAMILIES: Record<string, string> = {
  ipvsd_ipvs_service_connections_total: 'counter',
  ipvsd_ipvs_service_incoming_packets_total: 'counter',
  ipvsd_ipvs_service_outgoing_packets_total: 'counter',
  ipvsd_ipvs_service_incoming_bytes_total: 'counter',
  ipvsd_ipvs_service_outgoing_bytes_total: 'counter',
  ipvsd_ipvs_backend_connections_active: 'gauge',
  ipvsd_ipvs_backend_connections_inactive: 'gauge',
  ipvsd_ipvs_backend_connections_persistent: 'gauge',
  ipvsd_ipvs_backend_weight: 'gauge',
  ipvsd_ipvs_backend_connections_total: 'counter',
  ipvsd_ipvs_backend_incoming_packets_total: 'counter',
  ipvsd_ipvs_backend_outgoing_packets_total: 'counter',
  ipvsd_ipvs_backend_incoming_bytes_total: 'counter',
  ipvsd_ipvs_backend_outgoing_bytes_total: 'counter',
};

const SERVICE_LABELS = ['local_address', 'local_mark', 'local_port', 'proto', 'virtual_server'];
const BACKEND_LABELS = [...SERVICE_LABELS, 'real_server', 'remote_address', 'remote_port'].sort();

/** Every event the daemon reports, so every daemon family has samples. */
function exercise(metrics: DirectorMetrics): void {
  const rs = { virtual_server: 'web', real_server: '198.51.100.11:8080' };
  metrics.checkCompleted({ ...rs, check: 'http' }, { ok: true, latencyMs: 3 });
  metrics.setHealth(rs, true);
  metrics.setDrained(rs, false);
  metrics.setQuorum('web', { met: true, liveWeight: 4, required: 1 });
  metrics.reconciled({ kind: 'event', operations: 2, errors: 0, durationMs: 4 });
  metrics.reloaded(true);
}

describe('exposition', () => {
  it('has every family, each with HELP and TYPE', async () => {
    const { metrics } = setup();
    exercise(metrics);
    const { types, help } = families(await metrics.exposition());
    for (const [name, type] of Object.entries({ ...DAEMON_FAMILIES, ...KERNEL_FAMILIES })) {
      expect(types.get(name), name).toBe(type);
      expect(help.has(name), name).toBe(true);
    }
    // Nothing unexpected beside them (process metrics are off in this setup).
    expect([...types.keys()].sort()).toEqual(Object.keys({ ...DAEMON_FAMILIES, ...KERNEL_FAMILIES }).sort());
  });

  it('uses the registry content type (Prometheus text 0.0.4)', () => {
    const { metrics } = setup();
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.contentType).toBe(metrics.registry.contentType);
  });

  it('labels build info with the versions', async () => {
    const { metrics } = setup();
    const text = await metrics.exposition();
    expect(sample(text, 'ipvsd_build_info', { version: '1.2.3', node_version: process.version })).toBe(1);
  });

  it("adds prom-client's process metrics, without the gauges named *_total", async () => {
    const { metrics } = setup({}, { processMetrics: true });
    const { types } = families(await metrics.exposition());
    expect(types.get('process_cpu_seconds_total')).toBe('counter');
    expect(types.get('process_resident_memory_bytes')).toBe('gauge');
    expect(types.get('nodejs_active_handles')).toBe('gauge');
    for (const [name, type] of types) if (name.endsWith('_total')) expect(type, name).toBe('counter');
  });
});

describe('kernel IPVS families', () => {
  it("carries the kernel's cumulative counters per virtual service", async () => {
    const { metrics } = setup();
    const text = await metrics.exposition();
    const web = { virtual_server: 'web', local_address: '203.0.113.100', local_port: '80', proto: 'TCP' };
    expect(sample(text, 'ipvsd_ipvs_service_connections_total', web)).toBe(100);
    expect(sample(text, 'ipvsd_ipvs_service_incoming_packets_total', web)).toBe(1000);
    expect(sample(text, 'ipvsd_ipvs_service_outgoing_packets_total', web)).toBe(900);
    expect(sample(text, 'ipvsd_ipvs_service_incoming_bytes_total', web)).toBe(100_000);
    expect(sample(text, 'ipvsd_ipvs_service_outgoing_bytes_total', web)).toBe(900_000);
    const diameter = { virtual_server: 'diameter', proto: 'SCTP', local_port: '3868' };
    expect(sample(text, 'ipvsd_ipvs_service_connections_total', diameter)).toBe(500);
  });

  it('carries connections, weight and traffic per real server', async () => {
    const { metrics } = setup();
    const text = await metrics.exposition();
    const rs = {
      virtual_server: 'web',
      real_server: '198.51.100.12:8080',
      remote_address: '198.51.100.12',
      remote_port: '8080',
      local_address: '203.0.113.100',
      local_port: '80',
      proto: 'TCP',
      local_mark: '',
    };
    expect(sample(text, 'ipvsd_ipvs_backend_connections_active', rs)).toBe(61);
    expect(sample(text, 'ipvsd_ipvs_backend_connections_inactive', rs)).toBe(62);
    expect(sample(text, 'ipvsd_ipvs_backend_connections_persistent', rs)).toBe(63);
    expect(sample(text, 'ipvsd_ipvs_backend_weight', rs)).toBe(1);
    expect(sample(text, 'ipvsd_ipvs_backend_connections_total', rs)).toBe(60);
    expect(sample(text, 'ipvsd_ipvs_backend_incoming_packets_total', rs)).toBe(600);
    expect(sample(text, 'ipvsd_ipvs_backend_outgoing_packets_total', rs)).toBe(540);
    expect(sample(text, 'ipvsd_ipvs_backend_incoming_bytes_total', rs)).toBe(60_000);
    expect(sample(text, 'ipvsd_ipvs_backend_outgoing_bytes_total', rs)).toBe(540_000);
    expect(seriesOf(text, 'ipvsd_ipvs_backend_weight')).toHaveLength(5);
  });

  it("names labels as node_exporter's ipvs collector does, plus virtual_server and real_server", async () => {
    const { metrics } = setup();
    const text = await metrics.exposition();
    for (const name of Object.keys(KERNEL_FAMILIES)) {
      const expected = name.startsWith('ipvsd_ipvs_service_') ? SERVICE_LABELS : BACKEND_LABELS;
      const series = seriesOf(text, name);
      expect(series.length, name).toBeGreaterThan(0);
      for (const s of series) expect(Object.keys(s.labels).sort(), name).toEqual(expected);
    }
  });

  it('writes IPv6 addresses in RFC 5952 form and escapes names', async () => {
    const { metrics } = setup();
    const text = await metrics.exposition();
    expect(text).toContain('virtual_server="dns \\"v6\\" \\\\ east"');
    const rs = seriesOf(text, 'ipvsd_ipvs_backend_weight').find((s) => s.labels.proto === 'UDP');
    expect(rs?.labels).toEqual({
      virtual_server: 'dns "v6" \\ east',
      local_address: '2001:db8::100',
      local_port: '53',
      local_mark: '',
      proto: 'UDP',
      real_server: '[2001:db8::53]:53',
      remote_address: '2001:db8::53',
      remote_port: '53',
    });
  });

  it('labels fwmark services like /proc/net/ip_vs and sums services whose labels coincide', async () => {
    const { metrics } = setup();
    const text = await metrics.exposition();
    // fwmark/7 and fwmark6/7 are both unnamed: same labels, so one series with the sum.
    const mark = {
      virtual_server: '',
      local_address: '',
      local_port: '0',
      local_mark: '00000007',
      proto: 'FWM',
    };
    expect(sample(text, 'ipvsd_ipvs_service_connections_total', mark)).toBe(300 + 400);
    expect(sample(text, 'ipvsd_ipvs_backend_weight', { ...mark, remote_address: '198.51.100.21' })).toBe(2);
    expect(sample(text, 'ipvsd_ipvs_backend_weight', { ...mark, remote_address: '2001:db8::21' })).toBe(4);
    expect(seriesOf(text, 'ipvsd_ipvs_service_connections_total')).toHaveLength(4);
  });

  it('leaves virtual_server empty without a name mapping', async () => {
    const { metrics } = setup({ serviceName: undefined });
    const text = await metrics.exposition();
    for (const s of seriesOf(text, 'ipvsd_ipvs_service_connections_total')) {
      expect(s.labels.virtual_server).toBe('');
    }
  });

  it('never emits duplicate series', async () => {
    const { metrics } = setup();
    exercise(metrics);
    const all = samples(await metrics.exposition()).map((s) => JSON.stringify([s.name, s.labels]));
    expect(new Set(all).size).toBe(all.length);
  });

  it('shares one dump among concurrent scrapes, and dumps again for the next one', async () => {
    const pending = deferred<readonly ServiceState[]>();
    let calls = 0;
    const { metrics } = setup({
      dumpIpvs: () => {
        calls += 1;
        return pending.promise;
      },
    });
    const scrapes = [metrics.exposition(), metrics.exposition(), metrics.exposition()];
    await Promise.resolve();
    expect(calls).toBe(1);
    pending.resolve(fakeTable());
    const texts = await Promise.all(scrapes);
    expect(calls).toBe(1);
    for (const text of texts) {
      expect(sample(text, 'ipvsd_ipvs_service_connections_total', { virtual_server: 'web' })).toBe(100);
    }
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
    await metrics.exposition();
    expect(calls).toBe(2);
  });

  it('reads fresh numbers at every scrape', async () => {
    let conns = 1;
    const { metrics } = setup({
      dumpIpvs: async () => {
        const [web] = fakeTable();
        return web ? [{ ...web, stats: { ...web.stats, conns: conns++ } }] : [];
      },
    });
    const first = await metrics.exposition();
    const second = await metrics.exposition();
    expect(sample(first, 'ipvsd_ipvs_service_connections_total')).toBe(1);
    expect(sample(second, 'ipvsd_ipvs_service_connections_total')).toBe(2);
  });

  it('drops a service that left the kernel at the next scrape', async () => {
    let table = fakeTable();
    const { metrics } = setup({ dumpIpvs: async () => table });
    expect(seriesOf(await metrics.exposition(), 'ipvsd_ipvs_service_connections_total')).toHaveLength(4);
    table = table.slice(0, 1);
    const text = await metrics.exposition();
    expect(seriesOf(text, 'ipvsd_ipvs_service_connections_total')).toHaveLength(1);
    expect(seriesOf(text, 'ipvsd_ipvs_backend_weight')).toHaveLength(2);
  });
});

describe('a failing kernel dump', () => {
  const kernelLines = (text: string) =>
    text.split('\n').filter((line) => Object.keys(KERNEL_FAMILIES).some((name) => line.includes(name)));

  it('leaves the kernel families out, keeps the rest, and counts the error', async () => {
    let fail = false;
    const { metrics } = setup({
      dumpIpvs: async () => {
        if (fail) throw new Error('Request rejected: EPERM');
        return fakeTable();
      },
    });
    exercise(metrics);
    const good = await metrics.exposition();
    expect(kernelLines(good).length).toBeGreaterThan(0);
    expect(sample(good, 'ipvsd_ipvs_scrape_errors_total')).toBe(0);

    fail = true;
    const bad = await metrics.exposition();
    // Not even HELP/TYPE, and certainly not the last good numbers.
    expect(kernelLines(bad)).toEqual([]);
    expect(sample(bad, 'ipvsd_ipvs_scrape_errors_total')).toBe(1);
    expect(sample(bad, 'ipvsd_real_server_up', { virtual_server: 'web' })).toBe(1);
    expect(sample(bad, 'ipvsd_build_info')).toBe(1);

    expect(sample(await metrics.exposition(), 'ipvsd_ipvs_scrape_errors_total')).toBe(2);
    fail = false;
    const again = await metrics.exposition();
    expect(sample(again, 'ipvsd_ipvs_service_connections_total', { virtual_server: 'web' })).toBe(100);
    expect(sample(again, 'ipvsd_ipvs_scrape_errors_total')).toBe(2);
  });

  it('survives a dump that throws synchronously', async () => {
    const { metrics } = setup({
      dumpIpvs: () => {
        throw new Error('netlink socket closed');
      },
    });
    const text = await metrics.exposition();
    expect(kernelLines(text)).toEqual([]);
    expect(sample(text, 'ipvsd_ipvs_scrape_errors_total')).toBe(1);
  });

  it('gives up on a dump that hangs, without piling up more dumps behind it', async () => {
    let calls = 0;
    const { metrics } = setup(
      {
        dumpIpvs: () => {
          calls += 1;
          return new Promise<readonly ServiceState[]>(() => {});
        },
      },
      { dumpTimeoutMs: 20 },
    );
    const first = await metrics.exposition();
    expect(kernelLines(first)).toEqual([]);
    const second = await metrics.exposition();
    expect(sample(second, 'ipvsd_ipvs_scrape_errors_total')).toBe(2);
    expect(calls).toBe(1);
  });

  it('logs when the dump starts failing and when it recovers, not at every scrape', async () => {
    const logs: string[] = [];
    let fail = true;
    const { metrics } = setup({
      dumpIpvs: async () => {
        if (fail) throw new Error('ENOENT');
        return [];
      },
      logger: { info: (_o, msg) => logs.push(`info ${msg}`), warn: (_o, msg) => logs.push(`warn ${msg}`) },
    });
    await metrics.exposition();
    await metrics.exposition();
    fail = false;
    await metrics.exposition();
    await metrics.exposition();
    expect(logs).toEqual(['warn ipvs dump for metrics failed', 'info ipvs dump for metrics recovered']);
  });
});

describe('daemon series', () => {
  const rs = { virtual_server: 'web', real_server: '198.51.100.11:8080' };

  it('times checks in a histogram and counts them by result from 0', async () => {
    const { metrics } = setup();
    const l = { ...rs, check: 'tcp' };
    metrics.checkCompleted(l, { ok: true, latencyMs: 0.8 });
    metrics.checkCompleted(l, { ok: true, latencyMs: 40 });
    let text = await metrics.exposition();
    expect(sample(text, 'ipvsd_checks_total', { ...l, result: 'success' })).toBe(2);
    expect(sample(text, 'ipvsd_checks_total', { ...l, result: 'failure' })).toBe(0);
    expect(sample(text, 'ipvsd_check_duration_seconds_bucket', { ...l, le: '0.001' })).toBe(1);
    expect(sample(text, 'ipvsd_check_duration_seconds_bucket', { ...l, le: '0.05' })).toBe(2);
    expect(sample(text, 'ipvsd_check_duration_seconds_bucket', { ...l, le: '10' })).toBe(2);
    expect(sample(text, 'ipvsd_check_duration_seconds_count', l)).toBe(2);
    expect(sample(text, 'ipvsd_check_duration_seconds_sum', l)).toBeCloseTo(0.0408, 6);

    metrics.checkCompleted(l, { ok: false, latencyMs: 1000 });
    text = await metrics.exposition();
    expect(sample(text, 'ipvsd_checks_total', { ...l, result: 'failure' })).toBe(1);
    expect(sample(text, 'ipvsd_check_duration_seconds_bucket', { ...l, le: '0.5' })).toBe(2);
    expect(sample(text, 'ipvsd_check_duration_seconds_bucket', { ...l, le: '1' })).toBe(3);
  });

  it('takes other check buckets', async () => {
    const { metrics } = setup({}, { checkDurationBuckets: [0.01, 1] });
    metrics.checkCompleted({ ...rs, check: 'tcp' }, { ok: true, latencyMs: 5 });
    const les = seriesOf(await metrics.exposition(), 'ipvsd_check_duration_seconds_bucket').map(
      (s) => s.labels.le,
    );
    expect(les).toEqual(['0.01', '1', '+Inf']);
  });

  it('replaces the series of a check type that changed (after a reload)', async () => {
    const { metrics } = setup();
    metrics.checkCompleted({ ...rs, check: 'tcp' }, { ok: true, latencyMs: 1 });
    metrics.checkCompleted({ ...rs, check: 'http' }, { ok: false, latencyMs: 1 });
    const text = await metrics.exposition();
    expect(seriesOf(text, 'ipvsd_checks_total').map((s) => s.labels.check)).toEqual(['http', 'http']);
    expect(seriesOf(text, 'ipvsd_check_duration_seconds_count').map((s) => s.labels.check)).toEqual(['http']);
  });

  it('shrugs off nonsense numbers instead of throwing', async () => {
    const { metrics } = setup();
    expect(() => {
      metrics.checkCompleted({ ...rs, check: 'tcp' }, { ok: true, latencyMs: Number.NaN });
      metrics.reconciled({ kind: 'event', operations: -1, errors: Number.POSITIVE_INFINITY, durationMs: -5 });
      metrics.setQuorum('web', { met: false, liveWeight: Number.NaN, required: 1 });
    }).not.toThrow();
    const text = await metrics.exposition();
    expect(sample(text, 'ipvsd_check_duration_seconds_sum')).toBe(0);
    expect(sample(text, 'ipvsd_virtual_server_live_weight')).toBe(0);
  });

  it('reports health, drain and quorum', async () => {
    const { metrics } = setup();
    metrics.setHealth(rs, true);
    metrics.setDrained(rs, true);
    metrics.setQuorum('web', { met: false, liveWeight: 2, required: 3 });
    let text = await metrics.exposition();
    expect(sample(text, 'ipvsd_real_server_up', rs)).toBe(1);
    expect(sample(text, 'ipvsd_real_server_drained', rs)).toBe(1);
    expect(sample(text, 'ipvsd_virtual_server_quorum_met', { virtual_server: 'web' })).toBe(0);
    expect(sample(text, 'ipvsd_virtual_server_live_weight', { virtual_server: 'web' })).toBe(2);
    expect(sample(text, 'ipvsd_virtual_server_quorum_required_weight', { virtual_server: 'web' })).toBe(3);
    metrics.setHealth(rs, false);
    metrics.setDrained(rs, false);
    metrics.setQuorum('web', { met: true, liveWeight: 5, required: 3 });
    text = await metrics.exposition();
    expect(sample(text, 'ipvsd_real_server_up', rs)).toBe(0);
    expect(sample(text, 'ipvsd_real_server_drained', rs)).toBe(0);
    expect(sample(text, 'ipvsd_virtual_server_quorum_met', { virtual_server: 'web' })).toBe(1);
  });

  it('counts reconcile operations and errors by kind, from 0 for every kind', async () => {
    const { metrics, advance } = setup();
    let text = await metrics.exposition();
    for (const kind of ['start', 'event', 'resync', 'reload']) {
      expect(sample(text, 'ipvsd_reconcile_operations_total', { kind })).toBe(0);
      expect(sample(text, 'ipvsd_reconcile_errors_total', { kind })).toBe(0);
      expect(sample(text, 'ipvsd_reconcile_duration_seconds_count', { kind })).toBe(0);
    }
    expect(seriesOf(text, 'ipvsd_reconcile_last_timestamp_seconds')).toEqual([]);

    advance(5000);
    metrics.reconciled({ kind: 'event', operations: 3, errors: 1, durationMs: 12 });
    metrics.reconciled({ kind: 'event', operations: 1, errors: 0, durationMs: 2 });
    metrics.reconciled({ kind: 'resync', operations: 0, errors: 0, durationMs: 30 });
    text = await metrics.exposition();
    expect(sample(text, 'ipvsd_reconcile_operations_total', { kind: 'event' })).toBe(4);
    expect(sample(text, 'ipvsd_reconcile_errors_total', { kind: 'event' })).toBe(1);
    expect(sample(text, 'ipvsd_reconcile_duration_seconds_count', { kind: 'event' })).toBe(2);
    expect(sample(text, 'ipvsd_reconcile_duration_seconds_bucket', { kind: 'event', le: '0.0025' })).toBe(1);
    expect(sample(text, 'ipvsd_reconcile_duration_seconds_bucket', { kind: 'resync', le: '0.05' })).toBe(1);
    expect(sample(text, 'ipvsd_reconcile_last_timestamp_seconds', { kind: 'event' })).toBe(
      (T0 + 5000) / 1000,
    );
  });

  it('records reload results and the time of the last good config', async () => {
    const { metrics, advance } = setup();
    let text = await metrics.exposition();
    expect(sample(text, 'ipvsd_config_reloads_total', { result: 'success' })).toBe(0);
    expect(sample(text, 'ipvsd_config_reloads_total', { result: 'failure' })).toBe(0);
    expect(sample(text, 'ipvsd_config_last_reload_successful')).toBe(1);
    expect(sample(text, 'ipvsd_config_last_reload_success_timestamp_seconds')).toBe(T0 / 1000);

    advance(60_000);
    metrics.reloaded(false);
    text = await metrics.exposition();
    expect(sample(text, 'ipvsd_config_reloads_total', { result: 'failure' })).toBe(1);
    expect(sample(text, 'ipvsd_config_last_reload_successful')).toBe(0);
    expect(sample(text, 'ipvsd_config_last_reload_success_timestamp_seconds')).toBe(T0 / 1000);

    advance(60_000);
    metrics.reloaded(true);
    text = await metrics.exposition();
    expect(sample(text, 'ipvsd_config_reloads_total', { result: 'success' })).toBe(1);
    expect(sample(text, 'ipvsd_config_last_reload_successful')).toBe(1);
    expect(sample(text, 'ipvsd_config_last_reload_success_timestamp_seconds')).toBe((T0 + 120_000) / 1000);
  });
});

describe('cardinality: removed servers leave', () => {
  const a = { virtual_server: 'web', real_server: '198.51.100.11:8080' };
  const b = { virtual_server: 'web', real_server: '198.51.100.12:8080' };
  const c = { virtual_server: 'api', real_server: '198.51.100.11:8080' };
  const perServer = [
    'ipvsd_real_server_up',
    'ipvsd_real_server_drained',
    'ipvsd_checks_total',
    'ipvsd_check_duration_seconds_count',
  ];

  function populate(metrics: DirectorMetrics): void {
    for (const rs of [a, b, c]) {
      metrics.checkCompleted({ ...rs, check: 'tcp' }, { ok: true, latencyMs: 1 });
      metrics.setHealth(rs, true);
      metrics.setDrained(rs, false);
    }
    metrics.setQuorum('web', { met: true, liveWeight: 2, required: 1 });
    metrics.setQuorum('api', { met: true, liveWeight: 1, required: 1 });
  }

  const serversIn = (text: string, name: string) =>
    [
      ...new Set(seriesOf(text, name).map((s) => `${s.labels.virtual_server} ${s.labels.real_server}`)),
    ].sort();
  const vsIn = (text: string) =>
    seriesOf(text, 'ipvsd_virtual_server_quorum_met').map((s) => s.labels.virtual_server);

  it('forget() drops one real server everywhere', async () => {
    const { metrics } = setup();
    populate(metrics);
    metrics.forget(a);
    const text = await metrics.exposition();
    for (const name of perServer) {
      expect(serversIn(text, name), name).toEqual(['api 198.51.100.11:8080', 'web 198.51.100.12:8080']);
    }
  });

  it('forgetVirtualServer() drops its quorum and its real servers', async () => {
    const { metrics } = setup();
    populate(metrics);
    metrics.forgetVirtualServer('web');
    const text = await metrics.exposition();
    for (const name of perServer) expect(serversIn(text, name), name).toEqual(['api 198.51.100.11:8080']);
    expect(vsIn(text)).toEqual(['api']);
    expect(seriesOf(text, 'ipvsd_virtual_server_live_weight')).toHaveLength(1);
    expect(seriesOf(text, 'ipvsd_virtual_server_quorum_required_weight')).toHaveLength(1);
  });

  it('retain() keeps exactly the live set', async () => {
    const { metrics } = setup();
    populate(metrics);
    metrics.retain({ virtualServers: ['web'], realServers: [b] });
    const text = await metrics.exposition();
    for (const name of perServer) expect(serversIn(text, name), name).toEqual(['web 198.51.100.12:8080']);
    expect(vsIn(text)).toEqual(['web']);
  });

  it('a check result with the same labels object after forget() starts a new series', async () => {
    // The director passes the same label objects for every result: the store caches the series
    // per object, and must not keep counting into one that forget() dropped.
    const { metrics } = setup();
    const labels = { ...a, check: 'tcp' };
    metrics.checkCompleted(labels, { ok: true, latencyMs: 1 });
    metrics.checkCompleted(labels, { ok: true, latencyMs: 1 });
    metrics.forget(a);
    metrics.checkCompleted(labels, { ok: false, latencyMs: 1 });
    const text = await metrics.exposition();
    expect(sample(text, 'ipvsd_checks_total', { ...labels, result: 'success' })).toBe(0);
    expect(sample(text, 'ipvsd_checks_total', { ...labels, result: 'failure' })).toBe(1);
  });

  it('a forgotten server comes back when reported again', async () => {
    const { metrics } = setup();
    populate(metrics);
    metrics.forget(a);
    metrics.setHealth(a, false);
    const text = await metrics.exposition();
    expect(sample(text, 'ipvsd_real_server_up', a)).toBe(0);
  });
});

describe('noopMetrics', () => {
  it('accepts every call and does nothing', () => {
    expect(() => exercise(noopMetrics)).not.toThrow();
    expect(() => {
      noopMetrics.forget({ virtual_server: 'web', real_server: '198.51.100.11:8080' });
      noopMetrics.forgetVirtualServer('web');
      noopMetrics.retain({ virtualServers: [], realServers: [] });
    }).not.toThrow();
    expect(Object.isFrozen(noopMetrics)).toBe(true);
  });
});
