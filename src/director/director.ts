/**
 * The director: joins the health monitor, the pure decision and the reconciler, and answers the
 * control API. It owns the operator's state (drains) and the quorum memory; everything else is
 * derived, so a reload swaps the config, keeps the health of unchanged checks (the monitor keys
 * them by check identity) and reconciles only what changed.
 */

import type { CheckTarget, HealthMonitor } from '../check/monitor.js';
import { checkTargetId } from '../check/target-id.js';
import type { CheckConfig, Config, RealServerConfig, VirtualServerConfig } from '../config/types.js';
import type { DrainResult, RealServerStatus, StatusResult } from '../control/protocol.js';
import { IpvsdError } from '../errors.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import type { CheckLabels, DirectorMetrics } from '../metrics/types.js';
import { canonicalAddress } from '../model/address.js';
import {
  destinationKeyString,
  type IpvsOperation,
  type ServiceState,
  serviceKeyString,
} from '../model/ipvs.js';
import { effectiveWeight } from '../model/track-file.js';
import type { NatReconciler } from '../nat/reconciler.js';
import { fullNatServices } from '../nat/rules.js';
import type { Logger } from '../sys/logger.js';
import {
  type DirectorDecision,
  decide,
  drainKey,
  drainKeyOf,
  type Health,
  type VirtualServerDecision,
} from './desired-state.js';
import { createDrainStore, type DrainEntry, type DrainStore } from './drain-store.js';
import { createRunLvsNotify, type RunLvsNotify } from './lvs-notify.js';
import { createReconciler, type ReconcileKind, type ReconcileReport, type Reconciler } from './reconciler.js';

export interface DirectorDeps {
  /**
   * The kernel backend, or null while the config has no virtual servers: IPVS is then never
   * touched (VRRP-only directors). Asked again at every decision, so a reload can bring it in.
   */
  readonly backend: () => IpvsBackend | null;
  readonly monitor: HealthMonitor;
  readonly metrics: DirectorMetrics;
  readonly logger: Logger;
  /**
   * Full NAT's source-NAT table (src/nat), kept to the config's `full_nat` virtual servers on the
   * IPVS table's schedule; default: none.
   */
  readonly nat?: NatReconciler;
  /** Where drains survive a restart; default: none (in memory only). */
  readonly drainStore?: DrainStore;
  /**
   * The announcer (./announcer.ts): told every decision before the kernel table changes (so a VIP
   * whose quorum is gone is withdrawn first) and every reconcile's outcome.
   */
  readonly announce?: {
    decided(virtualServers: readonly VirtualServerDecision[]): Promise<void>;
    reconciled(problem: string | null): void;
  };
  /** Runs notify_up/down and quorum_up/down scripts; default: bounded children (./lvs-notify.ts). */
  readonly runNotify?: RunLvsNotify;
  readonly now?: () => number;
}

export interface Director {
  /** Restores the saved drains, adopts the kernel table (no flush) and starts checking. */
  start(): Promise<void>;
  /** Swaps in a validated config. */
  reload(config: Config): Promise<void>;
  drain(vs: string, rs: string): Promise<DrainResult>;
  undrain(vs: string, rs: string): Promise<DrainResult>;
  resync(): Promise<void>;
  status(configLoadedAt: number): Promise<StatusResult>;
  lastReport(): ReconcileReport | null;
  /**
   * Stops checks and timers; with removeServices, deletes the services the config names, then the
   * full-NAT table.
   */
  stop(options: { removeServices: boolean }): Promise<void>;
}

/** How many of a run's operations its log line names. */
const MAX_LOGGED_OPERATIONS = 20;

/** `delete-destination tcp/203.0.113.100:80 198.51.100.12:8080`, `edit-destination … weight=0`. */
function describeOperation(op: IpvsOperation): string {
  switch (op.kind) {
    case 'add-service':
    case 'edit-service':
      return `${op.kind} ${serviceKeyString(op.service.key)} scheduler=${op.service.scheduler}`;
    case 'delete-service':
      return `${op.kind} ${serviceKeyString(op.key)}`;
    case 'add-destination':
    case 'edit-destination':
      return `${op.kind} ${serviceKeyString(op.key)} ${destinationKeyString(op.destination)} weight=${op.destination.weight}`;
    case 'delete-destination':
      return `${op.kind} ${serviceKeyString(op.key)} ${destinationKeyString(op.destination)}`;
    case 'set-timeouts':
      return `${op.kind} tcp=${op.timeouts.tcpS} tcp_fin=${op.timeouts.tcpFinS} udp=${op.timeouts.udpS}`;
  }
}

