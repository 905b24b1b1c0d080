/**
 * `ipvsd_vip_announced{address}`: 1 while the VIP's route is in ipvsd's table (so the routing daemon
 * announces it), 0 while withdrawn. Like the VRRP series, it is refilled from the status snapshot at
 * each scrape, so it can never disagree with `ipvsctl status` and a VIP a reload removed leaves the
 * exposition at the next scrape.
 */
import { Gauge, type Registry } from 'prom-client';

export function registerAnnounceMetrics(
  registry: Registry,
  snapshot: () => readonly { readonly address: string; readonly announced: boolean }[],
): void {
  new Gauge({
    name: 'ipvsd_vip_announced',
    help: "1 while the VIP is announced (its host route is in ipvsd's routing table for BGP), 0 while withdrawn.",
    labelNames: ['address'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of snapshot()) this.set({ address: a.address }, a.announced ? 1 : 0);
    },
  });
}
