/**
 * Keeps one child process running, as keepalived's parent keeps its VRRP and checker children: a
 * child that exits (crash, signal) or hangs is logged, killed if need be, counted and started
 * again after a delay that doubles from `initialBackoffMs` to `maxBackoffMs` and falls back to the
 * start once a child has run `stableMs`, so a child that dies at once cannot spin the CPU while
 * one that crashes once a week comes back in half a second. Every message from the child counts
 * as a sign of life. Hung means silent for `heartbeatTimeoutMs` while using no CPU (stopped,
 * blocked in a system call), or silent for `busyTimeoutMs` while using CPU (a loop that never
 * ends): a burst of work on a slow machine (thousands of first probes under emulation) is not a
 * hang, and killing it would only start the same burst again. Before its first message a child has
 * `startupTimeoutMs`. Spawning, time, timers and CPU time are injected: the unit tests run it on a
 * fake clock with fake children.
 */
import type { Logger } from '../sys/logger.js';
import type { ProcessInfo } from './protocol.js';

/** The part of a ChildProcess the supervisor uses. */
export interface ChildHandle {
  readonly pid: number | undefined;
  /** false when the channel is closed (the child is gone or going). */
  send(message: unknown): boolean;
  kill(signal: NodeJS.Signals): void;
  /** Closes the IPC channel: a child exits when its parent disconnects. */
  disconnect(): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** CPU time the child has used (ms); null or absent when unknown (then silence alone decides). */
  cpuTimeMs?(): number | null;
}

export interface SupervisorOptions {
  /** `checks`, `vrrp`: in logs, metrics and status. */
  readonly name: string;
  readonly heartbeatTimeoutMs?: number;
  readonly busyTimeoutMs?: number;
  readonly startupTimeoutMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly stableMs?: number;
}

export interface SupervisorDeps {
  readonly spawn: () => ChildHandle;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Wall clock, ms. Default Date.now. */
  readonly now?: () => number;
  /** Default setTimeout (unref'd); returns a cancel function. */
  readonly setTimer?: (fn: () => void, ms: number) => () => void;
  /** A child was (re)started: hand it its work. `restart` is false for the first. */
  readonly onStart?: (child: ChildHandle, restart: boolean) => void;
  readonly onMessage?: (message: unknown) => void;
  /** The running child went away (before any restart delay). */
  readonly onDown?: () => void;
}

export interface Supervisor {
  start(): void;
  /** Sends to the running child; false when there is none (down, restarting, stopped). */
  send(message: unknown): boolean;
  /** Whether a child is running now. */
  running(): boolean;
  info(): ProcessInfo;
  /**
   * No more restarts; closes the channel (the child exits on its own) and resolves when it has
   * exited, sending SIGKILL after `graceMs`.
   */
  stop(graceMs?: number): Promise<void>;
}

const defaultSetTimer = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

export function createSupervisor(options: SupervisorOptions, deps: SupervisorDeps): Supervisor {
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 3000;
  const busyTimeoutMs = options.busyTimeoutMs ?? 30_000;
  const startupTimeoutMs = options.startupTimeoutMs ?? 60_000;
  const initialBackoffMs = options.initialBackoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const stableMs = options.stableMs ?? 60_000;
  const now = deps.now ?? Date.now;
  const setTimer = deps.setTimer ?? defaultSetTimer;
  const log = deps.logger;
  const name = options.name;

  let child: ChildHandle | null = null;
  let startedAt: number | null = null;
  let lastSeenAt = 0;
  let heardFrom = false;
  /** The child's CPU time at the last watch tick. */
  let lastCpuMs: number | null = null;
  let restarts = 0;
  let lastRestartAt: number | null = null;
  let backoffMs = initialBackoffMs;
  let stopping = false;
  let cancelWatch: (() => void) | null = null;
  let cancelRestart: (() => void) | null = null;
  let exited: (() => void) | null = null;

  function watch(): void {
    cancelWatch?.();
    // Checked four times per timeout: a hang is caught within 1.25 × the timeout.
    const periodMs = Math.max(1, Math.floor(heartbeatTimeoutMs / 4));
    const armedAt = now();
    cancelWatch = setTimer(() => {
      cancelWatch = null;
      if (child === null) return;
      // This process was stalled itself (a long reload, a GC): the child's messages are still
      // queued behind this timer, so its silence proves nothing yet. Judge at the next tick.
      if (now() - armedAt > 2 * periodMs) {
        watch();
        return;
      }
      const silentMs = now() - lastSeenAt;
      const cpuMs = child.cpuTimeMs?.() ?? null;
      const busy = cpuMs !== null && lastCpuMs !== null && cpuMs > lastCpuMs;
      lastCpuMs = cpuMs;
      const limit = !heardFrom ? startupTimeoutMs : busy ? busyTimeoutMs : heartbeatTimeoutMs;
      if (silentMs >= limit) {
        log.error({ process: name, childPid: child.pid, silentMs, busy }, 'process hung: killed');
        child.kill('SIGKILL');
        return; // the exit restarts it
      }
      watch();
    }, periodMs);
  }

  function spawn(restart: boolean): void {
    cancelRestart = null;
    if (stopping) return;
    let c: ChildHandle;
    try {
      c = deps.spawn();
    } catch (err) {
      log.error({ process: name, err: (err as Error).message }, 'process could not start');
      scheduleRestart();
      return;
    }
    child = c;
    startedAt = now();
    lastSeenAt = startedAt;
    heardFrom = false;
    lastCpuMs = null;
    if (restart) {
      restarts++;
      lastRestartAt = startedAt;
    }
    c.onMessage((message) => {
      if (child !== c) return;
      lastSeenAt = now();
      heardFrom = true;
      deps.onMessage?.(message);
    });
    c.onExit((code, signal) => {
      if (child !== c) return;
      const ranFor = now() - (startedAt ?? now());
      child = null;
      startedAt = null;
      cancelWatch?.();
      cancelWatch = null;
      if (stopping) {
        exited?.();
        return;
      }
      deps.onDown?.();
      if (ranFor >= stableMs) backoffMs = initialBackoffMs;
      log.error({ process: name, childPid: c.pid, code, signal, restartInMs: backoffMs }, 'process exited');
      scheduleRestart();
    });
    log.info({ process: name, childPid: c.pid, restart }, restart ? 'process restarted' : 'process started');
    watch();
    deps.onStart?.(c, restart);
  }

  function scheduleRestart(): void {
    const delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
    cancelRestart = setTimer(() => spawn(true), delay);
  }

  return {
    start: () => spawn(false),
    send: (message) => (child === null ? false : child.send(message)),
    running: () => child !== null,
    info: () => ({ name, pid: child?.pid ?? null, restarts, startedAt, lastRestartAt }),
    stop(graceMs = 5000) {
      stopping = true;
      cancelRestart?.();
      cancelRestart = null;
      cancelWatch?.();
      cancelWatch = null;
      const c = child;
      if (c === null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const cancelKill = setTimer(() => c.kill('SIGKILL'), graceMs);
        exited = () => {
          cancelKill();
          resolve();
        };
        c.disconnect();
      });
    },
  };
}
