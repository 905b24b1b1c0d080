/**
 * Full NAT's series (`ipvsd_nat_*`), refilled at each scrape from the NAT reconciler's status (the
 * same numbers `ipvsctl status --json` shows under `nat`), as the VRRP series are.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NatStatus } from '../control/protocol.js';

/** Registers the families in `registry`; `status` is called during each scrape (null: no full NAT). */
export function registerNatMetrics(registry: Registry, status: () => NatStatus | null): void {
  const registers = [registry];
  new Counter({
    name: 'ipvsd_nat_reconcile_errors_total',
    help: 'Runs of the full-NAT reconcile that failed (nft missing, refused, killed or unreadable); retried at the next resync.',
    registers,
    collect() {
      this.reset();
      this.inc(status()?.errors ?? 0);
    },
  });
  new Counter({
    name: 'ipvsd_nat_drift_repairs_total',
    help: "Times ipvsd's nftables table (inet ipvsd) was found changed behind its back and written again.",
    registers,
    collect() {
      this.reset();
      this.inc(status()?.drift_repairs ?? 0);
    },
  });
  new Gauge({
    name: 'ipvsd_nat_rules',
    help: "Source-NAT rules (one per full-NAT virtual server) ipvsd's nftables table should hold.",
    registers,
    collect() {
      this.reset();
      this.set(status()?.rules ?? 0);
    },
  });
  new Gauge({
    name: 'ipvsd_nat_source_address_local',
    help: 'Whether the director holds the full_nat address (1) or not (0): real servers reply to it.',
    labelNames: ['address'],
    registers,
    collect() {
      this.reset();
      for (const s of status()?.sources ?? [])
        if (s.local !== null) this.set({ address: s.address }, s.local ? 1 : 0);
    },
  });
}
