/**
 * The daemon's processes (`ipvsd`, `checks`, `vrrp`; src/proc): restarts after a crash or hang,
 * when the running one started, and whether it is up. Read from the supervisors at each scrape,
 * like the VRRP families, so they always agree with `ipvsctl status`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What a scrape reads: one entry per process (src/proc/protocol.ts ProcessInfo, structurally). */
export interface ProcessMetricsSnapshot {
  readonly name: string;
  readonly pid: number | null;
  readonly restarts: number;
  /** ms since the epoch; null while down */
  readonly startedAt: number | null;
  readonly lastRestartAt: number | null;
}

export function registerProcessMetrics(
  registry: Registry,
  snapshot: () => readonly ProcessMetricsSnapshot[],
): void {
  const registers = [registry];
  new Counter({
    name: 'ipvsd_process_restarts_total',
    help: 'Times the daemon restarted this child process after it crashed or hung.',
    labelNames: ['process'],
    registers,
    collect() {
      this.reset();
      for (const p of snapshot()) this.inc({ process: p.name }, p.restarts);
    },
  });
  new Gauge({
    name: 'ipvsd_process_start_time_seconds',
    help: 'When the running process started, in seconds since the epoch (absent while it is down).',
    labelNames: ['process'],
    registers,
    collect() {
      this.reset();
      for (const p of snapshot()) if (p.startedAt !== null) this.set({ process: p.name }, p.startedAt / 1000);
    },
  });
  new Gauge({
    name: 'ipvsd_process_up',
    help: '1 while the process runs, 0 while it is down (between a crash and its restart).',
    labelNames: ['process'],
    registers,
    collect() {
      this.reset();
      for (const p of snapshot()) this.set({ process: p.name }, p.pid === null ? 0 : 1);
    },
  });
}
