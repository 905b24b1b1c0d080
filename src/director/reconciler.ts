/**
 * Keeps the kernel's IPVS table equal to the latest desired table. Level-triggered: every run diffs
 * the desired table against what the kernel holds and applies the difference (DESIGN §2).
 * Between full resyncs the kernel's table is tracked in a mirror (the services of the last kernel
 * dump, by key; a service an accepted operation changed is replaced by the result of applying the
 * operations to it by the kernel's rules, in an in-memory backend), so a health change costs a diff
 * and a batch, not a dump: it reaches the kernel within milliseconds. An event run (a health change, a
 * drain) diffs only the services whose desired object is new since the last run: the decision
 * (desired-state.ts) hands back the same object for a virtual server whose outcome did not change,
 * so a change on one of 10,000 real servers diffs one service, not the whole table. A full
 * resync (periodic, at start and reload, or after any refused operation) re-reads the kernel,
 * diffs everything and repairs drift, e.g. after `ipvsadm -C`.
 *
 * The periodic resync runs every few seconds over the whole table, so it is kept to the one copy it
 * cannot avoid, the kernel dump: the dump becomes the mirror as it is, and a service is diffed only
 * when the diff could find something. The diff is a pure function of the desired service and the
 * kernel's service, so a service whose desired object is the one a previous diff found nothing for,
 * and whose dumped settings and destinations equal (field by field, in order) the kernel service that
 * diff saw, would get no operations again; everything else — a changed desired object, any drift in
 * the kernel, a service added or removed behind our back — goes through the diff as before.
 * Runs never overlap; requests made during a run coalesce into one more run with the latest table.
 */
import type { IpvsdError } from '../errors.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import { createMemoryBackend } from '../ipvs/memory-backend.js';
import { canonicalServiceKey } from '../model/canonical.js';
import {
  type DesiredService,
  type DestinationState,
  type IpvsOperation,
  type ServiceKey,
  type ServiceState,
  serviceKeyString,
} from '../model/ipvs.js';
import { diff } from './diff.js';

export type ReconcileKind = 'start' | 'event' | 'resync' | 'reload';

export interface ReconcileReport {
  readonly kind: ReconcileKind;
  /** ms since the epoch */
  readonly at: number;
  readonly durationMs: number;
  readonly operations: readonly IpvsOperation[];
  readonly errors: readonly IpvsdError[];
}

export interface ReconcilerOptions {
  readonly unmanaged: 'remove' | 'keep';
}

export interface ReconcilerDeps {
  readonly backend: IpvsBackend;
  readonly now?: () => number;
  /** Called after every run (logging, metrics, status). Must not throw. */
  readonly onReport?: (report: ReconcileReport) => void;
  /** Called when a run fails as a whole (e.g. the dump failed). Must not throw. */
  readonly onFailure?: (error: unknown, kind: ReconcileKind) => void;
}

export interface Reconciler {
  /** Sets the desired table and reconciles as soon as possible. */
  setDesired(services: readonly DesiredService[], kind?: ReconcileKind): Promise<void>;
  setOptions(options: ReconcilerOptions): void;
  /** Re-reads the kernel table and repairs any difference. */
  resync(): Promise<void>;
  /** The kernel table as last read or tracked; null before the first run. */
  kernelTable(): Promise<ServiceState[] | null>;
  lastReport(): ReconcileReport | null;
  /** Resolves when no run is in progress or queued. */
  idle(): Promise<void>;
}

