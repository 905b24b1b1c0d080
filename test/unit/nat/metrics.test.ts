import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { NatStatus } from '../../../src/control/protocol.js';
import { registerNatMetrics } from '../../../src/nat/metrics.js';

describe('full NAT metrics', () => {
  it('are read from the reconciler status at each scrape', async () => {
    const registry = new Registry();
    let status: NatStatus | null = null;
    registerNatMetrics(registry, () => status);
    expect(await registry.metrics()).toContain('ipvsd_nat_reconcile_errors_total 0');
    status = {
      table: 'present',
      rules: 2,
      errors: 3,
      drift_repairs: 1,
      last_error: null,
      sources: [
        { address: '198.51.100.2', local: true },
        { address: '198.51.100.3', local: false },
        { address: '198.51.100.4', local: null },
      ],
    };
    const text = await registry.metrics();
    expect(text).toContain('ipvsd_nat_reconcile_errors_total 3');
    expect(text).toContain('ipvsd_nat_drift_repairs_total 1');
    expect(text).toContain('ipvsd_nat_rules 2');
    expect(text).toContain('ipvsd_nat_source_address_local{address="198.51.100.2"} 1');
    expect(text).toContain('ipvsd_nat_source_address_local{address="198.51.100.3"} 0');
    expect(text).not.toContain('198.51.100.4');
  });
});
