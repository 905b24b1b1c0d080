/**
 * The Prometheus adapter of `DirectorMetrics` (prom-client). Two kinds of series live here:
 *
 * - the daemon's own (checks, health, quorum, reconciles, reloads, build info, process), kept in one
 *   long-lived prom-client registry and updated as events happen;
 * - the kernel's IPVS counters, which belong to the kernel, not to us: each scrape reads ONE dump and
 *   renders it (./ipvs-families.ts) after the registry's text. Nothing of a dump outlives its scrape,
 *   so a failed dump can only leave its families out, never show the last good numbers again; and
 *   concurrent scrapes never write into shared series. Scrapes that overlap share the dump in flight,
 *   so N scrapers cost one netlink dump, and a dump that hangs holds no scrape past `dumpTimeoutMs`
 *   nor lets dumps pile up behind it.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ServiceKey, ServiceState } from '../model/ipvs.js';
import { createCheckSeries } from './check-series.js';
import { ipvsFamilyChunks } from './ipvs-families.js';
import type {
  CheckLabels,
  CheckOutcome,
  DirectorMetrics,
  LiveSet,
  MetricsExposition,
  MetricsLogger,
  QuorumState,
  RealServerLabels,
  ReconcileKind,
  ReconcileOutcome,
} from './types.js';

export interface MetricsDeps {
  /** Reads the kernel's IPVS table (services with stats and destinations). */
  readonly dumpIpvs: () => Promise<readonly ServiceState[]>;
  /** ipvsd's version, for `ipvsd_build_info`. */
  readonly version: string;
  /** ms since the epoch. */
  readonly now?: () => number;
  /** The config's name of a kernel service, for the `virtual_server` label; undefined for unmanaged ones. */
  readonly serviceName?: (key: ServiceKey) => string | undefined;
  /** Told when the kernel dump starts failing and when it recovers (not at every scrape). */
  readonly logger?: MetricsLogger;
}

export interface MetricsOptions {
  /** prom-client's default `process_*` and `nodejs_*` metrics. Default true. */
  readonly processMetrics?: boolean;
  /** A scrape waits this long for the kernel dump, then leaves its families out. Default 5000. */
  readonly dumpTimeoutMs?: number;
  /**
   * Buckets (seconds) of `ipvsd_check_duration_seconds`. Default CHECK_DURATION_BUCKETS (13). The
   * histogram has one series per bucket per real server per virtual server: with thousands of real
   * servers, fewer buckets make a much smaller scrape.
   */
  readonly checkDurationBuckets?: readonly number[];
}

export interface PrometheusMetrics extends DirectorMetrics, MetricsExposition {
  /** The long-lived registry (daemon series); the kernel families are added per scrape. */
  readonly registry: Registry;
}

/** Check latencies: 1 ms … 10 s (checks time out at their `timeout`, typically 1–5 s). */
export const CHECK_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** Reconcile runs: a health change should reach the kernel within 50 ms; a resync dumps the table. */
export const RECONCILE_DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Longest stretch a scrape renders without yielding to the event loop. */
const SLICE_MS = 5;

const RECONCILE_KINDS: readonly ReconcileKind[] = ['start', 'event', 'resync', 'reload'];
const RESULTS = ['success', 'failure'] as const;

/**
 * prom-client's defaults include three gauges named `*_total`, which `promtool check metrics` rejects
 * (a `_total` suffix means a counter). Their per-type siblings (`nodejs_active_handles{type}`, …)
 * carry the same information, so these go.
 */
