/**
 * Runs one `vrrp_scripts` entry at its interval and reports each result (the I/O edge of the
 * tracked scripts; the verdict is tracking.ts's). The command is exec'd without a shell, in a
 * process group of its own so that everything it started dies with it when it overruns its
 * timeout (SIGKILL to the group: a tracker that hangs counts as failed, never as pending). Runs
 * never overlap: the next one is scheduled when the current one ends, `interval` after the
 * current one began (at once if it took longer), so a slow script cannot pile up processes.
 * One runner per script, however many instances track it (as keepalived does).
 */
import { spawn } from 'node:child_process';

export interface ScriptOutcome {
  readonly ok: boolean;
  /** Why it failed (`exit status 1`, `timed out after 2000 ms`, `spawn ENOENT`); null when ok. */
  readonly reason: string | null;
}

/** Runs argv once; resolves (never rejects) when it ended or was killed at the timeout. */
export type RunScript = (
  argv: readonly string[],
  timeoutMs: number,
  signal: AbortSignal,
) => Promise<ScriptOutcome>;

export interface ScriptRunnerOptions {
  readonly argv: readonly string[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface ScriptRunnerDeps {
  readonly onResult: (outcome: ScriptOutcome) => void;
  readonly runScript?: RunScript;
  readonly now?: () => number;
  readonly setTimeout?: (callback: () => void, ms: number) => unknown;
  readonly clearTimeout?: (handle: unknown) => void;
}

export interface ScriptRunner {
  /** Runs the script now, then at its interval. Idempotent. */
  start(): void;
  /** No further runs; a run in progress is killed and its result dropped. */
  stop(): void;
}

/** The default RunScript: spawn without a shell, kill the process group at the timeout. */
export const runScriptProcess: RunScript = (argv, timeoutMs, signal) =>
  new Promise((resolve) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined || cmd === '') {
      resolve({ ok: false, reason: 'empty command' });
      return;
    }
    let settled = false;
    const finish = (outcome: ScriptOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      resolve(outcome);
    };
    if (signal.aborted) {
      resolve({ ok: false, reason: 'stopped' });
      return;
    }
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(cmd, args, { stdio: 'ignore', detached: true, shell: false });
    } catch (error) {
      resolve({ ok: false, reason: `spawn failed: ${(error as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      killGroup(child.pid);
      finish({ ok: false, reason: `timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    const abort = (): void => {
      killGroup(child.pid);
      finish({ ok: false, reason: 'stopped' });
    };
    signal.addEventListener('abort', abort);
    child.on('error', (error) => finish({ ok: false, reason: `spawn failed: ${error.message}` }));
    child.on('exit', (code, signal) => {
      // Whatever the script left running in its group goes with it.
      killGroup(child.pid);
      if (code === 0) finish({ ok: true, reason: null });
      else finish({ ok: false, reason: signal !== null ? `killed by ${signal}` : `exit status ${code}` });
    });
  });

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export function createScriptRunner(options: ScriptRunnerOptions, deps: ScriptRunnerDeps): ScriptRunner {
  const runScript = deps.runScript ?? runScriptProcess;
  const now = deps.now ?? (() => performance.now());
  const setTimer = deps.setTimeout ?? ((cb: () => void, ms: number) => setTimeout(cb, ms));
  const clearTimer = deps.clearTimeout ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  let active = false;
  let timer: unknown = null;
  /** The run in progress, if any: stop() aborts it, and its result is then dropped. */
  let current: AbortController | null = null;

  function schedule(ms: number): void {
    if (active && timer === null && current === null) timer = setTimer(runOnce, ms);
  }

  function runOnce(): void {
    timer = null;
    if (!active || current !== null) return;
    const controller = new AbortController();
    current = controller;
    const startedAt = now();
    const ended = (outcome: ScriptOutcome | null): void => {
      current = null;
      if (controller.signal.aborted) {
        // Stopped while running; if started again meanwhile, that start waits for us.
        schedule(0);
        return;
      }
      try {
        if (outcome !== null) deps.onResult(outcome);
      } catch {
        // onResult guards itself; a throw here must not stop the schedule or go unhandled.
      }
      schedule(Math.max(0, startedAt + options.intervalMs - now()));
    };
    runScript(options.argv, options.timeoutMs, controller.signal).then(ended, () => ended(null));
  }

  return {
    start() {
      if (active) return;
      active = true;
      runOnce();
    },
    stop() {
      if (!active) return;
      active = false;
      if (timer !== null) clearTimer(timer);
      timer = null;
      current?.abort();
    },
  };
}
