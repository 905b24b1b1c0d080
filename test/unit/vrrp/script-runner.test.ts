/**
 * The tracked-script runner: cadence, no overlapping runs, stop; and the real process edge
 * (exit status, a script that overruns its timeout is killed with everything it started).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createScriptRunner, runScriptProcess, type ScriptOutcome } from '../../../src/vrrp/script-runner.js';

describe('script runner schedule', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function deferredRuns() {
    const pending: { resolve: (o: ScriptOutcome) => void; signal: AbortSignal }[] = [];
    const runScript = (_argv: readonly string[], _timeout: number, signal: AbortSignal) =>
      new Promise<ScriptOutcome>((resolve) => pending.push({ resolve, signal }));
    return { pending, runScript };
  }

  it('runs at once, then every interval measured from each start', async () => {
    const results: boolean[] = [];
    const starts: number[] = [];
    const runner = createScriptRunner(
      { argv: ['/x'], intervalMs: 1000, timeoutMs: 500 },
      {
        onResult: (o) => results.push(o.ok),
        now: () => Date.now(),
        runScript: async () => {
          starts.push(Date.now());
          return { ok: true, reason: null };
        },
      },
    );
    const t0 = Date.now();
    runner.start();
    await vi.advanceTimersByTimeAsync(3500);
    runner.stop();
    expect(starts.map((t) => t - t0)).toEqual([0, 1000, 2000, 3000]);
    expect(results).toEqual([true, true, true, true]);
  });

  it('never overlaps: a run that outlasts the interval delays the next one', async () => {
    const { pending, runScript } = deferredRuns();
    const results: boolean[] = [];
    const runner = createScriptRunner(
      { argv: ['/x'], intervalMs: 1000, timeoutMs: 5000 },
      { onResult: (o) => results.push(o.ok), now: () => Date.now(), runScript },
    );
    runner.start();
    await vi.advanceTimersByTimeAsync(4000);
    expect(pending).toHaveLength(1);
    pending[0]?.resolve({ ok: false, reason: 'exit status 1' });
    await vi.advanceTimersByTimeAsync(0);
    // Overdue: the next run starts at once.
    expect(pending).toHaveLength(2);
    expect(results).toEqual([false]);
    runner.stop();
  });

  it('stop aborts the run in progress and drops its result; start again resumes', async () => {
    const { pending, runScript } = deferredRuns();
    const results: boolean[] = [];
    const runner = createScriptRunner(
      { argv: ['/x'], intervalMs: 1000, timeoutMs: 5000 },
      { onResult: (o) => results.push(o.ok), now: () => Date.now(), runScript },
    );
    runner.start();
    runner.stop();
    expect(pending[0]?.signal.aborted).toBe(true);
    pending[0]?.resolve({ ok: true, reason: null });
    await vi.advanceTimersByTimeAsync(5000);
    expect(results).toEqual([]);
    expect(pending).toHaveLength(1);
    runner.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(pending).toHaveLength(2);
    runner.stop();
  });
});

describe('runScriptProcess', () => {
  const node = process.execPath;

  it('exit status 0 is success, anything else a failure; a missing command fails', async () => {
    const signal = new AbortController().signal;
    expect(await runScriptProcess([node, '-e', 'process.exit(0)'], 10_000, signal)).toEqual({
      ok: true,
      reason: null,
    });
    expect(await runScriptProcess([node, '-e', 'process.exit(3)'], 10_000, signal)).toEqual({
      ok: false,
      reason: 'exit status 3',
    });
    const missing = await runScriptProcess(['/nonexistent/ipvsd-chk'], 10_000, signal);
    expect(missing.ok).toBe(false);
    expect(missing.reason).toMatch(/ENOENT/);
  });

  it('no shell: arguments are passed as they are', async () => {
    const signal = new AbortController().signal;
    const ok = await runScriptProcess(
      [node, '-e', 'process.exit(process.argv[1] === "$HOME; exit 1" ? 0 : 1)', '$HOME; exit 1'],
      10_000,
      signal,
    );
    expect(ok.ok).toBe(true);
  });

  it('a script that overruns its timeout is killed, children included', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'ipvsd-chk-')), 'grandchild-started');
    // The script starts a grandchild that would outlive it (it records that it runs), then hangs.
    const grandchild = `require('fs').writeFileSync(${JSON.stringify(marker)}, String(process.pid)); setTimeout(() => {}, 60000);`;
    const script = `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], {stdio: 'ignore'}); setTimeout(() => {}, 60000);`;
    const outcome = await runScriptProcess([node, '-e', script], 4000, new AbortController().signal);
    expect(outcome).toEqual({ ok: false, reason: 'timed out after 4000 ms' });
    const pid = Number(readFileSync(marker, 'utf8'));
    await new Promise((r) => setTimeout(r, 300));
    // Gone, or a zombie waiting for whoever inherited it to reap it: not running either way.
    let stat = '';
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      stat = '';
    }
    expect(stat === '' || / Z /.test(stat.slice(stat.lastIndexOf(')')))).toBe(true);
    rmSync(dirname(marker), { recursive: true, force: true });
  });
});
