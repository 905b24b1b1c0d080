/**
 * Runs one `vrrp_scripts` entry at its interval and reports each result (the I/O edge of the
 * tracked scripts; the verdict is tracking.ts's). The command is exec'd without a shell as a
 * bounded child: everything it started dies with it when it overruns its timeout (SIGKILL to the
 * whole tree, `setsid` or not: a tracker that hangs counts as failed, never as pending). Runs
 * never overlap: the next one is scheduled when the current one ends, `interval` after the
 * current one began (at once if it took longer), so a slow script cannot pile up processes.
 * One runner per script, however many instances track it (as keepalived does).
 */
import { runBoundedChild } from '../sys/child-process.js';

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

/**
 * The default RunScript: a bounded child (src/sys/child-process.ts): no shell, killed with every
 * process it started at the timeout, and nothing it started outlives the run.
 */
export const runScriptProcess: RunScript = async (argv, timeoutMs, signal) => {
  const outcome = await runBoundedChild({ argv, timeoutMs, signal });
  switch (outcome.end) {
    case 'exited':
      if (outcome.code === 0) return { ok: true, reason: null };
      return {
        ok: false,
        reason: outcome.signal !== null ? `killed by ${outcome.signal}` : `exit status ${outcome.code}`,
      };
    case 'timeout':
      return { ok: false, reason: `timed out after ${timeoutMs} ms` };
    case 'aborted':
      return { ok: false, reason: 'stopped' };
    case 'failed':
      return { ok: false, reason: `spawn failed: ${outcome.error?.message ?? 'unknown error'}` };
  }
};

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
