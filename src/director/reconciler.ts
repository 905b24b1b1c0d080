/**
 * Keeps the kernel's IPVS table equal to the latest desired table. Level-triggered: every run diffs
 * the whole desired table against what the kernel holds and applies the difference (DESIGN §2).
 * Between full resyncs the kernel's table is tracked in a mirror (the in-memory backend, which
 * applies operations by the kernel's rules), so a health change costs a diff and a batch, not a
 * dump: it reaches the kernel within milliseconds. A full resync (periodic, or after any refused
 * operation) re-reads the kernel and repairs drift, e.g. after `ipvsadm -C`.
 * Runs never overlap; requests made during a run coalesce into one more run with the latest table.
 */
import type { IpvsdError } from '../errors.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import { createMemoryBackend, type MemoryBackend } from '../ipvs/memory-backend.js';
import type { DesiredService, IpvsOperation, ServiceState } from '../model/ipvs.js';
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
  let mirror: MemoryBackend | null = null;
  let queued: { kind: ReconcileKind; full: boolean } | null = null;
  let running: Promise<void> | null = null;
  let last: ReconcileReport | null = null;

  async function runOnce(kind: ReconcileKind, full: boolean): Promise<void> {
    if (!desired) return;
    const started = now();
    if (full || !mirror) mirror = createMemoryBackend(await deps.backend.dump());
    const operations = diff(desired, await mirror.dump(), { unmanaged: options.unmanaged });
    const results = operations.length ? await deps.backend.apply(operations) : [];
    const accepted = results.filter((r) => r.error === null).map((r) => r.operation);
    const errors = results.flatMap((r) => (r.error ? [r.error] : []));
    if (errors.length)
      mirror = null; // the kernel disagreed with our model: read it again next time
    else await mirror.apply(accepted);
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
      return mirror ? mirror.dump() : null;
    },
    lastReport: () => last,
    idle: () => running ?? Promise.resolve(),
  };
}