/** A file check with a multiplier: the only kind of check that moves a real server's weight. */
const hasWeightedFileCheck = (rs: RealServerConfig): boolean =>
  rs.checks.some((c) => c.type === 'file' && c.weight !== 0);

const startHealthOf = (check: CheckConfig): Health =>
  check.type !== 'none' && check.initialState === 'down' ? 'down' : 'up';

export function createDirector(initial: Config, deps: DirectorDeps): Director {
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const drainStore = deps.drainStore ?? createDrainStore(null);
  const runNotify = deps.runNotify ?? createRunLvsNotify(log);
  let config = initial;
  let drained = new Set<string>();
  let quorumMet = new Map<string, boolean>();
  let lastDecision: DirectorDecision | null = null;
  let resyncTimer: NodeJS.Timeout | null = null;
  /** check id → the (virtual server, real server) pairs it decides for */
  let users = new Map<string, { vs: VirtualServerConfig; rs: RealServerConfig }[]>();

  const makeReconciler = (backend: IpvsBackend): Reconciler =>
    createReconciler(
      { unmanaged: config.director.ipvs.unmanaged },
      {
        backend,
        now,
        onReport: (report) => {
          deps.metrics.reconciled({
            kind: report.kind,
            operations: report.operations.length,
            errors: report.errors.length,
            durationMs: report.durationMs,
          });
          if (report.operations.length)
            log.info(
              {
                kind: report.kind,
                operations: report.operations.length,
                errors: report.errors.length,
                durationMs: report.durationMs,
                // What changed, so a log tells which real server and attribute (capped: a full
                // rebuild of a big table would otherwise make one enormous line).
                changes: report.operations.slice(0, MAX_LOGGED_OPERATIONS).map(describeOperation),
              },
              'ipvs table reconciled',
            );
          for (const e of report.errors) log.error({ err: e.message }, 'kernel refused an ipvs operation');
          deps.announce?.reconciled(
            report.errors.length === 0
              ? null
              : `the kernel refused ${report.errors.length} ipvs operation${report.errors.length === 1 ? '' : 's'} (${report.errors[0]?.message})`,
          );
        },
        onFailure: (err, kind) => {
          deps.announce?.reconciled(`ipvs reconcile failed: ${(err as Error).message}`);
          deps.metrics.reconciled({ kind, operations: 0, errors: 1, durationMs: 0 });
          log.error({ err: (err as Error).message, kind }, 'ipvs reconcile failed');
        },
      },
    );
  let reconciler: Reconciler | null = null;
  /** The reconciler, created when the first backend appears. */
  const currentReconciler = (): Reconciler | null => {
    const backend = deps.backend();
    if (!reconciler && backend) reconciler = makeReconciler(backend);
    return reconciler;
  };

  // checkTargetId hashes the whole check; a decision asks for every real server's, so compute it
  // once per config object (a reload brings new objects, so the cache cannot go stale).
  const ids = new WeakMap<RealServerConfig, readonly string[]>();
  const idsOf = (rs: RealServerConfig): readonly string[] => {
    let list = ids.get(rs);
    if (list === undefined) {
      list = rs.checks.map(checkTargetId);
      ids.set(rs, list);
    }
    return list;
  };
  /** The last aggregate health of each (virtual server, real server), by drain key: what notifies compare with. */
  let lastHealth = new Map<string, Health>();

  // A burst of health changes (a switch port dies under 200 real servers) costs one decision and
  // one reconcile, not 200: changes in one turn of the event loop are decided together.
  let recomputeQueued = false;
  const queueRecompute = (): void => {
    if (recomputeQueued) return;
    recomputeQueued = true;
    setImmediate(() => {
      recomputeQueued = false;
      void recompute('event');
    });
  };

  function targets(): CheckTarget[] {
    users = new Map();
    // The check-metric labels of every user of a target: the target's tag, so the monitor hands
    // them to the result listener below.
    const resultLabels = new Map<string, CheckLabels[]>();
    const out: CheckTarget[] = [];
    for (const vs of config.virtualServers)
      for (const rs of vs.realServers) {
        const checkIds = idsOf(rs);
        for (let i = 0; i < checkIds.length; i++) {
          const id = checkIds[i] as string;
          const check = rs.checks[i] as CheckConfig;
          const labels = {
            virtual_server: vs.name,
            real_server: destinationKeyString(rs),
            check: check.type,
          };
          const list = users.get(id);
          if (list) {
            // The same check twice on one real server (two equal urls) is one target, one user.
            if (!list.some((u) => u.rs === rs)) {
              list.push({ vs, rs });
              resultLabels.get(id)?.push(labels);
            }
          } else {
            const labelList = [labels];
            users.set(id, [{ vs, rs }]);
            resultLabels.set(id, labelList);
            out.push({ id, check, start: startHealthOf(check), tag: labelList });
          }
        }
      }
    return out;
  }

  /** Up only while every check is (keepalived: ipwrapper.c, num_failed_checkers must be 0). */
  const health = (_vs: VirtualServerConfig, rs: RealServerConfig): Health => {
    const checkIds = idsOf(rs);
    for (let i = 0; i < checkIds.length; i++) {
      const h =
        deps.monitor.status(checkIds[i] as string)?.health ?? startHealthOf(rs.checks[i] as CheckConfig);
      if (h === 'down') return 'down';
    }
    return 'up';
  };

  /**
   * What the real server's checks add to its weight: the sum over its checks (a check written
   * twice counts twice, as two keepalived checkers each add their cur_weight); only file checks
   * have a delta, so a real server without one skips the lookups.
   */
  const weightDelta = (vs: VirtualServerConfig, rs: RealServerConfig): number => {
    if (!hasWeightedFileCheck(rs)) return 0;
    const checkIds = idsOf(rs);
    let sum = 0;
    let unread = false;
    for (let i = 0; i < checkIds.length; i++) {
      const st = deps.monitor.status(checkIds[i] as string);
      sum += st?.weightDelta ?? 0;
      const check = rs.checks[i] as CheckConfig;
      if (check.type === 'file' && check.weight !== 0 && (st?.lastCheckedAt ?? null) === null) unread = true;
    }
    if (heldWeights.size === 0) return sum;
    const key = drainKey(vs.name, rs);
    const held = heldWeights.get(key);
    if (held === undefined) return sum;
    if (unread) return held - rs.weight;
    heldWeights.delete(key);
    return sum;
  };

  /**
   * The kernel weights of real servers with weighted file checks, as found at a start or reload:
   * until each of those checks has read its file once, the real server keeps the weight it has,
   * so a restart does not set the configured weight and then, a moment later, the file's again.
   */
  let heldWeights = new Map<string, number>();
  async function holdKernelWeights(kind: 'start' | 'reload'): Promise<void> {
    heldWeights = new Map();
    if (!config.virtualServers.some((vs) => vs.realServers.some(hasWeightedFileCheck))) return;
    let table: readonly ServiceState[] | null;
    try {
      // At start the reconciler has not read the kernel yet; at a reload its copy is current.
      table =
        kind === 'start'
          ? ((await deps.backend()?.dump()) ?? null)
          : ((await reconciler?.kernelTable()) ?? null);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'kernel table unreadable: file-check weights start from 0');
      return;
    }
    if (table === null) return;
    const byKey = new Map(table.map((svc) => [serviceKeyString(svc.key), svc]));
    for (const vs of config.virtualServers) {
      const svc = byKey.get(serviceKeyString(vs.key));
      if (svc === undefined) continue;
      for (const rs of vs.realServers) {
        if (!hasWeightedFileCheck(rs)) continue;
        // A dr/tun destination of a group has its member's port (config/desired.ts memberServices).
        const anyPort = vs.group !== null && rs.forwarding !== 'nat';
        const dest = svc.destinations.find(
          (d) => d.address === rs.address && (anyPort || d.port === rs.port),
        );
        if (dest !== undefined) heldWeights.set(drainKey(vs.name, rs), dest.weight);
      }
    }
  }

  async function recompute(kind: ReconcileKind): Promise<void> {
    const decision = decide({
      virtualServers: config.virtualServers,
      health,
      weightDelta,
      drained,
      quorumMet,
    });
    lastDecision = decision;
    // Real servers the decision did not ask (down ones) let go of their held weight too, or the
    // results would keep asking for decisions.
    if (heldWeights.size > 0)
      for (const vs of config.virtualServers)
        for (const rs of vs.realServers) if (heldWeights.has(drainKey(vs.name, rs))) weightDelta(vs, rs);
    decision.virtualServers.forEach((d, i) => {
      const before = quorumMet.get(d.name);
      if (before !== undefined && before !== d.quorumMet)
        log.warn(
          { virtualServer: d.name, liveWeight: d.liveWeight, required: d.requiredWeight },
          d.quorumMet ? 'quorum regained' : 'quorum lost',
        );
      // keepalived starts a virtual server with quorum up (check_data.c alloc_vs), so a start
      // without quorum runs quorum_down and a start with it runs nothing (ipwrapper.c
      // update_quorum_state).
      const vs = config.virtualServers[i];
      if (vs !== undefined && (before ?? true) !== d.quorumMet) {
        const argv = d.quorumMet ? vs.quorumUp : vs.quorumDown;
        if (argv !== null)
          runNotify(argv, { event: d.quorumMet ? 'quorum_up' : 'quorum_down', virtualServer: vs.name });
      }
      deps.metrics.setQuorum(d.name, {
        met: d.quorumMet,
        liveWeight: d.liveWeight,
        required: d.requiredWeight,
      });
    });
    quorumMet = decision.quorumMet;
    // Withdraw before the table changes: routers stop sending before the services lose their servers.
    await deps.announce?.decided(decision.virtualServers);
    await currentReconciler()?.setDesired(decision.services, kind);
  }

  deps.monitor.onChange((id, status) => {
    for (const { vs, rs } of users.get(id) ?? []) {
      // A real server with several checks changes only when all are up, or the first goes down.
      const now = health(vs, rs);
      const key = drainKey(vs.name, rs);
      if (lastHealth.get(key) === now) continue;
      lastHealth.set(key, now);
      const labels = { virtual_server: vs.name, real_server: destinationKeyString(rs) };
      deps.metrics.setHealth(labels, now === 'up');
      log.info(
        { ...labels, reason: status.lastResult?.reason, check: id },
        now === 'up' ? 'real server up' : 'real server down',
      );
      const argv = now === 'up' ? rs.notifyUp : rs.notifyDown;
      if (argv !== null)
        runNotify(argv, {
          event: now === 'up' ? 'notify_up' : 'notify_down',
          virtualServer: vs.name,
          realServer: labels.real_server,
        });
    }
    queueRecompute();
  });
  // Every probe result lands here (thousands a second): the label sets are made once per config
  // and come back as the target's tag (no lookup by id per result).
  deps.monitor.onResult((_id, result, _status, tag) => {
    // A held weight is let go at a file check's first read even when its delta is unchanged (a
    // file that now says 0): no change event would come for that.
    if (heldWeights.size > 0) queueRecompute();
    const list = tag as CheckLabels[] | undefined;
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) deps.metrics.checkCompleted(list[i] as CheckLabels, result);
  });

  function publishLabels(): void {
    deps.metrics.retain({
      virtualServers: config.virtualServers.map((vs) => vs.name),
      realServers: config.virtualServers.flatMap((vs) =>
        vs.realServers.map((rs) => ({ virtual_server: vs.name, real_server: destinationKeyString(rs) })),
      ),
    });
    const known = new Map<string, Health>();
    for (const vs of config.virtualServers)
      for (const rs of vs.realServers) {
        const labels = { virtual_server: vs.name, real_server: destinationKeyString(rs) };
        const now = health(vs, rs);
        known.set(drainKey(vs.name, rs), now);
        deps.metrics.setHealth(labels, now === 'up');
        deps.metrics.setDrained(labels, drained.has(drainKey(vs.name, rs)));
      }
    lastHealth = known;
  }

  function armResync(): void {
    if (resyncTimer) clearInterval(resyncTimer);
    const r = currentReconciler();
    const nat = deps.nat;
    resyncTimer =
      r || nat
        ? setInterval(() => {
            void r?.resync();
            void nat?.resync();
          }, config.director.ipvs.resyncIntervalMs)
        : null;
    resyncTimer?.unref();
  }

  /**
   * The source-NAT rules go in before the IPVS table changes: a full-NAT service's first
   * connection must not leave un-rewritten (its real server would answer via its default route).
   */
  const reconcileNat = (kind: 'start' | 'reload'): Promise<void> =>
    deps.nat?.setDesired(fullNatServices(config.virtualServers), kind) ?? Promise.resolve();

  function findVirtualServer(arg: string): VirtualServerConfig {
    const vs = config.virtualServers.find(
      (v) => v.name === arg || v.members.some((key) => serviceKeyString(key) === arg),
    );
    if (!vs) throw new IpvsdError('IPVSD_ERR_NOT_FOUND', `no virtual server "${arg}" in the running config`);
    return vs;
  }

  function findRealServer(vs: VirtualServerConfig, arg: string): RealServerConfig {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(arg);
    const rs = m
      ? vs.realServers.find((r) => r.address === canonicalAddress(m[1] ?? '') && r.port === Number(m[2]))
      : undefined;
    if (!rs)
      throw new IpvsdError('IPVSD_ERR_NOT_FOUND', `no real server "${arg}" in virtual server "${vs.name}"`);
    return rs;
  }

  /** Drops drains of real servers the config no longer has; true when it dropped any. */
  function pruneDrains(): boolean {
    const keys = new Set(
      config.virtualServers.flatMap((vs) => vs.realServers.map((rs) => drainKey(vs.name, rs))),
    );
    const kept = new Set([...drained].filter((k) => keys.has(k)));
    const pruned = kept.size !== drained.size;
    drained = kept;
    return pruned;
  }

  /**
   * Saves the drains; a problem comes back as a sentence for the operator (and is logged), since
   * the drain itself holds either way until the daemon restarts.
   */
  async function saveDrains(): Promise<string | undefined> {
    if (drainStore.file === null)
      return 'not kept across a restart of ipvsd: it has no state directory (--state-dir, or StateDirectory= in its systemd unit)';
    const entries: DrainEntry[] = [];
    for (const vs of config.virtualServers)
      for (const rs of vs.realServers)
        if (drained.has(drainKey(vs.name, rs)))
          entries.push({ virtual_server: vs.name, real_server: destinationKeyString(rs) });
    try {
      await drainStore.save(entries);
      return undefined;
    } catch (err) {
      const warning = `${(err as Error).message}: the drains hold until ipvsd restarts`;
      log.error({ err: (err as Error).message }, 'drains not saved');
      return warning;
    }
  }

  async function restoreDrains(): Promise<void> {
    let saved: DrainEntry[];
    try {
      saved = await drainStore.load();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'saved drains unreadable: starting without them');
      return;
    }
    drained = new Set(saved.map((e) => drainKeyOf(e.virtual_server, e.real_server)));
    // Real servers the config no longer has lose their drain, as on a reload.
    if (pruneDrains()) await saveDrains();
    if (saved.length)
      log.info(
        { file: drainStore.file, drains: drained.size, dropped: saved.length - drained.size },
        'drains restored',
      );
  }

  async function setDrain(vsArg: string, rsArg: string, on: boolean): Promise<DrainResult> {
    const vs = findVirtualServer(vsArg);
    const rs = findRealServer(vs, rsArg);
    const key = drainKey(vs.name, rs);
    if (on) drained.add(key);
    else drained.delete(key);
    // Saved before the kernel changes: a crash in between must not forget a drain already in force.
    const warning = await saveDrains();
    deps.metrics.setDrained({ virtual_server: vs.name, real_server: destinationKeyString(rs) }, on);
    log.info(
      { virtualServer: vs.name, realServer: destinationKeyString(rs) },
      on ? 'real server drained' : 'real server undrained',
    );
    await recompute('event');
    return { vs: vs.name, rs: destinationKeyString(rs), drained: on, ...(warning && { warning }) };
  }

  return {
    async start() {
      await restoreDrains();
      deps.monitor.update(targets());
      publishLabels();
      await reconcileNat('start');
      await holdKernelWeights('start');
      await recompute('start');
      armResync();
    },

    async reload(next) {
      config = next;
      // Drains survive a reload for every real server that is still there.
      if (pruneDrains()) await saveDrains();
      reconciler?.setOptions({ unmanaged: next.director.ipvs.unmanaged });
      deps.monitor.update(targets());
      publishLabels();
      await reconcileNat('reload');
      await holdKernelWeights('reload');
      await recompute('reload');
      armResync();
    },

    drain: (vs, rs) => setDrain(vs, rs, true),
    undrain: (vs, rs) => setDrain(vs, rs, false),
    async resync() {
      await Promise.all([reconciler?.resync(), deps.nat?.resync()]);
    },
    lastReport: () => reconciler?.lastReport() ?? null,

    async status(configLoadedAt) {
      const kernel = new Map(
        ((await reconciler?.kernelTable()) ?? []).map((s) => [serviceKeyString(s.key), s]),
      );
      const report = reconciler?.lastReport() ?? null;
      const nat = deps.nat?.status();
      return {
        virtual_servers: config.virtualServers.map((vs, i) => {
          const decision = lastDecision?.virtualServers[i];
          const inKernel = kernel.get(serviceKeyString(vs.key));
          return {
            name: vs.name,
            protocol: vs.key.protocol,
            address: vs.key.address,
            port: vs.key.port,
            fwmark: vs.key.fwmark,
            scheduler: vs.scheduler,
            quorum: {
              required: vs.quorum,
              live_weight: decision?.liveWeight ?? 0,
              met: decision?.quorumMet ?? true,
            },
            sorry_server_active: decision?.sorryServerActive ?? false,
            ...(vs.members.length > 1 || vs.group !== null
              ? {
                  group: vs.group,
                  members: vs.members.map((key) => ({
                    protocol: key.protocol,
                    address: key.address,
                    port: key.port,
                    fwmark: key.fwmark,
                    in_kernel: kernel.has(serviceKeyString(key)),
                  })),
                }
              : {}),
            real_servers: vs.realServers.map((rs): RealServerStatus => {
              // The check that decides: the first one down, else the one answered last.
              const states = idsOf(rs).map((id) => deps.monitor.status(id));
              const st =
                states.find((x) => x?.health === 'down') ??
                states.reduce<(typeof states)[number]>(
                  (a, b) => ((b?.lastCheckedAt ?? -1) > (a?.lastCheckedAt ?? -1) ? b : a),
                  states[0],
                );
              // A dr/tun destination of a group has its member's port (config/desired.ts memberServices).
              const anyPort = vs.group !== null && rs.forwarding !== 'nat';
              const dest = inKernel?.destinations.find(
                (d) => d.address === rs.address && (anyPort || d.port === rs.port),
              );
              return {
                address: rs.address,
                port: rs.port,
                weight: rs.weight,
                effective_weight: effectiveWeight(rs.weight, weightDelta(vs, rs)),
                kernel_weight: dest ? dest.weight : null,
                health: health(vs, rs),
                drained: drained.has(drainKey(vs.name, rs)),
                last_check:
                  st?.lastResult && st.lastCheckedAt !== null
                    ? {
                        ok: st.lastResult.ok,
                        latency_ms: st.lastResult.latencyMs,
                        reason: st.lastResult.reason,
                        at: new Date(st.lastCheckedAt).toISOString(),
                      }
                    : null,
              };
            }),
          };
        }),
        vrrp: { instances: [], sync_groups: [] },
        last_reconcile: report
          ? {
              at: new Date(report.at).toISOString(),
              operations: report.operations.length,
              errors: report.errors.map((e) => e.message),
            }
          : null,
        config: { file: config.file, loaded_at: new Date(configLoadedAt).toISOString() },
        ...(nat && { nat }),
      };
    },

    async stop({ removeServices }) {
      if (resyncTimer) clearInterval(resyncTimer);
      await deps.monitor.stop();
      await reconciler?.idle();
      const backend = deps.backend();
      if (removeServices && backend) {
        const names = new Set(
          config.virtualServers.flatMap((vs) => vs.members.map((key) => serviceKeyString(key))),
        );
        const ops = (await backend.dump())
          .filter((s) => names.has(serviceKeyString(s.key)))
          .map((s) => ({ kind: 'delete-service' as const, key: s.key }));
        await backend.apply(ops);
        log.info({ services: ops.length }, 'ipvs services removed on stop');
      }
      // After the services: while they forward, their connections still need the source rewrite.
      // With services kept, the rules stay with them, so a restart drops nothing.
      if (removeServices) await deps.nat?.remove();
      else await deps.nat?.idle();
    },
  };
}
