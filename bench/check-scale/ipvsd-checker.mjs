#!/usr/bin/env node
/**
 * ipvsd's health checking, as the daemon runs it, minus the kernel: this host has no IPVS, so
 * instead of `ipvsd --config FILE` this process wires the compiled parts the daemon's composition
 * root (src/bin/ipvsd.ts) wires, with the same process model:
 *   this process (the daemon's parent, `ipvsd`): parseConfig → createMetrics (prom-client, default
 *     options, process metrics on, ipvsd_process_* series) → createRemoteHealthMonitor (every
 *     target's last verdict, fed by the checks child) → createDirector (one metrics update per
 *     result per real server, the decision and the reconciler on every health change, the periodic
 *     resync) on an in-memory IPVS backend in place of the netlink one; createRemoteVrrp;
 *   `ipvsd: checks`: forked by src/proc/fork.ts and kept by src/proc/supervisor.ts, exactly as the
 *     daemon forks it (src/proc/child-main.ts → checks-child.ts: the real tcp/http probes);
 *   `ipvsd: vrrp`: the same, with no VRRP instance (it opens nothing, as on a director without
 *     VRRP), because the daemon always runs it and its memory counts.
 * So the CPU and memory run.mjs measures over this process tree are the daemon's; only the netlink
 * calls of a health change (none while every server stays up) and the idle control socket are
 * missing. The children inherit this process's node flags (fork's default), as the daemon's do.
 *
 * `--mode monitor` skips director, metrics and children: the monitor alone in this process.
 *
 * Started by run.mjs with an IPC channel: argv[2] is the YAML config. Messages:
 *   `sample`  → `{ type: 'sample', ok, fail, latencyMsSum, transitions, tcpResults, eld: {p50Ms, p99Ms, maxMs, meanMs},
 *                 memory: process.memoryUsage(), targets, processes }` (eld and memory: this process;
 *                 processes: the daemon's ProcessInfo list, pids and restarts of the children)
 *   `gc`      → a full GC first (only with --expose-gc), then the same as `sample`, typed `gc`
 *   `reset`   → resets the event-loop delay histogram (start of the window)
 *   `metrics-port` → starts the daemon's metrics endpoint (src/metrics/http.ts) on 127.0.0.1 once:
 *               `{ type: 'metrics-port', port }` (run.mjs scrapes it from its own process, as
 *               Prometheus would: a scraper inside this process would count its own memory)
 *   `stop`    → stops the director, the checks child and the vrrp child, and exits (so --cpu-prof
 *               writes its profile)
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const dist = (p) => new URL(`../../dist/src/${p}`, import.meta.url).href;
const { parseConfig } = await import(dist('config/load.js'));
const { createHealthMonitor } = await import(dist('check/monitor.js'));
const { checkTargetId } = await import(dist('check/target-id.js'));
const { createDirector } = await import(dist('director/director.js'));
const { createMetrics } = await import(dist('metrics/metrics.js'));
const { createMetricsServer } = await import(dist('metrics/http.js'));
const { createMemoryBackend } = await import(dist('ipvs/memory-backend.js'));
const { createLogger, componentLogger } = await import(dist('sys/logger.js'));
const { serviceKeyString } = await import(dist('model/ipvs.js'));
const { registerProcessMetrics } = await import(dist('metrics/process-metrics.js'));
const { forkChild } = await import(dist('proc/fork.js'));
const { createRemoteHealthMonitor } = await import(dist('proc/remote-monitor.js'));
const { createRemoteVrrp } = await import(dist('proc/remote-vrrp.js'));
const { createSupervisor } = await import(dist('proc/supervisor.js'));

const file = process.argv[2];
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 2 ? process.argv[i + 1] : undefined;
};
const mode = arg('--mode') ?? 'daemon';
const logFile = arg('--log');

const { config, issues } = parseConfig(readFileSync(file, 'utf8'), file);
if (!config || issues.length) {
  process.stderr.write(`config refused: ${JSON.stringify(issues.slice(0, 5))}\n`);
  process.exit(1);
}

const pino = (await import('pino')).default;
const log = createLogger({ destination: pino.destination({ dest: logFile ?? '/dev/null', sync: true }) });

// The histogram records the time between its timer's runs, so the lag is a value minus the resolution.
const RESOLUTION_MS = 10;
const eld = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
const lagMs = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
eld.enable();

// The children log to stdout (the daemon's journald stream): only warnings and worse here, so the
// benchmark's output stays readable. They inherit the environment at fork.
process.env.IPVSD_LOG_LEVEL ??= 'warn';

let checks = null;
let vrrpProcess = null;
const monitor =
  mode === 'monitor'
    ? createHealthMonitor({ logger: componentLogger(log, 'check') })
    : createRemoteHealthMonitor({
        send: (message) => checks.send(message),
        stopChild: () => checks.stop(),
        logger: componentLogger(log, 'check'),
      });
let ok = 0;
let fail = 0;
let latencyMsSum = 0;
let transitions = 0;
/** Results of TCP checks alone: their connects may never reach the servers' accept(), see run.mjs. */
let tcpResults = 0;
const failReasons = new Map();
monitor.onChange(() => {
  transitions++;
});
monitor.onResult((id, result) => {
  if (result.ok) ok++;
  else {
    fail++;
    failReasons.set(result.reason, (failReasons.get(result.reason) ?? 0) + 1);
  }
  latencyMsSum += result.latencyMs;
  if (id.startsWith('tcp/')) tcpResults++;
});

