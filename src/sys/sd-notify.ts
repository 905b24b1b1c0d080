/**
 * The systemd notification protocol (sd_notify(3)) for `Type=notify`: READY=1 once the daemon
 * serves, RELOADING=1 while a SIGHUP reload runs (then READY=1 again), STOPPING=1 on shutdown,
 * WATCHDOG=1 pings at half of `WatchdogSec`, and STATUS= lines for `systemctl status`.
 *
 * Outside systemd (no NOTIFY_SOCKET) every call is a no-op and the native addon is never loaded.
 * Nothing here throws: a failed send is returned as an Error value (and logged once per run of
 * failures), because a notification that does not arrive must never take the daemon down — systemd
 * will notice on its own (start timeout, watchdog).
 */
import { IpvsdError } from '../errors.js';
import { loadNative } from './native.js';

export interface SdNotify {
  /** NOTIFY_SOCKET is set: messages are sent. */
  readonly enabled: boolean;
  /**
   * How often to call watchdog(): half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises;
   * undefined when systemd asked for no watchdog or asked another process (WATCHDOG_PID).
   */
  readonly watchdogIntervalMs: number | undefined;
  /** READY=1: startup (or a reload) finished. */
  ready(status?: string): Error | undefined;
  /** RELOADING=1 with MONOTONIC_USEC, which systemd ≥ 253 requires for Type=notify-reload. */
  reloading(status?: string): Error | undefined;
  /** STOPPING=1: shutdown began. */
  stopping(status?: string): Error | undefined;
  /** WATCHDOG=1: the event loop is alive. */
  watchdog(): Error | undefined;
  /** STATUS=<text>: one line shown by `systemctl status`. */
  status(text: string): Error | undefined;
  /**
   * Calls watchdog() every watchdogIntervalMs on an unref'd timer (a blocked event loop stops
   * the pings, which is the point); returns the function that stops it. A no-op without watchdog.
   */
  startWatchdog(): () => void;
}

/** A pino logger fits. */
export interface SdNotifyLogger {
  warn(fields: object, message: string): void;
}

export interface SdNotifyDeps {
  /** Sends one datagram; defaults to the native addon's sdNotify. May throw. */
  send?: (socketPath: string, message: string) => void;
  /** CLOCK_MONOTONIC in microseconds; defaults to process.hrtime (libuv reads CLOCK_MONOTONIC). */
  monotonicUsec?: () => bigint;
  pid?: number;
  logger?: SdNotifyLogger;
}

export function createSdNotify(env: NodeJS.ProcessEnv = process.env, deps: SdNotifyDeps = {}): SdNotify {
  const socketPath = env.NOTIFY_SOCKET || undefined;
  const enabled = socketPath !== undefined;
  const watchdogIntervalMs = enabled ? parseWatchdogIntervalMs(env, deps.pid ?? process.pid) : undefined;
  const monotonicUsec = deps.monotonicUsec ?? (() => process.hrtime.bigint() / 1000n);
  let failing = false;

  const notify = (message: string): Error | undefined => {
    if (socketPath === undefined) return undefined;
    try {
      const send = deps.send ?? loadNative().sdNotify;
      send(socketPath, message);
      failing = false;
      return undefined;
    } catch (cause) {
      const error =
        cause instanceof Error
          ? cause
          : new IpvsdError('IPVSD_ERR_INTERNAL', `sd_notify failed: ${String(cause)}`, { cause });
      // Log the first failure of a run only: a dead socket would otherwise log every watchdog ping.
      if (!failing) {
        deps.logger?.warn(
          { err: error, notifySocket: socketPath, notification: message.split('\n')[0] },
          'systemd notification failed',
        );
      }
      failing = true;
      return error;
    }
  };

  const withStatus = (message: string, status: string | undefined): string =>
    status === undefined ? message : `${message}\nSTATUS=${oneLine(status)}`;

  return {
    enabled,
    watchdogIntervalMs,
    ready: (status) => notify(withStatus('READY=1', status)),
    reloading: (status) =>
      notify(withStatus(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec().toString()}`, status)),
    stopping: (status) => notify(withStatus('STOPPING=1', status)),
    watchdog: () => notify('WATCHDOG=1'),
    status: (text) => notify(`STATUS=${oneLine(text)}`),
    startWatchdog: () => {
      if (watchdogIntervalMs === undefined) return () => {};
      const timer = setInterval(() => notify('WATCHDOG=1'), watchdogIntervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/** Each line of a notification is one assignment, so a status text must stay on one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** As sd_watchdog_enabled(3): WATCHDOG_USEC > 0, and WATCHDOG_PID (if set) names this process. */
function parseWatchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usecText = env.WATCHDOG_USEC;
  if (usecText === undefined || !/^\d+$/.test(usecText)) return undefined;
  const usec = Number(usecText);
  if (usec <= 0 || !Number.isSafeInteger(usec)) return undefined;
  const pidText = env.WATCHDOG_PID;
  if (pidText !== undefined && pidText !== '') {
    if (!/^\d+$/.test(pidText) || Number(pidText) !== pid) return undefined;
  }
  return Math.max(1, Math.floor(usec / 2000));
}