export function createReconciler(initial: ReconcilerOptions, deps: ReconcilerDeps): Reconciler {
  const now = deps.now ?? Date.now;
  let options = initial;
  let desired: readonly DesiredService[] | null = null;
  /** The kernel as we believe it is, per service key; null: read it again before the next run. */
  let mirror: Map<string, ServiceState> | null = null;
  /** The desired objects the mirror was last made equal to, by key (what an event run skips). */
  let applied = new Map<string, DesiredService>();
  /** Per key, a desired object and a kernel service the diff found nothing to do for (what a resync skips). */
  let clean = new Map<string, Clean>();
  let queued: { kind: ReconcileKind; full: boolean } | null = null;
  let running: Promise<void> | null = null;
  let last: ReconcileReport | null = null;

  /** The kernel's table by key: the dumped objects themselves, which nothing else holds or changes. */
  async function readKernel(): Promise<Map<string, ServiceState>> {
    const table = new Map<string, ServiceState>();
    for (const service of await deps.backend.dump()) {
      const key = keyOf(service.key);
      if (!table.has(key)) table.set(key, service);
    }
    return table;
  }

  /** What an event run needs to look at: the services whose desired object changed, or null for all. */
  function changedServices(wanted: readonly DesiredService[]): DesiredService[] | null {
    if (wanted.length !== applied.size) return null;
    const changed: DesiredService[] = [];
    for (const service of wanted) {
      const key = keyOf(service.key);
      const before = applied.get(key);
      if (before === undefined) return null;
      if (before !== service) changed.push(service);
    }
    return changed;
  }

  /**
   * A full run's diff: the desired services the diff could find something in, against their kernel
   * services, plus (when unmanaged ones are removed) the kernel services nothing desired names. The
   * services left out are exactly those diff() would return nothing for, so the operations, and their
   * order, are what diffing the whole table gives.
   */
  function fullDiff(
    wanted: readonly DesiredService[],
    table: Map<string, ServiceState>,
  ): { operations: IpvsOperation[]; diffed: DesiredService[] } {
    const diffed: DesiredService[] = [];
    const actual: ServiceState[] = [];
    const seen = new Set<string>();
    for (const service of wanted) {
      const key = keyOf(service.key);
      if (seen.has(key)) continue; // a later duplicate: diff() ignores it
      seen.add(key);
      const state = table.get(key);
      const memo = clean.get(key);
      if (
        state !== undefined &&
        memo !== undefined &&
        memo.desired === service &&
        sameState(memo.state, state)
      ) {
        memo.state = state; // the same settings; keep the newer object so the older dump can go
        continue;
      }
      diffed.push(service);
      if (state !== undefined) actual.push(state);
    }
    for (const key of clean.keys()) if (!seen.has(key)) clean.delete(key);
    if (options.unmanaged === 'remove')
      for (const [key, state] of table) if (!seen.has(key)) actual.push(state);
    return { operations: diff(diffed, actual, { unmanaged: options.unmanaged }), diffed };
  }

  /** Remembers, for each diffed service the operations do not touch, what the diff found nothing in. */
  function remember(
    diffed: readonly DesiredService[],
    operations: readonly IpvsOperation[],
    table: Map<string, ServiceState>,
  ): void {
    const touched = new Set<string>();
    for (const operation of operations)
      if (operation.kind !== 'set-timeouts') touched.add(keyOf(operationKey(operation)));
    for (const service of diffed) {
      const key = keyOf(service.key);
      const state = table.get(key);
      if (touched.has(key) || state === undefined) clean.delete(key);
      else clean.set(key, { desired: service, state });
    }
  }

  async function runOnce(kind: ReconcileKind, full: boolean): Promise<void> {
    if (!desired) return;
    const wanted = desired;
    const started = now();
    const scoped = full || !mirror ? null : changedServices(wanted);
    if (full || !mirror) mirror = await readKernel();
    const table = mirror;
    let operations: IpvsOperation[];
    let diffed: readonly DesiredService[];
    if (scoped === null) ({ operations, diffed } = fullDiff(wanted, table));
    else {
      // Only managed services are in play: unmanaged ones are the full run's business.
      const actual: ServiceState[] = [];
      for (const service of scoped) {
        const state = table.get(keyOf(service.key));
        if (state !== undefined) actual.push(state);
      }
      operations = diff(scoped, actual, { unmanaged: 'keep' });
      diffed = scoped;
    }
    // What the diff saw, before the mirror moves on: a service the operations leave alone is clean.
    remember(diffed, operations, table);
    const results = operations.length ? await deps.backend.apply(operations) : [];
    const accepted = results.filter((r) => r.error === null).map((r) => r.operation);
    const errors = results.flatMap((r) => (r.error ? [r.error] : []));
    if (errors.length) {
      mirror = null; // the kernel disagreed with our model: read it again next time
      applied = new Map();
      clean = new Map();
    } else {
      await applyToMirror(table, accepted);
      if (scoped === null) applied = new Map(wanted.map((s) => [keyOf(s.key), s]));
      else for (const s of scoped) applied.set(keyOf(s.key), s);
    }
    last = { kind, at: started, durationMs: now() - started, operations, errors };
    deps.onReport?.(last);
  }

  function schedule(kind: ReconcileKind, full: boolean): Promise<void> {
    queued = queued ? { kind: full ? kind : queued.kind, full: queued.full || full } : { kind, full };
    if (!running) {
      running = (async () => {
        while (queued) {
          const next = queued;
          queued = null;
          try {
            await runOnce(next.kind, next.full);
          } catch (err) {
            mirror = null;
            applied = new Map();
            clean = new Map();
            deps.onFailure?.(err, next.kind);
          }
        }
        running = null;
      })();
    }
    return running;
  }

  return {
    setDesired(services, kind = 'event') {
      desired = services;
      return schedule(kind, kind !== 'event');
    },
    setOptions(next) {
      options = next;
    },
    resync: () => schedule('resync', true),
    async kernelTable() {
      return mirror ? [...mirror.values()] : null;
    },
    lastReport: () => last,
    idle: () => running ?? Promise.resolve(),
  };
}

