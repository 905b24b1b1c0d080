/**
 * ipvsd_vrrp_* families: refilled from one snapshot per scrape, so they match the status, and an
 * instance that disappears leaves the exposition. Linted with promtool in test/netns/promtool.test.ts.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerVrrpMetrics, type VrrpMetricsSnapshot } from '../../../src/metrics/vrrp-metrics.js';
import { VRRP_SNAPSHOT as SNAPSHOT } from '../../support/metrics.js';

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('VRRP metrics', () => {
  it('renders state, priority, master, transitions, adverts, drops and the sync daemon', async () => {
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
});
