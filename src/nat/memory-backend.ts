/**
 * NAT rules in memory, for unit tests: what apply() stored is what read() reports, and the test can
 * change it behind the reconciler's back (drift) or make the next calls fail.
 */
import { IpvsdError } from '../errors.js';
import type { NatRuleBackend } from './backend.js';
import { type FullNatService, nftScript } from './rules.js';

export interface MemoryNatBackend extends NatRuleBackend {
  /** The rule set the "kernel" holds (null: no table). */
  readonly table: () => string | null;
  /** Replaces the table as someone else would (null: deletes it). */
  tamper(table: string | null): void;
  /** The next `count` calls (apply or read) reject. */
  failNext(count: number, message?: string): void;
  /** Every apply so far, in order. */
  readonly applied: readonly (readonly FullNatService[])[];
  readonly reads: () => number;
}

export function createMemoryNatBackend(): MemoryNatBackend {
  let table: string | null = null;
  let failures = 0;
  let failMessage = 'nft failed';
  let reads = 0;
  const applied: (readonly FullNatService[])[] = [];
  const maybeFail = (): void => {
    if (failures > 0) {
      failures--;
      throw new IpvsdError('IPVSD_ERR_NFTABLES', failMessage);
    }
  };
  return {
    async apply(services) {
      maybeFail();
      applied.push(services);
      // The script's rules part stands for the table: what the nft backend would leave.
      table = services.some((s) => s.destinations.length > 0) ? nftScript(services) : null;
    },
    async read() {
      reads++;
      maybeFail();
      return table;
    },
    table: () => table,
    tamper(next) {
      table = next;
    },
    failNext(count, message = 'nft failed') {
      failures = count;
      failMessage = message;
    },
    applied,
    reads: () => reads,
  };
}
