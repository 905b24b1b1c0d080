#!/usr/bin/env node
/**
 * ipvsd's health checking, as the daemon runs it, minus the kernel: this host has no IPVS, so
 * instead of `ipvsd --config FILE` this process wires the same compiled parts the daemon's
 * composition root (src/bin/ipvsd.ts) wires — parseConfig → createHealthMonitor (real tcp/http
 * probes) → createDirector (one metrics update per result per real server, the decision and the
 * reconciler on every health change, the periodic resync) → createMetrics (prom-client, default
 * options, process metrics on) — with an in-memory IPVS backend in place of the netlink one. So the
 * CPU measured here is the daemon's per-check work; only the netlink calls of a health change (none
 * while every server stays up) and the idle control and metrics sockets are missing.
 *
 * `--mode monitor` skips director and metrics: the monitor alone, counting results.
 *
 * Started by run.mjs with an IPC channel: argv[2] is the YAML config. Messages:
 *   `sample`  → `{ type: 'sample', ok, fail, latencyMsSum, transitions, tcpResults, eld: {p50Ms, p99Ms, maxMs, meanMs},
 *                 memory: process.memoryUsage(), targets }`
 *   `gc`      → a full GC first (only with --expose-gc), then the same as `sample`, typed `gc`
 *   `reset`   → resets the event-loop delay histogram (start of the window)
 *   `metrics-port` → starts the daemon's metrics endpoint (src/metrics/http.ts) on 127.0.0.1 once:
 *               `{ type: 'metrics-port', port }` (run.mjs scrapes it from its own process, as
 *               Prometheus would: a scraper inside this process would count its own memory)
 *   `stop`    → stops the director/monitor and exits (so --cpu-prof writes its profile)
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

const monitor = createHealthMonitor({ logger: componentLogger(log, 'check') });
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
  const backend = createMemoryBackend();
  const names = new Map(config.virtualServers.map((vs) => [serviceKeyString(vs.key), vs.name]));
  metrics = createMetrics({
    dumpIpvs: () => backend.dump(),
    version: 'bench',
    serviceName: (key) => names.get(serviceKeyString(key)),
    logger: componentLogger(log, 'metrics'),
  });
  director = createDirector(config, {
    backend: () => backend,
    monitor,
    metrics,
    logger: componentLogger(log, 'director'),
  });
  await director.start();
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
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', targets });
