/**
 * What the daemon reports about itself, as an interface with no Prometheus in it: the director, the
 * checkers and the reconciler call these methods, and `noopMetrics` lets the daemon (and its tests)
 * run without an exporter. `createMetrics()` in ./metrics.ts is the Prometheus adapter.
 *
 * Label values are the daemon's own names: `virtual_server` is a virtual server's `name` (default
 * `tcp/203.0.113.100:80`), `real_server` is `destinationKeyString()` of the real server
 * (`198.51.100.11:8080`, `[2001:db8::11]:8080`), so they join with the kernel series, which carry the
 * same two labels.
 */

export interface RealServerLabels {
  readonly virtual_server: string;
  readonly real_server: string;
}

export interface CheckLabels extends RealServerLabels {
  /** The checker type: `tcp`, `http`, `https`, `script`, … */
  readonly check: string;
}

export interface CheckOutcome {
  readonly ok: boolean;
  readonly latencyMs: number;
}

export interface QuorumState {
  readonly met: boolean;
  /** Sum of the weights of the real servers that are up (and not drained). */
  readonly liveWeight: number;
  /** The configured `quorum`. */
  readonly required: number;
}

export type ReconcileKind = 'event' | 'resync' | 'reload' | 'start';

export interface ReconcileOutcome {
  readonly kind: ReconcileKind;
  /** Kernel operations attempted. */
  readonly operations: number;
  /** Operations the kernel refused (or 1 for a run that failed as a whole). */
  readonly errors: number;
  readonly durationMs: number;
}

/** The set of series that should exist after a reload; everything else is dropped. */
export interface LiveSet {
  readonly virtualServers: Iterable<string>;
  readonly realServers: Iterable<RealServerLabels>;
}

export interface DirectorMetrics {
  /** One finished probe. A new `check` type for the same real server replaces the old type's series. */
  checkCompleted(labels: CheckLabels, outcome: CheckOutcome): void;
  /** The real server's health as the director sees it (after rise/fall). */
  setHealth(labels: RealServerLabels, up: boolean): void;
  /** Drained by the operator (`ipvsctl drain`): weight 0 whatever the health. */
  setDrained(labels: RealServerLabels, drained: boolean): void;
  setQuorum(virtualServer: string, quorum: QuorumState): void;
  /** One reconcile run (DESIGN §2). */
  reconciled(outcome: ReconcileOutcome): void;
  /** A SIGHUP or `ipvsctl reload`: `ok` false when the new file was refused. */
  reloaded(ok: boolean): void;
  /** Drops every series of one real server (health, drained, checks). */
  forget(labels: RealServerLabels): void;
  /** Drops every series of one virtual server, its real servers' included. */
  forgetVirtualServer(virtualServer: string): void;
  /**
   * Keeps the series of exactly these virtual and real servers and drops the rest: call it after a
   * reload with the new config's servers, so removed real servers leave the exposition.
   */
  retain(live: LiveSet): void;
}

/** For a daemon without a metrics listener: every call does nothing. */
export const noopMetrics: DirectorMetrics = Object.freeze({
  checkCompleted(): void {},
  setHealth(): void {},
  setDrained(): void {},
  setQuorum(): void {},
  reconciled(): void {},
  reloaded(): void {},
  forget(): void {},
  forgetVirtualServer(): void {},
  retain(): void {},
});

/** What the HTTP endpoint serves: one text exposition per scrape. */
export interface MetricsExposition {
  /** The registry's content type (`text/plain; version=0.0.4; charset=utf-8`). */
  readonly contentType: string;
  /** Renders every family; never rejects because the kernel dump failed (those families are left out). */
  exposition(): Promise<string>;
  /** The same text in pieces, as they are rendered (what the endpoint streams). */
  expositionChunks(): AsyncIterable<string>;
}

/** The part of a pino logger the metrics code uses. */
export interface MetricsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}
