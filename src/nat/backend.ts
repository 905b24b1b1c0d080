/**
 * The one interface through which ipvsd changes the kernel's NAT rules (full NAT's source NAT), as
 * src/ipvs/backend.ts is for IPVS. The nft backend runs the `nft` program; the in-memory one keeps
 * the rules in a variable, for unit tests of the reconciler and everything above it.
 */
import type { FullNatService } from './rules.js';

export interface NatRuleBackend {
  /**
   * Makes ipvsd's table hold exactly these services' rules, in one transaction; with none, removes
   * the table. Rejects with an IpvsdError when the change was refused (nothing changed then).
   */
  apply(services: readonly FullNatService[]): Promise<void>;
  /**
   * ipvsd's table as the kernel holds it now, as a fingerprint: equal for two reads of an unchanged
   * table, different after any change to it. Null when there is no table.
   */
  read(): Promise<string | null>;
}