let director = null;
let metrics = null;
let processes = () => [];
let metricsServer = null;
let targets = 0;
if (mode === 'monitor') {
  const seen = new Map();
  for (const vs of config.virtualServers)
    for (const rs of vs.realServers) {
      const id = checkTargetId(rs.check);
      if (!seen.has(id)) seen.set(id, { id, check: rs.check });
    }
  targets = seen.size;
  monitor.update([...seen.values()]);
} else {
  // As src/bin/ipvsd.ts wires them, with the in-memory backend for the kernel. Named as ps shows
  // the daemon's parent.
  process.title = 'ipvsd';
  const backend = createMemoryBackend();
  const names = new Map(config.virtualServers.map((vs) => [serviceKeyString(vs.key), vs.name]));
  metrics = createMetrics({
    dumpIpvs: () => backend.dump(),
    version: 'bench',
    serviceName: (key) => names.get(serviceKeyString(key)),
    logger: componentLogger(log, 'metrics'),
  });
  const startedAt = Date.now();
  const supervisorLog = componentLogger(log, 'supervisor');
  checks = createSupervisor(
    { name: 'checks' },
    { spawn: () => forkChild('checks'), logger: supervisorLog, onMessage: (m) => monitor.receive(m) },
  );
  const remoteVrrp = createRemoteVrrp(config, {
    send: (message) => vrrpProcess.send(message),
    logger: componentLogger(log, 'vrrp'),
  });
  vrrpProcess = createSupervisor(
    { name: 'vrrp' },
    {
      spawn: () => forkChild('vrrp'),
      logger: supervisorLog,
      onMessage: (m) => remoteVrrp.receive(m),
      onDown: () => remoteVrrp.childDown(),
    },
  );
  processes = () => [
    { name: 'ipvsd', pid: process.pid, restarts: 0, startedAt, lastRestartAt: null },
    checks.info(),
    vrrpProcess.info(),
  ];
  registerProcessMetrics(metrics.registry, processes);
  director = createDirector(config, {
    backend: () => backend,
    monitor,
    metrics,
    logger: componentLogger(log, 'director'),
  });
  checks.start();
  await director.start();
  const vrrpStarted = remoteVrrp.started();
  vrrpProcess.start();
  await vrrpStarted;
  targets = monitor.snapshot().size;
}

function sampleMessage() {
  return {
    type: 'sample',
    ok,
    fail,
    latencyMsSum,
    transitions,
    tcpResults,
    failReasons: Object.fromEntries([...failReasons].sort((a, b) => b[1] - a[1]).slice(0, 5)),
    eld: {
      p50Ms: lagMs(eld.percentile(50)),
      p99Ms: lagMs(eld.percentile(99)),
      maxMs: lagMs(eld.max),
      meanMs: lagMs(eld.mean),
    },
    memory: process.memoryUsage(),
    // Where the RSS goes: V8's spaces (size = committed, used = live + not yet collected).
    heapSpacesMiB: Object.fromEntries(
      getHeapSpaceStatistics().map((h) => [
        h.space_name,
        { size: +(h.space_size / 2 ** 20).toFixed(1), used: +(h.space_used_size / 2 ** 20).toFixed(1) },
      ]),
    ),
    mallocedMiB: +(getHeapStatistics().malloced_memory / 2 ** 20).toFixed(1),
    targets,
    processes: processes(),
  };
}

process.on('message', async (msg) => {
  if (msg === 'sample') {
    process.send(sampleMessage());
  } else if (msg === 'gc') {
    // Live heap: needs --expose-gc (run.mjs --ipvsd-node-args --expose-gc).
    globalThis.gc?.();
    process.send({ ...sampleMessage(), type: 'gc', collected: typeof globalThis.gc === 'function' });
  } else if (msg === 'reset') {
    eld.reset();
  } else if (msg === 'metrics-port') {
    if (!metrics) return process.send({ type: 'metrics-port', port: null });
    metricsServer ??= createMetricsServer({ host: '127.0.0.1', port: 0, metrics });
    const { port } = metricsServer.address() ?? (await metricsServer.start());
    process.send({ type: 'metrics-port', port });
  } else if (msg === 'stop') {
    eld.disable();
    if (director) await director.stop({ removeServices: false });
    else await monitor.stop();
    // The checks child is stopped with the monitor (its stopChild); the vrrp child here.
    await checks?.stop();
    await vrrpProcess?.stop();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', targets });
