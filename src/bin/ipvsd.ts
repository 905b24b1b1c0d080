#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=4 --heap-growing-percent=20 --no-flush-bytecode
/**
 * ipvsd: the director daemon. Composition root: reads argv and the config, builds the real
 * backends (kernel IPVS, health probes, Prometheus, control socket, systemd notify), wires them to
 * the director and turns signals into reload and stop.
 *
 * The V8 heap settings on the first line are part of the daemon (`ipvsd` and the systemd unit run
 * this file through it): with 10,000 real servers checked every second the live heap is ~41 MiB,
 * but V8's defaults let the young generation take 32 MiB and the old one grow to twice the live
 * size or more between full collections, so the RSS passed 170 MiB. A 2 × 8 MiB young generation
 * and an old generation allowed 20% above what the last full collection kept hold it under
 * 150 MiB for about the same CPU (bench/check-scale.sh measures both with these flags, which it
 * reads from this line). `--no-flush-bytecode`: V8 drops the bytecode of a function that has not
 * run for a few full collections, and a backup's takeover code may not run for months; without it
 * the takeover warm-up (director/takeover-warm-up.ts) would be undone and the first takeover would
 * compile its code again on its critical path. `node dist/src/bin/ipvsd.js` runs without them.
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { createHealthMonitor } from '../check/monitor.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { ReloadResult } from '../control/protocol.js';
import { createControlServer } from '../control/server.js';
import { createDirector, type Director } from '../director/director.js';
import { createDrainStore } from '../director/drain-store.js';
import { createInterfaceForwarding } from '../director/forwarding.js';
import { stopNode } from '../director/node-stop.js';
import { followedState } from '../director/sync-daemon-plan.js';
import { warmUpTakeover } from '../director/takeover-warm-up.js';
import { timeoutOperation } from '../director/timeouts.js';
import { createVrrpFollower } from '../director/vrrp-follower.js';
import { createVrrpView } from '../director/vrrp-view.js';
import { formatConfigIssue, IpvsdError } from '../errors.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import { createKernelBackend } from '../ipvs/kernel-backend.js';
import { createMetricsServer } from '../metrics/http.js';
import { createMetrics } from '../metrics/metrics.js';
import { registerVrrpMetrics } from '../metrics/vrrp-metrics.js';
import { serviceKeyString } from '../model/ipvs.js';
import { settleChildren } from '../sys/child-process.js';
import { componentLogger, createLogger } from '../sys/logger.js';
import { createSdNotify } from '../sys/sd-notify.js';
import { createSysctl } from '../sys/sysctl.js';
import { VERSION } from '../version.js';
import { createVrrpSpeaker, type VrrpSpeaker } from '../vrrp/speaker.js';

const log = createLogger();
/** How long a stop waits for running scripts (a STOP notify) before killing them (TimeoutStopSec=15s). */
const STOP_SCRIPT_GRACE_MS = 3000;

/** Reads and validates; every problem as FILE:LINE:COL: message. */
async function readConfig(file: string): Promise<{ config: Config } | { errors: string[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { errors: [`${file}: cannot read: ${(err as Error).message}`] };
  }
  const { config, issues } = parseConfig(text, file);
  if (!config || issues.length) return { errors: issues.map(formatConfigIssue) };
  return { config };
}

/**
 * Where state that must survive a restart (drains) lives: `--state-dir`, else systemd's
 * StateDirectory= (`$STATE_DIRECTORY`, the first path when it lists several), else nowhere.
 */
function stateDirectory(option: string | undefined): string | null {
  return option || process.env.STATE_DIRECTORY?.split(':')[0] || null;
}