const DROPPED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function createMetrics(deps: MetricsDeps, options: MetricsOptions = {}): PrometheusMetrics {
  const now = deps.now ?? Date.now;
  const serviceName = deps.serviceName ?? (() => undefined);
  const dumpTimeoutMs = options.dumpTimeoutMs ?? 5000;
  const registry = new Registry();
  const registers = [registry];

  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }

  const buildInfo = new Gauge({
    name: 'ipvsd_build_info',
    help: 'A metric with a constant 1 value labelled by the ipvsd version and the Node.js version running it.',
    labelNames: ['version', 'node_version'],
    registers,
  });
  buildInfo.set({ version: deps.version, node_version: process.version }, 1);

  // ipvsd_check_duration_seconds and ipvsd_checks_total: the hot path, kept outside prom-client.
  const checkSeries = createCheckSeries(options.checkDurationBuckets ?? CHECK_DURATION_BUCKETS);
  const up = new Gauge({
    name: 'ipvsd_real_server_up',
    help: 'Whether the real server is healthy (1) or not (0), after rise and fall.',
    labelNames: ['virtual_server', 'real_server'],
    registers,
  });
  const drained = new Gauge({
    name: 'ipvsd_real_server_drained',
    help: 'Whether the operator drained the real server (weight 0 whatever its health).',
    labelNames: ['virtual_server', 'real_server'],
    registers,
  });
  const quorumMet = new Gauge({
    name: 'ipvsd_virtual_server_quorum_met',
    help: 'Whether the live weight of the virtual server meets its quorum (0 means the sorry server serves).',
    labelNames: ['virtual_server'],
    registers,
  });
  const liveWeight = new Gauge({
    name: 'ipvsd_virtual_server_live_weight',
    help: 'Sum of the weights of the real servers that are up and not drained.',
    labelNames: ['virtual_server'],
    registers,
  });
  const quorumRequired = new Gauge({
    name: 'ipvsd_virtual_server_quorum_required_weight',
    help: 'The live weight the virtual server needs for quorum (its configured quorum).',
    labelNames: ['virtual_server'],
    registers,
  });
  const reconcileOperations = new Counter({
    name: 'ipvsd_reconcile_operations_total',
    help: 'Kernel IPVS operations the reconciler attempted, by what started the run.',
    labelNames: ['kind'],
    registers,
  });
  const reconcileErrors = new Counter({
    name: 'ipvsd_reconcile_errors_total',
    help: 'Kernel IPVS operations (or whole runs) that failed, by what started the run.',
    labelNames: ['kind'],
    registers,
  });
  const reconcileDuration = new Histogram({
    name: 'ipvsd_reconcile_duration_seconds',
    help: 'Time a reconcile run took (diff and kernel operations), by what started the run.',
    labelNames: ['kind'],
    buckets: [...RECONCILE_DURATION_BUCKETS],
    registers,
  });
  const reconcileLast = new Gauge({
    name: 'ipvsd_reconcile_last_timestamp_seconds',
    help: 'When the last reconcile run of this kind finished, in seconds since the epoch.',
    labelNames: ['kind'],
    registers,
  });
  const reloads = new Counter({
    name: 'ipvsd_config_reloads_total',
    help: 'Config reloads by result (a failure keeps the running config).',
    labelNames: ['result'],
    registers,
  });
  const lastReloadSuccessful = new Gauge({
    name: 'ipvsd_config_last_reload_successful',
    help: 'Whether the last config reload attempt succeeded.',
    registers,
  });
  const lastReloadSuccess = new Gauge({
    name: 'ipvsd_config_last_reload_success_timestamp_seconds',
    help: 'When the running config was loaded, in seconds since the epoch.',
    registers,
  });
  const scrapeErrors = new Counter({
    name: 'ipvsd_ipvs_scrape_errors_total',
    help: 'Scrapes that left out the kernel IPVS families because the IPVS dump failed or timed out.',
    registers,
  });

  // Known label values start at 0, so rate() and increase() work from the first failure on.
  for (const kind of RECONCILE_KINDS) {
    reconcileOperations.inc({ kind }, 0);
    reconcileErrors.inc({ kind }, 0);
    reconcileDuration.zero({ kind });
  }
  for (const result of RESULTS) reloads.inc({ result }, 0);
  // The daemon creates its metrics after the initial config loaded (it does not start otherwise).
  lastReloadSuccessful.set(1);
  lastReloadSuccess.set(now() / 1000);

  // Which health and drain series exist per real server, so forget()/retain() can remove them.
  const realServers = new Map<string, RealServerLabels>();
  const rsKey = (l: RealServerLabels): string => JSON.stringify([l.virtual_server, l.real_server]);
  const virtualServers = new Set<string>();

  function track(labels: RealServerLabels): RealServerLabels {
    const key = rsKey(labels);
    let kept = realServers.get(key);
    if (!kept) {
      kept = { virtual_server: labels.virtual_server, real_server: labels.real_server };
      realServers.set(key, kept);
    }
    return kept;
  }

  function forget(labels: RealServerLabels): void {
    const l = { virtual_server: labels.virtual_server, real_server: labels.real_server };
    up.remove(l);
    drained.remove(l);
    checkSeries.forget(l.virtual_server, l.real_server);
    realServers.delete(rsKey(l));
  }

  function forgetQuorum(virtualServer: string): void {
    const l = { virtual_server: virtualServer };
    quorumMet.remove(l);
    liveWeight.remove(l);
    quorumRequired.remove(l);
    virtualServers.delete(virtualServer);
  }

  // The kernel's table: one dump in flight at a time, shared by every scrape that overlaps it (each
  // scrape renders its own text from it).
  let kernelInFlight: Promise<readonly ServiceState[]> | null = null;
  let dumpFailing = false;

  function sharedKernelDump(): Promise<readonly ServiceState[]> {
    if (!kernelInFlight) {
      const flight = deps.dumpIpvs().finally(() => {
        if (kernelInFlight === flight) kernelInFlight = null;
      });
      kernelInFlight = flight;
    }
    return kernelInFlight;
  }

  /** The kernel's table, or null (counted, and logged when it starts failing) when the dump fails. */
  async function kernelServices(): Promise<readonly ServiceState[] | null> {
    try {
      const services = await withTimeout(sharedKernelDump(), dumpTimeoutMs);
      if (dumpFailing) {
        dumpFailing = false;
        deps.logger?.info({}, 'ipvs dump for metrics recovered');
      }
      return services;
    } catch (error) {
      scrapeErrors.inc();
      if (!dumpFailing) {
        dumpFailing = true;
        deps.logger?.warn({ err: error }, 'ipvs dump for metrics failed');
      }
      return null;
    }
  }

  /**
   * The exposition in pieces, for the HTTP endpoint to send as they come: with 10,000 real servers
   * the text is about 40 MB, which as one string (plus its gzip) took RSS from ~125 to ~220 MiB at
   * every scrape. Yields to the event loop every SLICE_MS so checks and the reconciler run meanwhile.
   */
  async function* expositionChunks(): AsyncGenerator<string, void, undefined> {
    const services = await kernelServices();
    // All parts are text format 0.0.4 (the registry's default content type, which we never change).
    yield await registry.metrics();
    yield '\n';
    let sliceStart = performance.now();
    const parts: Iterable<string>[] = [checkSeries.chunks()];
    if (services !== null) parts.push(['\n'], ipvsFamilyChunks(services, serviceName), ['\n']);
    for (const part of parts)
      for (const chunk of part) {
        if (chunk !== '') yield chunk;
        // Thousands of real servers make megabytes of text: let checks and the reconciler run meanwhile.
        if (performance.now() - sliceStart > SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
  }

  async function exposition(): Promise<string> {
    let text = '';
    for await (const chunk of expositionChunks()) text += chunk;
    return text;
  }

  return {
    registry,
    get contentType(): string {
      return registry.contentType;
    },
    exposition,
    expositionChunks,

    checkCompleted(labels: CheckLabels, outcome: CheckOutcome): void {
      checkSeries.record(labels, outcome.ok, seconds(outcome.latencyMs));
    },

    setHealth(labels: RealServerLabels, isUp: boolean): void {
      up.set(track(labels), isUp ? 1 : 0);
    },

    setDrained(labels: RealServerLabels, isDrained: boolean): void {
      drained.set(track(labels), isDrained ? 1 : 0);
    },

    setQuorum(virtualServer: string, quorum: QuorumState): void {
      const l = { virtual_server: virtualServer };
      virtualServers.add(virtualServer);
      quorumMet.set(l, quorum.met ? 1 : 0);
      liveWeight.set(l, finite(quorum.liveWeight));
      quorumRequired.set(l, finite(quorum.required));
    },

    reconciled(outcome: ReconcileOutcome): void {
      const l = { kind: outcome.kind };
      reconcileOperations.inc(l, count(outcome.operations));
      reconcileErrors.inc(l, count(outcome.errors));
      reconcileDuration.observe(l, seconds(outcome.durationMs));
      reconcileLast.set(l, now() / 1000);
    },

    reloaded(ok: boolean): void {
      reloads.inc({ result: ok ? 'success' : 'failure' });
      lastReloadSuccessful.set(ok ? 1 : 0);
      if (ok) lastReloadSuccess.set(now() / 1000);
    },

    forget,

    forgetVirtualServer(virtualServer: string): void {
      forgetQuorum(virtualServer);
      for (const labels of [...realServers.values()]) {
        if (labels.virtual_server === virtualServer) forget(labels);
      }
      checkSeries.forgetVirtualServer(virtualServer);
    },

    retain(live: LiveSet): void {
      const liveVs = new Set(live.virtualServers);
      const liveRs = new Set<string>();
      for (const rs of live.realServers) liveRs.add(rsKey(rs));
      for (const [key, labels] of [...realServers]) if (!liveRs.has(key)) forget(labels);
      checkSeries.retain((vs, rs) => liveRs.has(rsKey({ virtual_server: vs, real_server: rs })));
      for (const vs of [...virtualServers]) if (!liveVs.has(vs)) forgetQuorum(vs);
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ipvs dump took longer than ${ms} ms`)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Milliseconds to seconds; a nonsense duration counts as 0 rather than throwing in a caller's timer. */
function seconds(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0;
}

/** A count for inc(): prom-client throws on negative or non-finite values. */
function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function finite(n: number): number {
  return Number.isFinite(n) ? n : 0;
}
