/**
 * Keeps the kernel's IPVS table equal to the latest desired table. Level-triggered: every run diffs
 * the desired table against what the kernel holds and applies the difference (DESIGN §2).
 * Between full resyncs the kernel's table is tracked in a mirror (one in-memory backend per
 * service, which applies operations by the kernel's rules), so a health change costs a diff and a
 * batch, not a dump: it reaches the kernel within milliseconds. An event run (a health change, a
 * drain) diffs only the services whose desired object is new since the last run: the decision
 * (desired-state.ts) hands back the same object for a virtual server whose outcome did not change,
 * so a change on one of 10,000 real servers diffs one service, not the whole table. A full
 * resync (periodic, at start and reload, or after any refused operation) re-reads the kernel,
 * diffs everything and repairs drift, e.g. after `ipvsadm -C`.
 * Runs never overlap; requests made during a run coalesce into one more run with the latest table.
 */
import type { IpvsdError } from '../errors.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import { createMemoryBackend, type MemoryBackend } from '../ipvs/memory-backend.js';
import { canonicalServiceKey } from '../model/canonical.js';
import {
  type DesiredService,
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
  let mirror: Map<string, MemoryBackend> | null = null;
  /** The desired objects the mirror was last made equal to, by key (what an event run skips). */
  let applied = new Map<string, DesiredService>();
  let queued: { kind: ReconcileKind; full: boolean } | null = null;
  let running: Promise<void> | null = null;
  let last: ReconcileReport | null = null;

  async function readKernel(): Promise<Map<string, MemoryBackend>> {
    const table = new Map<string, MemoryBackend>();
    for (const service of await deps.backend.dump())
      table.set(keyOf(service.key), createMemoryBackend([service]));
    return table;
  }

  async function mirrorDump(
    table: Map<string, MemoryBackend>,
    keys?: Iterable<string>,
  ): Promise<ServiceState[]> {
    const out: ServiceState[] = [];
    for (const key of keys ?? table.keys()) {
      const service = table.get(key);
      if (service) out.push(...(await service.dump()));
    }
    return out;
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

  async function runOnce(kind: ReconcileKind, full: boolean): Promise<void> {
    if (!desired) return;
    const wanted = desired;
    const started = now();
    const scoped = full || !mirror ? null : changedServices(wanted);
    if (full || !mirror) mirror = await readKernel();
    const table = mirror;
    const operations =
      scoped === null
        ? diff(wanted, await mirrorDump(table), { unmanaged: options.unmanaged })
        : // Only managed services are in play: unmanaged ones are the full run's business.
          diff(
            scoped,
            await mirrorDump(
              table,
              scoped.map((s) => keyOf(s.key)),
            ),
            { unmanaged: 'keep' },
          );
    const results = operations.length ? await deps.backend.apply(operations) : [];
    const accepted = results.filter((r) => r.error === null).map((r) => r.operation);
    const errors = results.flatMap((r) => (r.error ? [r.error] : []));
    if (errors.length) {
      mirror = null; // the kernel disagreed with our model: read it again next time
      applied = new Map();
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
      return mirror ? mirrorDump(mirror) : null;
    },
    lastReport: () => last,
    idle: () => running ?? Promise.resolve(),
  };
}

/** The mirror's key of a service: its canonical key string. */
function keyOf(key: ServiceKey): string {
  return serviceKeyString(canonicalServiceKey(key));
}

/** Applies operations the kernel accepted to the per-service mirror, by the kernel's rules. */
async function applyToMirror(
  table: Map<string, MemoryBackend>,
  operations: readonly IpvsOperation[],
): Promise<void> {
  // Operations on different services are independent; within one service their order is kept.
  const byService = new Map<string, IpvsOperation[]>();
  for (const operation of operations) {
    if (operation.kind === 'set-timeouts') continue; // not part of the table
    const key = keyOf(
      operation.kind === 'add-service' || operation.kind === 'edit-service'
        ? operation.service.key
        : operation.key,
    );
    const list = byService.get(key);
    if (list) list.push(operation);
    else byService.set(key, [operation]);
  }
  for (const [key, list] of byService) {
    let service = table.get(key);
    if (!service) {
      service = createMemoryBackend();
      table.set(key, service);
    }
    await service.apply(list);
    if (list.some((o) => o.kind === 'delete-service') && (await service.dump()).length === 0)
      table.delete(key);
  }
}