async function main(file: string, stateDir: string | null): Promise<void> {
  const first = await readConfig(file);
  if ('errors' in first) {
    for (const e of first.errors) process.stderr.write(`${e}\n`);
    log.error({ file, errors: first.errors.length }, 'config refused');
    process.exitCode = 1;
    return;
  }
  let config = first.config;
  let loadedAt = Date.now();
  const notify = createSdNotify(process.env, { logger: componentLogger(log, 'systemd') });
  const sysctl = createSysctl();

  // IPVS is touched only when the config has virtual servers: VRRP-only directors need no module.
  let backend: IpvsBackend | null = null;
  const ensureBackend = async (c: Config): Promise<IpvsBackend | null> => {
    if (!backend && c.virtualServers.length > 0) backend = await createKernelBackend();
    return backend;
  };
  const applyKernelSettings = async (c: Config): Promise<void> => {
    if (c.director.ipForward && (await sysctl.ensure('net.ipv4.ip_forward', '1')))
      log.info({ sysctl: 'net.ipv4.ip_forward', value: 1 }, 'sysctl set');
    const b = await ensureBackend(c);
    const op = b ? await timeoutOperation(() => b.timeouts(), c.director.ipvs.timeouts) : null;
    if (b && op) {
      const [result] = await b.apply([op]);
      if (result?.error) throw result.error;
      log.info({ timeouts: c.director.ipvs.timeouts }, 'ipvs timeouts set');
    }
  };
  await applyKernelSettings(config);
  // The sync daemon needs IPVS even on a director without virtual servers; it gets its own
  // backend then, so the director still never touches the table of a VRRP-only config.
  let syncBackend: IpvsBackend | null = null;
  const syncKernel = async (): Promise<IpvsBackend> => {
    if (backend) return backend;
    syncBackend ??= await createKernelBackend();
    return syncBackend;
  };

  const serviceNames = () => new Map(config.virtualServers.map((vs) => [serviceKeyString(vs.key), vs.name]));
  let names = serviceNames();
  const metrics = createMetrics({
    dumpIpvs: async () => (backend ? backend.dump() : []),
    version: VERSION,
    serviceName: (key) => names.get(serviceKeyString(key)),
    logger: componentLogger(log, 'metrics'),
  });
  const monitor = createHealthMonitor({ logger: componentLogger(log, 'check') });
  const director: Director = createDirector(config, {
    backend: () => backend,
    monitor,
    metrics,
    logger: componentLogger(log, 'director'),
    drainStore: createDrainStore(stateDir),
  });

  // VRRP: the speaker holds the VIPs; the follower switches the IPVS sync daemon in order with
  // them (the speaker's transition hook) and guards the stop; the view serves status and failover.
  const follower = createVrrpFollower(config, {
    kernel: syncKernel,
    setForwarding: createInterfaceForwarding(),
    currentState: (name) => followedState(speaker.status(), name),
    logger: componentLogger(log, 'sync-daemon'),
  });
  // Always created: without instances it opens nothing, and a reload can bring the first ones.
  const speaker: VrrpSpeaker = createVrrpSpeaker(config, {
    logger: log,
    transitionHook: (change) => follower.onTransition(change),
  });
  const vrrp = createVrrpView(config, { speaker, syncDaemon: () => follower.status() });
  registerVrrpMetrics(metrics.registry, () =>
    config.vrrpInstances.length > 0 || config.director.syncDaemon ? vrrp.status() : null,
  );

  let reloading: Promise<ReloadResult> | null = null;
  const reload = (): Promise<ReloadResult> => {
    reloading ??= (async (): Promise<ReloadResult> => {
      notify.reloading('reloading the config');
      try {
        const next = await readConfig(file);
        if ('errors' in next) {
          for (const e of next.errors) log.error({ issue: e }, 'config error');
          log.error({ file, errors: next.errors.length }, 'reload refused: the running config stays');
          metrics.reloaded(false);
          return { reloaded: false, errors: next.errors };
        }
        if (
          next.config.director.controlSocket !== config.director.controlSocket ||
          next.config.director.metrics.listen.port !== config.director.metrics.listen.port ||
          next.config.director.metrics.listen.host !== config.director.metrics.listen.host
        )
          log.warn({}, 'control_socket and metrics.listen changes take effect at the next restart');
        await applyKernelSettings(next.config);
        config = next.config;
        names = serviceNames();
        loadedAt = Date.now();
        await director.reload(config);
        vrrp.reload(config);
        // The follower first, so transitions the speaker's reload causes are judged by the new `follow`.
        await follower.reload(config);
        await speaker.reload(config);
        metrics.reloaded(true);
        log.info({ file, virtualServers: config.virtualServers.length }, 'config reloaded');
        return { reloaded: true, errors: [] };
      } catch (err) {
        metrics.reloaded(false);
        log.error({ err: (err as Error).message }, 'reload failed');
        return { reloaded: false, errors: [(err as Error).message] };
      } finally {
        notify.ready('running');
        reloading = null;
      }
    })();
    return reloading;
  };

  const control = createControlServer({
    path: config.director.controlSocket,
    logger: componentLogger(log, 'control'),
    handlers: {
      status: async () => ({ ...(await director.status(loadedAt)), vrrp: vrrp.status() }),
      reload,
      drain: (vs, rs) => director.drain(vs, rs),
      undrain: (vs, rs) => director.undrain(vs, rs),
      failover: async (name) => vrrp.failover(name),
    },
  });
  const metricsServer = createMetricsServer({
    host: config.director.metrics.listen.host,
    port: config.director.metrics.listen.port,
    metrics,
    logger: componentLogger(log, 'metrics'),
  });

  await director.start();
  // Nothing is master before the first election: the backup sync daemon runs first.
  await follower.start();
  // A rehearsal on stand-ins, so the first takeover does not compile its own code on its way.
  try {
    const warm = await warmUpTakeover(config);
    if (warm !== null) log.info(warm, 'takeover path warmed up');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'takeover warm-up failed');
  }
  await speaker.start();
  const syncResync = setInterval(() => {
    if (config.director.syncDaemon) void follower.resync();
  }, config.director.ipvs.resyncIntervalMs);
  syncResync.unref();
  await control.start();
  await metricsServer.start();
  const stopWatchdog = notify.startWatchdog();
  notify.ready('running');
  log.info(
    { file, version: VERSION, virtualServers: config.virtualServers.length, stateDir },
    'ipvsd started',
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    notify.stopping();
    log.info({ signal }, 'ipvsd stopping');
    stopWatchdog();
    clearInterval(syncResync);
    vrrp.close();
    await stopNode(
      {
        follower,
        speaker,
        closeEndpoints: async () => {
          await control.stop().catch(() => undefined);
          await metricsServer.stop().catch(() => undefined);
        },
        director,
        logger: log,
      },
      config.director.ipvs.onStop === 'remove',
    );
    // Notify scripts for STOP get a moment to finish; then every script and what it left goes.
    await settleChildren(STOP_SCRIPT_GRACE_MS);
    (backend as IpvsBackend | null)?.close();
    (syncBackend as IpvsBackend | null)?.close();
    log.info({ signal }, 'ipvsd stopped');
  };
  process.on('SIGHUP', () => void reload());
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

new Command('ipvsd')
  .description('LVS/IPVS director daemon (NAT mode): health checks, IPVS reconcile, control API, metrics')
  .version(VERSION)
  .requiredOption('--config <file>', 'config file (YAML)')
  .option(
    '--state-dir <dir>',
    'keeps drains across restarts (default: $STATE_DIRECTORY; none: in memory only)',
  )
  .action(async (opts: { config: string; stateDir?: string }) => {
    try {
      await main(opts.config, stateDirectory(opts.stateDir));
    } catch (err) {
      const message = err instanceof IpvsdError ? err.message : ((err as Error).stack ?? String(err));
      log.fatal({ err: message }, 'ipvsd failed to start');
      process.stderr.write(`ipvsd: ${message}\n`);
      process.exit(1);
    }
  })
  .parseAsync(process.argv);