/** The mirror's key of a service: its canonical key string. */
function keyOf(key: ServiceKey): string {
  return serviceKeyString(canonicalServiceKey(key));
}

interface Clean {
  readonly desired: DesiredService;
  state: ServiceState;
}

function operationKey(operation: Exclude<IpvsOperation, { kind: 'set-timeouts' }>): ServiceKey {
  return operation.kind === 'add-service' || operation.kind === 'edit-service'
    ? operation.service.key
    : operation.key;
}

/**
 * Whether two kernel services have the same settings and the same destinations in the same order:
 * every field the diff reads, compared as is (stricter than the diff's canonical comparison, never
 * looser), without making a single object.
 */
function sameState(a: ServiceState, b: ServiceState): boolean {
  if (a === b) return true;
  if (a.scheduler !== b.scheduler || a.flags !== b.flags) return false;
  if (a.persistence !== b.persistence) {
    if (a.persistence === null || b.persistence === null) return false;
    if (a.persistence.timeoutS !== b.persistence.timeoutS || a.persistence.netmask !== b.persistence.netmask)
      return false;
  }
  const x = a.destinations;
  const y = b.destinations;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] as DestinationState;
    const e = y[i] as DestinationState;
    if (
      d.port !== e.port ||
      d.weight !== e.weight ||
      d.address !== e.address ||
      d.forwarding !== e.forwarding ||
      d.upperThreshold !== e.upperThreshold ||
      d.lowerThreshold !== e.lowerThreshold
    )
      return false;
  }
  return true;
}

/**
 * Applies operations the kernel accepted to the mirror, by the kernel's rules: each service they touch
 * goes through an in-memory backend and is replaced by its dump; the others stay the objects they are.
 */
async function applyToMirror(
  table: Map<string, ServiceState>,
  operations: readonly IpvsOperation[],
): Promise<void> {
  // Operations on different services are independent; within one service their order is kept.
  const byService = new Map<string, IpvsOperation[]>();
  for (const operation of operations) {
    if (operation.kind === 'set-timeouts') continue; // not part of the table
    const key = keyOf(operationKey(operation));
    const list = byService.get(key);
    if (list) list.push(operation);
    else byService.set(key, [operation]);
  }
  for (const [key, list] of byService) {
    const current = table.get(key);
    const service = createMemoryBackend(current ? [current] : []);
    await service.apply(list);
    const [after] = await service.dump();
    if (after) table.set(key, after);
    else table.delete(key);
  }
}
