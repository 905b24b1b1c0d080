/**
 * The script check: run argv without a shell (no quoting surprises, no injection through config
 * values), up when it exits 0. It runs as a bounded child (src/sys/child-process.ts): at the
 * deadline (or on abort) SIGKILL reaches everything it started, `setsid` or not, not just the
 * first process — a hung `curl` under a killed shell would otherwise live on, one more per
 * interval. Only the start of stderr is kept (its first line explains a failure); stdout goes to
 * /dev/null so a chatty script can never block on a full pipe. The verdict waits for the process
 * and its leftovers to be gone, so the next run cannot overlap this one.
 */
import type { ScriptCheck } from '../config/types.js';
import { runBoundedChild } from '../sys/child-process.js';
import { ABORTED_REASON, describeError, type ProbeResult, timeoutReason } from './result.js';

export type ScriptProbeCheck = Pick<ScriptCheck, 'argv' | 'timeoutMs'>;

/** Enough for the first line of any sensible message; the rest is not kept. */
const STDERR_LIMIT = 4096;
const REASON_LINE_LIMIT = 200;

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

export async function probeScript(check: ScriptProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  if (signal.aborted) return { ok: false, latencyMs: 0, reason: ABORTED_REASON };
  const [command] = check.argv;
  if (command === undefined) return { ok: false, latencyMs: 0, reason: 'no command' };
  const r = await runBoundedChild({
    argv: check.argv,
    timeoutMs: check.timeoutMs,
    stderrLimit: STDERR_LIMIT,
    signal,
  });
  const latencyMs = r.durationMs;
  switch (r.end) {
    case 'failed':
      return { ok: false, latencyMs, reason: `cannot run ${command}: ${describeError(r.error)}` };
    case 'timeout':
      return { ok: false, latencyMs, reason: withStderr(timeoutReason(check.timeoutMs, 'killed'), r.stderr) };
    case 'aborted':
      return { ok: false, latencyMs, reason: withStderr(ABORTED_REASON, r.stderr) };
    case 'exited':
      if (r.code === 0) return { ok: true, latencyMs, reason: 'exit code 0' };
      if (r.code !== null)
        return { ok: false, latencyMs, reason: withStderr(`exit code ${r.code}`, r.stderr) };
      return { ok: false, latencyMs, reason: withStderr(`killed by ${r.signal ?? 'a signal'}`, r.stderr) };
  }
}
