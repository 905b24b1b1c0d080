/**
 * Keeps ipvsd's NAT table (full NAT, ./rules.ts) equal to the config, as the IPVS reconciler keeps
 * the IPVS table: level-triggered, re-read on every resync, repaired when it drifted.
 *
 * nft prints a table in its own normal form, not in the text we wrote, so drift is not judged by
 * comparing the two: after each write the table is read back, and that reading is the reference.
 * A later reading that differs from it (a rule edited or deleted, the table flushed or dropped by
 * someone else) is drift, and the table is written again in one transaction. The first run after a
 * start writes the table unread: replacing it atomically is as cheap as judging it, and it costs
 * no connection (NAT bindings live in the conntrack entries, not in the rules).
 *
 * A config without full NAT never needs nft: the table is looked for once per start or reload (to
 * remove one an earlier config left), and a missing nft program then just means there is none.
 * Runs never overlap; requests during a run coalesce into one more run. Failures are logged,
 * counted and retried at the next resync; nothing here throws to its caller.
 */
import type { NatStatus } from '../control/protocol.js';
import type { IpvsdError } from '../errors.js';
import type { Logger } from '../sys/logger.js';
import type { NatRuleBackend } from './backend.js';
import { type FullNatService, ruleCount } from './rules.js';

export type NatReconcileKind = 'start' | 'reload' | 'resync';

export interface NatReconcilerDeps {
  readonly backend: NatRuleBackend;
  readonly logger: Logger;
  /**
   * Sets `net.ipv4.vs.conntrack=1` (IPVS-forwarded packets reach the nat chain only with it);
   * resolves true when it changed it. Called on every run that has full-NAT services.
   */
  readonly ensureConntrack?: () => Promise<boolean>;
  /** The director's own addresses, to warn about a `full_nat` address it does not hold. */
  readonly localAddresses?: () => Promise<ReadonlySet<string>>;
}

export interface NatReconciler {
  /** Sets the services and reconciles (start, reload). */
  setDesired(services: readonly FullNatService[], kind: NatReconcileKind): Promise<void>;
  /** Re-reads the table and repairs drift. */
  resync(): Promise<void>;
  /** Removes the table (a stop that removes the services); later runs do nothing. */
  remove(): Promise<void>;
  status(): NatStatus;
  /** Resolves when no run is in progress or queued. */
  idle(): Promise<void>;
}

export function createNatReconciler(deps: NatReconcilerDeps): NatReconciler {
  const log = deps.logger;
  let desired: readonly FullNatService[] = [];
  let desiredVersion = 0;
  /** The reading right after our last write, and which desired version it wrote; null: write again. */
  let written: { version: number; fingerprint: string | null } | null = null;
  let table: NatStatus['table'] = 'unknown';
  let errors = 0;
  let driftRepairs = 0;
  let lastError: string | null = null;
  let stopped = false;
  /** full_nat address → local or not (null until checked); the warning is logged on each change. */
  let sources = new Map<string, boolean | null>();
  let queued: { kind: NatReconcileKind | 'remove' } | null = null;
  let running: Promise<void> | null = null;

  async function write(services: readonly FullNatService[]): Promise<string | null> {
    await deps.backend.apply(services);
    const fingerprint = await deps.backend.read();
    table = fingerprint === null ? 'absent' : 'present';
    return fingerprint;
  }

  async function checkSources(): Promise<void> {
    if (!deps.localAddresses || sources.size === 0) return;
    const local = await deps.localAddresses();
    for (const [address, before] of sources) {
      const now = local.has(address);
      sources.set(address, now);
      if (now === before) continue;
      if (!now)
        log.warn(
          { address },
          'full_nat address is not an address of this director: real servers reply to it, so it must route here (or arrive with a VRRP takeover)',
        );
      else if (before === false) log.info({ address }, 'full_nat address is now an address of this director');
    }
  }

  async function runOnce(kind: NatReconcileKind | 'remove'): Promise<void> {
    if (kind === 'remove') {
      // A config that never had full NAT needs no nft at stop either.
      if (ruleCount(desired) === 0 && table !== 'present') return;
      const had = (await deps.backend.read()) !== null;
      if (had) await deps.backend.apply([]);
      table = 'absent';
      written = null;
      if (had) log.info({}, 'nat table removed');
      return;
    }
    const wanted = desired;
    const version = desiredVersion;
    const rules = ruleCount(wanted);
    if (rules === 0) {
      // Nothing to hold: look for a table an earlier config left, once per start or reload.
      if (kind === 'resync' && table !== 'present') return;
      let current: string | null;
      try {
        current = await deps.backend.read();
      } catch (err) {
        if (isMissingProgram(err)) {
          table = 'absent'; // without nft there is no table ipvsd could have made
          return;
        }
        throw err;
      }
      if (current !== null) {
        await deps.backend.apply([]);
        log.info({ kind }, 'nat table removed: no virtual server has full_nat');
      }
      table = 'absent';
      written = { version, fingerprint: null };
      return;
    }
    if (deps.ensureConntrack && (await deps.ensureConntrack()))
      log.info({ sysctl: 'net.ipv4.vs.conntrack', value: 1 }, 'sysctl set');
    await checkSources();
    let drifted = false;
    if (written !== null && written.version === version) {
      const current = await deps.backend.read();
      if (current === written.fingerprint) {
        table = current === null ? 'absent' : 'present';
        return;
      }
      drifted = true;
    }
    const fingerprint = await write(wanted);
    written = { version, fingerprint };
    if (drifted) {
      driftRepairs++;
      log.warn({ kind, rules }, 'nat table had changed behind ipvsd: written again');
    } else log.info({ kind, rules }, 'nat table written');
  }

  function schedule(kind: NatReconcileKind | 'remove'): Promise<void> {
    // A stop's removal wins over anything queued; a full run covers a resync.
    if (queued === null || kind === 'remove' || queued.kind === 'resync') queued = { kind };
    if (!running) {
      running = (async () => {
        while (queued) {
          const next = queued;
          queued = null;
          try {
            await runOnce(next.kind);
            if (lastError !== null) log.info({ kind: next.kind }, 'nat reconcile succeeded again');
            lastError = null;
          } catch (err) {
            errors++;
            written = null;
            const message = (err as IpvsdError).message ?? String(err);
            if (message !== lastError) log.error({ err: message, kind: next.kind }, 'nat reconcile failed');
            lastError = message;
          }
        }
        running = null;
      })();
    }
    return running;
  }

  return {
    setDesired(services, kind) {
      if (stopped) return Promise.resolve();
      desired = services;
      desiredVersion++;
      const next = new Map<string, boolean | null>();
      for (const s of services)
        if (s.destinations.length > 0) next.set(s.source, sources.get(s.source) ?? null);
      sources = next;
      return schedule(kind);
    },
    resync: () => (stopped ? Promise.resolve() : schedule('resync')),
    remove() {
      stopped = true;
      return schedule('remove');
    },
    status: () => ({
      table,
      rules: ruleCount(desired),
      errors,
      drift_repairs: driftRepairs,
      last_error: lastError,
      sources: [...sources].map(([address, local]) => ({ address, local })),
    }),
    idle: () => running ?? Promise.resolve(),
  };
}

/** nft is not installed: the nft backend's ENOENT. */
function isMissingProgram(err: unknown): boolean {
  return (err as { cause?: { code?: string } })?.cause?.code === 'ENOENT';
}
