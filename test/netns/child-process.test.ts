/**
 * Bounded children (src/sys/child-process.ts) with real processes: a script's descendants die
 * with it, `setsid` (and a double fork) or not; notify scripts are killed at their timeout; a
 * stopping process takes every script along; children it did not start as scripts are left
 * alone. In the netns tier because the subreaper is the native addon's. The oracle is /proc.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBoundedChild, settleChildren } from '../../src/sys/child-process.js';
import type { Logger } from '../../src/sys/logger.js';
import { createRunNotify } from '../../src/vrrp/notify.js';
import { runScriptProcess } from '../../src/vrrp/script-runner.js';
import { sleep, waitFor } from '../support/wait.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-child-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Running: it exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const pidFrom = (file: string, timeoutMs = 5000): Promise<number> =>
  waitFor(
    `a pid in ${file}`,
    () => {
      const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
      return text === '' ? undefined : Number(text);
    },
    { timeoutMs, intervalMs: 20 },
  );

/**
 * A shell script that starts (1) a background child that calls setsid(2) and sleeps, and (2) a
 * double-forked daemon (`setsid -f`: its parent exits at once, so it is orphaned while the
 * script still runs), writing their pids to files, then runs `tail`.
 */
function escaper(tag: string, tail: string): { argv: string[]; files: string[] } {
  const f1 = join(dir, `${tag}.setsid`);
  const f2 = join(dir, `${tag}.daemon`);
  const script = [
    `setsid sleep 3001 & echo $! > ${f1}`,
    `setsid -f sh -c 'echo $$ > ${f2}; exec sleep 3002'`,
    tail,
  ].join('; ');
  return { argv: ['/bin/sh', '-c', script], files: [f1, f2] };
}

function collectingLogger(lines: string[]): Logger {
  const log = (_obj: object, msg: string) => lines.push(msg);
  return { info: log, warn: log, error: log, debug: log, child: () => collectingLogger(lines) } as never;
}

describe('bounded children', () => {
  it('a tracked script killed at its timeout takes its setsid child and its double-forked daemon along', async () => {
    const { argv, files } = escaper('timeout', 'sleep 3000');
    const started = performance.now();
    const outcome = await runScriptProcess(argv, 800, new AbortController().signal);
    expect(outcome).toEqual({ ok: false, reason: 'timed out after 800 ms' });
    expect(performance.now() - started).toBeLessThan(3000);
    const pids = await Promise.all(files.map((f) => pidFrom(f, 0)));
    // The outcome waits for the leftovers: gone (and reaped) by now, not later.
    for (const pid of pids) expect(alive(pid), `pid ${pid} survived`).toBe(false);
  });

  it('a script that exits 0 leaving a setsid daemon behind: the daemon goes too', async () => {
    const { argv, files } = escaper('exit0', 'sleep 0.3; exit 0');
    const outcome = await runScriptProcess(argv, 5000, new AbortController().signal);
    expect(outcome).toEqual({ ok: true, reason: null });
    for (const f of files) {
      const pid = await pidFrom(f, 0);
      expect(alive(pid), `pid ${pid} survived`).toBe(false);
    }
  });

  it('a hung notify script is killed at its timeout, with what it started', async () => {
    const lines: string[] = [];
    const { argv, files } = escaper('notify', 'sleep 3000');
    const runNotify = createRunNotify(collectingLogger(lines), { timeoutMs: 700 });
    const started = performance.now();
    // notify appends its four arguments; sh -c passes them as $0.. and ignores them.
    runNotify({ argv, kind: 'INSTANCE', name: 'VI_1', state: 'MASTER', priority: 100 });
    const pids = await Promise.all(files.map((f) => pidFrom(f)));
    while (!lines.includes('notify script killed at its timeout') && performance.now() - started < 5000)
      await sleep(20);
    expect(lines).toContain('notify script killed at its timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(690);
    await sleep(100);
    for (const pid of pids) expect(alive(pid), `pid ${pid} survived`).toBe(false);
  });

  it('settleChildren lets a quick script finish, kills a hung one and its escapees at the grace', async () => {
    const quick = runBoundedChild({ argv: ['/bin/sh', '-c', 'sleep 0.2; exit 3'], timeoutMs: 30_000 });
    const { argv, files } = escaper('stop', 'sleep 3000');
    const hung = runBoundedChild({ argv, timeoutMs: 30_000 });
    const pids = await Promise.all(files.map((f) => pidFrom(f)));
    const started = performance.now();
    await settleChildren(1000);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await quick).toMatchObject({ end: 'exited', code: 3 });
    expect(await hung).toMatchObject({ end: 'aborted' });
    for (const pid of pids) expect(alive(pid), `pid ${pid} survived`).toBe(false);
  });

  it('leaves alone a child this process started otherwise (same session), and reports stderr capped', async () => {
    const other = spawn('/bin/sleep', ['3003'], { stdio: 'ignore' });
    try {
      const outcome = await runBoundedChild({
        argv: ['/bin/sh', '-c', `head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1`],
        timeoutMs: 5000,
        stderrLimit: 1000,
      });
      expect(outcome).toMatchObject({ end: 'exited', code: 1 });
      expect(outcome.stderr).toBe('x'.repeat(1000));
      expect(other.pid !== undefined && alive(other.pid)).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('feeds the input to stdin and keeps stdout up to its cap', async () => {
    const echoed = await runBoundedChild({
      argv: ['/bin/cat'],
      timeoutMs: 5000,
      input: 'table inet ipvsd {}\n',
      stdoutLimit: 1000,
    });
    expect(echoed).toMatchObject({
      end: 'exited',
      code: 0,
      stdout: 'table inet ipvsd {}\n',
      stdoutTruncated: false,
    });
    const capped = await runBoundedChild({
      argv: ['/bin/sh', '-c', `head -c 100000 /dev/zero | tr '\\0' y`],
      timeoutMs: 5000,
      stdoutLimit: 1000,
    });
    expect(capped).toMatchObject({ end: 'exited', code: 0, stdoutTruncated: true });
    expect(capped.stdout).toBe('y'.repeat(1000));
    // A program that never reads its input still ends as itself, not as a broken pipe.
    const deaf = await runBoundedChild({ argv: ['/bin/true'], timeoutMs: 5000, input: 'x'.repeat(1 << 20) });
    expect(deaf).toMatchObject({ end: 'exited', code: 0, stdout: '' });
  });

  it('a command that cannot run is a value, not a throw', async () => {
    const outcome = await runBoundedChild({ argv: ['/nonexistent/chk'], timeoutMs: 1000 });
    expect(outcome).toMatchObject({ end: 'failed' });
    expect(outcome.error?.message).toMatch(/ENOENT/);
  });
});
