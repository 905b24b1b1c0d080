import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerAnnounceMetrics } from '../../../src/metrics/announce-metrics.js';

describe('ipvsd_vip_announced', () => {
  it('is 1 for announced VIPs, 0 for withdrawn ones, and follows the snapshot at each scrape', async () => {
    const registry = new Registry();
    let snapshot = [
      { address: '203.0.113.100', announced: true },
      { address: '2001:db8::100', announced: false },
    ];
    registerAnnounceMetrics(registry, () => snapshot);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE ipvsd_vip_announced gauge');
    expect(text).toContain('ipvsd_vip_announced{address="203.0.113.100"} 1');
    expect(text).toContain('ipvsd_vip_announced{address="2001:db8::100"} 0');
    snapshot = [{ address: '203.0.113.100', announced: false }];
    const after = await registry.metrics();
    expect(after).toContain('ipvsd_vip_announced{address="203.0.113.100"} 0');
    expect(after).not.toContain('2001:db8::100');
  });
});
