/**
 * ipvsd_vrrp_* families: refilled from one snapshot per scrape, so they match the status, and an
 * instance that disappears leaves the exposition. Linted with promtool like the rest.
 */
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { registerVrrpMetrics, type VrrpMetricsSnapshot } from '../../../src/metrics/vrrp-metrics.js';

const SNAPSHOT: VrrpMetricsSnapshot = {
  instances: [
    {
      name: 'VI_client',
      state: 'MASTER',
      priority: 150,
      master_address: '203.0.113.2',
      transitions_by_state: { MASTER: 2, BACKUP: 3, FAULT: 1, INIT: 0 },
      last_transition: '2025-01-01T00:00:00.000Z',
      adverts: { sent: 40, received: 7, dropped: { bad_ttl: 2, auth_mismatch: 0 } },
    },
    { name: 'VI_server', state: 'BACKUP', priority: 100, master_address: null },
  ],
  sync_groups: [
    {
      name: 'VG1',
      state: 'BACKUP',
      members: ['VI_client', 'VI_server'],
      transitions_by_state: { MASTER: 1, BACKUP: 2, FAULT: 0, INIT: 0 },
      last_transition: '2025-01-01T00:00:01.000Z',
    },
  ],
  sockets: [
    { interface: 'eth0', family: 'inet', drops: 46065 },
    { interface: 'eth1', family: 'inet6', drops: 0 },
  ],
  sync_daemon: { running: ['backup'], wanted: 'backup', switches: 3, errors: 1 },
};

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('VRRP metrics', () => {
  it('renders state, priority, master, transitions, adverts, drops, socket drops and the sync daemon', async () => {
    const registry = new Registry();
    registerVrrpMetrics(registry, () => SNAPSHOT);
    const text = await registry.metrics();
    expect(lines(text, 'ipvsd_vrrp_instance_state{instance="VI_client"')).toEqual([
      'ipvsd_vrrp_instance_state{instance="VI_client",state="MASTER"} 1',
      'ipvsd_vrrp_instance_state{instance="VI_client",state="BACKUP"} 0',
      'ipvsd_vrrp_instance_state{instance="VI_client",state="FAULT"} 0',
      'ipvsd_vrrp_instance_state{instance="VI_client",state="INIT"} 0',
    ]);
    expect(lines(text, 'ipvsd_vrrp_instance_priority{')).toEqual([
      'ipvsd_vrrp_instance_priority{instance="VI_client"} 150',
      'ipvsd_vrrp_instance_priority{instance="VI_server"} 100',
    ]);
    expect(lines(text, 'ipvsd_vrrp_instance_master_info{')).toEqual([
      'ipvsd_vrrp_instance_master_info{instance="VI_client",master_address="203.0.113.2"} 1',
    ]);
    expect(text).toContain('ipvsd_vrrp_instance_transitions_total{instance="VI_client",to_state="BACKUP"} 3');
    expect(text).toContain('ipvsd_vrrp_instance_transitions_total{instance="VI_server",to_state="MASTER"} 0');
    expect(text).toContain(
      'ipvsd_vrrp_instance_last_transition_timestamp_seconds{instance="VI_client"} 1735689600',
    );
    expect(text).toContain('ipvsd_vrrp_instance_adverts_sent_total{instance="VI_client"} 40');
    expect(text).toContain('ipvsd_vrrp_instance_adverts_received_total{instance="VI_client"} 7');
    expect(lines(text, 'ipvsd_vrrp_instance_adverts_dropped_total{')).toEqual([
      'ipvsd_vrrp_instance_adverts_dropped_total{instance="VI_client",reason="bad_ttl"} 2',
      'ipvsd_vrrp_instance_adverts_dropped_total{instance="VI_client",reason="auth_mismatch"} 0',
    ]);
    expect(lines(text, 'ipvsd_vrrp_socket_drops_total{')).toEqual([
      'ipvsd_vrrp_socket_drops_total{interface="eth0",family="inet"} 46065',
      'ipvsd_vrrp_socket_drops_total{interface="eth1",family="inet6"} 0',
    ]);
    expect(text).toContain('ipvsd_vrrp_sync_group_state{sync_group="VG1",state="BACKUP"} 1');
    expect(text).toContain('ipvsd_vrrp_sync_group_member_info{sync_group="VG1",instance="VI_server"} 1');
    expect(text).toContain('ipvsd_vrrp_sync_group_transitions_total{sync_group="VG1",to_state="MASTER"} 1');
    expect(lines(text, 'ipvsd_vrrp_sync_daemon_running{')).toEqual([
      'ipvsd_vrrp_sync_daemon_running{state="master"} 0',
      'ipvsd_vrrp_sync_daemon_running{state="backup"} 1',
    ]);
    expect(text).toContain('ipvsd_vrrp_sync_daemon_switches_total 3');
    expect(text).toContain('ipvsd_vrrp_sync_daemon_errors_total 1');
  });

  it('reads one snapshot per scrape; what leaves the snapshot leaves the exposition', async () => {
    const registry = new Registry();
    let reads = 0;
    let snapshot: VrrpMetricsSnapshot | null = SNAPSHOT;
    registerVrrpMetrics(registry, () => {
      reads += 1;
      return snapshot;
    });
    await registry.metrics();
    expect(reads).toBe(1);
    snapshot = { ...SNAPSHOT, instances: SNAPSHOT.instances.slice(1), sync_daemon: null };
    const text = await registry.metrics();
    expect(reads).toBe(2);
    expect(lines(text, 'ipvsd_vrrp_instance').filter((l) => l.includes('VI_client'))).toEqual([]);
    expect(lines(text, 'ipvsd_vrrp_instance_priority{')).toEqual([
      'ipvsd_vrrp_instance_priority{instance="VI_server"} 100',
    ]);
    expect(text).not.toContain('ipvsd_vrrp_sync_daemon_running{');
    snapshot = null;
    expect(lines(await registry.metrics(), 'ipvsd_vrrp_instance')).toEqual([]);
  });

  it('passes promtool check metrics together with the daemon families', async () => {
    const metrics = createMetrics({ dumpIpvs: async () => [], version: '0.1.0' }, { processMetrics: true });
    registerVrrpMetrics(metrics.registry, () => SNAPSHOT);
    const text = await metrics.exposition();
    expect(text).toContain('# TYPE ipvsd_vrrp_instance_transitions_total counter');
    const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (run.error)
      throw new Error(`cannot run promtool (${run.error.message}): install the Debian package "prometheus"`);
    expect({ status: run.status, output: `${run.stdout}${run.stderr}`.trim() }).toEqual({
      status: 0,
      output: '',
    });
  });
});
