#!/usr/bin/env node
/**
 * ipvsd: the director daemon. Composition root: reads argv and the config, builds the real
 * backends (kernel IPVS, Prometheus, control socket, systemd notify), wires them to the director
 * and turns signals into reload and stop. The health checks and VRRP run in two supervised child
 * processes (`ipvsd: checks`, `ipvsd: vrrp`; src/proc), so neither a fault in the checks nor a
 * metrics scrape or a reload here can delay an advert.
 *
 * It runs on plain `node`, with node's own defaults: no malloc environment and no V8 flags.
 */
import { Command } from 'commander';
import { readConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { ProcessStatus, ReloadResult } from '../control/protocol.js';
import { createControlServer } from '../control/server.js';
import { createAnnouncer, needsSloppyTcp } from '../director/announcer.js';
import { createDirector, type Director } from '../director/director.js';
import { createDrainStore } from '../director/drain-store.js';
import { stopNode } from '../director/node-stop.js';
import { timeoutOperation } from '../director/timeouts.js';
import { createVrrpView } from '../director/vrrp-view.js';
import { createWithdrawStore } from '../director/withdraw-store.js';
import { formatConfigIssue, IpvsdError } from '../errors.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import { createKernelBackend } from '../ipvs/kernel-backend.js';
import { registerAnnounceMetrics } from '../metrics/announce-metrics.js';
import { createMetricsServer } from '../metrics/http.js';
import { createMetrics } from '../metrics/metrics.js';
import { registerProcessMetrics } from '../metrics/process-metrics.js';
import { registerVrrpMetrics } from '../metrics/vrrp-metrics.js';
import { serviceKeyString } from '../model/ipvs.js';
import { registerNatMetrics } from '../nat/metrics.js';
import { createNftBackend } from '../nat/nft-backend.js';
import { createNatReconciler } from '../nat/reconciler.js';
import { forkChild } from '../proc/fork.js';
import type { ProcessInfo } from '../proc/protocol.js';
import { createRemoteHealthMonitor } from '../proc/remote-monitor.js';
import { createRemoteVrrp } from '../proc/remote-vrrp.js';
import { createSupervisor } from '../proc/supervisor.js';
import { createAnnounceKernel } from '../sys/announce-routes.js';
import { componentLogger, createLogger } from '../sys/logger.js';
import { createRtnetlink } from '../sys/rtnetlink.js';
import { createSdNotify } from '../sys/sd-notify.js';
import { createSysctl } from '../sys/sysctl.js';
import { VERSION } from '../version.js';

const log = createLogger();

/** Reads and validates (the reader `ipvsctl check` uses); every problem as FILE:LINE:COL: message. */
async function readConfig(file: string): Promise<{ config: Config } | { errors: string[] }> {
  const { config, issues, ioError } = await readConfigFile(file);
  if (ioError !== null) return { errors: [`${file}: cannot read: ${ioError}`] };
  if (!config) return { errors: issues.map(formatConfigIssue) };
  return { config };
}

/**
 * Where state that must survive a restart (drains, withdrawals) lives: `--state-dir`, else systemd's
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
    // After the backend: /proc/sys/net/ipv4/vs exists once ip_vs is loaded. Never set back to 0
    // (a config without such a service may follow one with it; the operator may want it anyway).
    // A failure is logged, not fatal: only flows moved between directors suffer.
    if (b && needsSloppyTcp(c))
      try {
        if (await sysctl.ensure('net.ipv4.vs.sloppy_tcp', '1'))
          log.info({ sysctl: 'net.ipv4.vs.sloppy_tcp', value: 1 }, 'sysctl set');
      } catch (err) {
        log.error(
          { err: (err as Error).message },
          'net.ipv4.vs.sloppy_tcp not set: ECMP-moved DR flows will break',
        );
      }
    const op = b ? await timeoutOperation(() => b.timeouts(), c.director.ipvs.timeouts) : null;
    if (b && op) {
      const [result] = await b.apply([op]);
      if (result?.error) throw result.error;
      log.info({ timeouts: c.director.ipvs.timeouts }, 'ipvs timeouts set');
    }
  };
  await applyKernelSettings(config);

  const serviceNames = () =>
    new Map(config.virtualServers.flatMap((vs) => vs.members.map((key) => [serviceKeyString(key), vs.name])));
  let names = serviceNames();
  const metrics = createMetrics({
    dumpIpvs: async () => (backend ? backend.dump() : []),
    version: VERSION,
    serviceName: (key) => names.get(serviceKeyString(key)),
    logger: componentLogger(log, 'metrics'),
  });

  // Announced VIPs (issue 15): routes in ipvsd's table for BIRD or FRR. Always made, so a config
  // that drops every `announce` still withdraws the routes a previous run left.
  const rtnl = createRtnetlink();
  const announcer = createAnnouncer(config, {
    kernel: createAnnounceKernel(rtnl),
    store: createWithdrawStore(stateDir),
    logger: componentLogger(log, 'announce'),
  });
  registerAnnounceMetrics(metrics.registry, () => announcer.status());

  // The children. The checks child sends results to `monitor`, which keeps every target's last
  // verdict here; the vrrp child runs the speaker and the sync-daemon follower.
  const startedAt = Date.now();
  const supervisorLog = componentLogger(log, 'supervisor');
  const monitor = createRemoteHealthMonitor({
    send: (message) => checks.send(message),
    stopChild: () => checks.stop(),
    logger: componentLogger(log, 'check'),
  });
  const checks = createSupervisor(
    { name: 'checks' },
    {
      spawn: () => forkChild('checks'),
      logger: supervisorLog,
      onMessage: (m) => monitor.receive(m),
      // Without its checks this director cannot tell whether it can serve: withdraw until they are back.
      onDown: () => announcer.setFault('checks', 'the checks process is down'),
      onStart: () => announcer.setFault('checks', null),
    },
  );
  const remoteVrrp = createRemoteVrrp(config, {
    send: (message) => vrrpProcess.send(message),
    logger: componentLogger(log, 'vrrp'),
  });
  const vrrpProcess = createSupervisor(
    { name: 'vrrp' },
    {
      spawn: () => forkChild('vrrp'),
      logger: supervisorLog,
      onMessage: (m) => remoteVrrp.receive(m),
      onDown: () => remoteVrrp.childDown(),
    },
  );
  const processes = (): ProcessInfo[] => [
    { name: 'ipvsd', pid: process.pid, restarts: 0, startedAt, lastRestartAt: null },
    checks.info(),
    vrrpProcess.info(),
  ];
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const processStatus = (): ProcessStatus[] =>
    processes().map((p) => ({
      name: p.name,
      pid: p.pid,
      restarts: p.restarts,
      started_at: iso(p.startedAt),
      last_restart: iso(p.lastRestartAt),
    }));
  registerProcessMetrics(metrics.registry, processes);

  // Full NAT's nftables table. Without `full_nat` it only looks once per start or reload for a table
  // an earlier config left (and needs no nft then). The announcer's rtnetlink socket checks that
  // full_nat addresses are local.
  const nat = createNatReconciler({
    backend: createNftBackend(),
    logger: componentLogger(log, 'nat'),
    ensureConntrack: () => sysctl.ensure('net.ipv4.vs.conntrack', '1'),
    localAddresses: async () => {
      return new Set((await rtnl.listAddresses()).map((a) => a.address));
    },
  });
  registerNatMetrics(metrics.registry, () => nat.status());

  const director: Director = createDirector(config, {
    backend: () => backend,
    nat,
    monitor,
    metrics,
    logger: componentLogger(log, 'director'),
    drainStore: createDrainStore(stateDir),
    announce: announcer,
  });

  // VRRP: the vrrp child's speaker holds the VIPs and its follower switches the IPVS sync daemon
  // in order with them; the view serves status and failover from what the child pushes. The
  // child always runs: without instances it opens nothing, and a reload can bring the first ones.
  const vrrp = createVrrpView(config, { speaker: remoteVrrp, syncDaemon: () => remoteVrrp.syncDaemon() });
  registerVrrpMetrics(metrics.registry, () =>
    config.vrrpInstances.length > 0 || config.director.syncDaemon
      ? { ...vrrp.status(), sockets: remoteVrrp.status().sockets ?? [] }
      : null,
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
        await announcer.reload(config);
        await director.reload(config);
        vrrp.reload(config);
        await remoteVrrp.reload(config);
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
      status: async () => ({
        ...(await director.status(loadedAt)),
        vrrp: vrrp.status(),
        announcements: announcer.status(),
        processes: processStatus(),
      }),
      reload,
      drain: (vs, rs) => director.drain(vs, rs),
      undrain: (vs, rs) => director.undrain(vs, rs),
      failover: async (name) => vrrp.failover(name),
      withdraw: (address) => announcer.withdraw(address),
      announce: (address) => announcer.announce(address),
    },
  });
  const metricsServer = createMetricsServer({
    host: config.director.metrics.listen.host,
    port: config.director.metrics.listen.port,
    metrics,
    logger: componentLogger(log, 'metrics'),
  });

  // The checks child gets its targets when it is ready; until its first results every real
  // server is at its start state, as it was with the checks in this process.
  checks.start();
  await announcer.start();
  await director.start();
  // VRRP after the first reconcile: no VIP before its services are in the kernel.
  const vrrpStarted = remoteVrrp.started();
  vrrpProcess.start();
  await vrrpStarted;
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
    // Withdraw first: the routers move new connections elsewhere before anything here changes.
    await announcer.stop();
    stopWatchdog();
    vrrp.close();
    await stopNode(
      {
        follower: {
          prepareStop: (removeServices) => remoteVrrp.prepareStop(removeServices),
          finishStop: (removeServices) => remoteVrrp.finishStop(removeServices),
        },
        speaker: { stop: () => remoteVrrp.stopSpeaker() },
        closeEndpoints: async () => {
          await control.stop().catch(() => undefined);
          await metricsServer.stop().catch(() => undefined);
        },
        director,
        logger: log,
      },
      config.director.ipvs.onStop === 'remove',
    );
    await announcer.finishStop(config.director.ipvs.onStop === 'remove');
    rtnl.close();
    await vrrpProcess.stop();
    (backend as IpvsBackend | null)?.close();
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
    'keeps drains and withdrawals across restarts (default: $STATE_DIRECTORY; none: in memory only)',
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
