/**
 * The script check: run argv without a shell (no quoting surprises, no injection through config
 * values), up when it exits 0. The script leads its own process group, so at the deadline (or on
 * abort) SIGKILL reaches everything it started, not just the first process: a hung `curl` under a
 * killed shell would otherwise live on, one more per interval. Only stderr is kept (its first line
 * explains a failure); stdout goes to /dev/null so a chatty script can never block on a full pipe.
 * The verdict waits for the process to be gone, so the next run cannot overlap this one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ScriptCheck } from '../config/types.js';
import { ABORTED_REASON, describeError, type ProbeResult, stopwatch, timeoutReason } from './result.js';

export type ScriptProbeCheck = Pick<ScriptCheck, 'argv' | 'timeoutMs'>;

/** Enough for the first line of any sensible message; the rest is not kept. */
const STDERR_LIMIT = 4096;
const REASON_LINE_LIMIT = 200;
/** After the exit, how long to wait for stderr to drain (a leftover child may hold it open). */
const STDERR_GRACE_MS = 100;
/** After SIGKILL, how long to wait for the exit before giving the verdict anyway. */
const KILL_GRACE_MS = 2000;

function firstLine(text: string): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  if (line === undefined) return '';
  return line.length > REASON_LINE_LIMIT ? `${line.slice(0, REASON_LINE_LIMIT)}…` : line;
}

function withStderr(reason: string, stderr: string): string {
  const line = firstLine(stderr);
  return line === '' ? reason : `${reason}: ${line}`;
}

export function probeScript(check: ScriptProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  const elapsed = stopwatch();
  if (signal.aborted) return Promise.resolve({ ok: false, latencyMs: 0, reason: ABORTED_REASON });
  const [command, ...args] = check.argv;
  if (command === undefined) return Promise.resolve({ ok: false, latencyMs: 0, reason: 'no command' });

  return new Promise((resolve) => {
    let child: ChildProcess | undefined;
    let exited = false;
    let stderr = '';
    let done = false;
    /** Set once we killed the group: the reason the verdict will carry. */
    let killedFor: string | null = null;
    let killGuard: NodeJS.Timeout | undefined;

    const finish = (ok: boolean, reason: string): void => {
      if (done) return;
      done = true;
      const latencyMs = elapsed();
      clearTimeout(timer);
      clearTimeout(killGuard);
      signal.removeEventListener('abort', onAbort);
      child?.stderr?.destroy();
      resolve({ ok, latencyMs, reason });
    };

    const killGroup = (reason: string): void => {
      // After the exit the pid may be reused: only the verdict, already on its way, is left.
      if (done || exited || killedFor !== null) return;
      killedFor = reason;
      const pid = child?.pid;
      if (pid !== undefined) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // The group is already gone.
        }
      }
      killGuard = setTimeout(() => finish(false, withStderr(reason, stderr)), KILL_GRACE_MS);
    };

    const onAbort = (): void => killGroup(ABORTED_REASON);
    const timer = setTimeout(() => killGroup(timeoutReason(check.timeoutMs, 'killed')), check.timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });

    try {
      child = spawn(command, args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        // A new session and process group led by the script: kill(-pid) reaches all it started.
        detached: true,
        shell: false,
        cwd: '/',
      });
    } catch (err) {
      finish(false, `cannot run ${command}: ${describeError(err)}`);
      return;
    }
    const proc = child;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += chunk.slice(0, STDERR_LIMIT - stderr.length);
    });
    proc.stderr?.on('error', () => {});
    proc.on('error', (err) => finish(false, `cannot run ${command}: ${describeError(err)}`));
    proc.on('exit', (code, sig) => {
      exited = true;
      const verdict = (): void => {
        if (killedFor !== null) finish(false, withStderr(killedFor, stderr));
        else if (code === 0) finish(true, 'exit code 0');
        else if (code !== null) finish(false, withStderr(`exit code ${code}`, stderr));
        else finish(false, withStderr(`killed by ${sig ?? 'a signal'}`, stderr));
      };
      const stream = proc.stderr;
      if (stream === null || stream.readableEnded || stream.destroyed) {
        verdict();
        return;
      }
      const grace = setTimeout(verdict, STDERR_GRACE_MS);
      stream.once('close', () => {
        clearTimeout(grace);
        verdict();
      });
    });
  });
}
