/**
 * Bounded child processes: the one way ipvsd runs a script (tracked scripts, notify scripts, the
 * script check) or a program (`nft`, src/nat). A run is bounded in time (killed at its timeout), in
 * output (at most `stdoutLimit` bytes of stdout and `stderrLimit` of stderr kept, both discarded by
 * default) and in reach: when it ends — exit, timeout, abort or
 * the daemon's stop — every process it started goes with it, whether or not that process left the
 * script's process group or session.
 *
 * How: each script runs detached, so it leads a new session and process group (`kill(-pid)`
 * reaches everything that stays in the group). A descendant can leave the group and the session
 * (`setsid`), but this process is a child subreaper (PR_SET_CHILD_SUBREAPER, set before the first
 * spawn), so when the descendant's parent dies it is reparented to us, not to init, and shows up
 * among our children in /proc. Each run also gets IPVSD_SCRIPT_RUN=<run id> in its environment,
 * which its descendants inherit. After a script ends, its group gets SIGKILL, then sweeps of our
 * children kill every process a script left: one whose run id (read from /proc/PID/environ) is
 * not running; one without (it cleared its environment) in the session of a script that no longer
 * runs, or in a session of its own that no running script could have started. Killing a parent
 * makes its children ours in turn, so the sweeps repeat until nothing is left. libuv waits only for the
 * pids it spawned, so the adopted ones are reaped here (waitpid on that pid only).
 *
 * A child whose session is ours was not started by a script (sessions can be left, never
 * joined): it is never touched. Every detached child of a process that runs scripts must come
 * through this module, so that the sweep can tell it from a script's leftover.
 *
 * Outside systemd this is the whole mechanism; under the unit (KillMode=mixed) systemd also
 * SIGKILLs whatever is left in the cgroup once the main process has exited. Without the native
 * addon (unit tests) there is no subreaper: only the process group is killed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { loadNative } from './native.js';

export interface BoundedChildOptions {
  /** The command and its arguments, exec'd without a shell. */
  readonly argv: readonly string[];
  /** At this long after the spawn, the whole tree gets SIGKILL. */
  readonly timeoutMs: number;
  /** Keep at most this many bytes of stderr (default 0: stderr goes to /dev/null). */
  readonly stderrLimit?: number;
  /** Keep at most this many bytes of stdout (default 0: stdout goes to /dev/null). */
  readonly stdoutLimit?: number;
  /** Written to stdin, which is then closed (default: stdin is /dev/null). */
  readonly input?: string;
  readonly cwd?: string;
  /** Aborting kills the tree at once. */
  readonly signal?: AbortSignal;
}

export interface ChildOutcome {
  /**
   * `exited`: the script ended on its own (`code` or `signal` says how); `timeout` / `aborted`: we
   * killed it; `failed`: it never ran (`error` says why: ENOENT, EACCES, an empty command).
   */
  readonly end: 'exited' | 'timeout' | 'aborted' | 'failed';
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error: Error | null;
  /** The first `stderrLimit` bytes of stderr (UTF-8, possibly cut inside a character). */
  readonly stderr: string;
  /** The first `stdoutLimit` bytes of stdout, the same way; `stdoutTruncated` when there was more. */
  readonly stdout: string;
  readonly stdoutTruncated: boolean;
  readonly durationMs: number;
}

/** After SIGKILL, how long to wait for the exit before giving the outcome anyway (D state). */
const KILL_GRACE_MS = 2000;
/** After the exit, how long to wait for stdout and stderr to close (a leftover child may hold them open). */
const STDERR_GRACE_MS = 100;
/** Sweeps after one script's end: each kills a level of leftovers that became our children. */
const MAX_SWEEPS = 30;
const SWEEP_PAUSE_MS = 5;

interface Running {
  readonly pid: number;
  readonly runId: string;
  /** Clock ticks since boot (/proc stat field 22); 0 until read, which counts as "earliest". */
  startTicks: number;
  readonly kill: (why: 'timeout' | 'aborted') => void;
  readonly ended: Promise<void>;
}

/** Scripts of this process that run now, by pid (= their session and process group id). */
const running = new Map<number, Running>();
let subreaper: 'unset' | 'on' | 'unavailable' = 'unset';
let reapChild: ((pid: number) => boolean) | null = null;
let ownSession: number | null = null;
let runs = 0;
/** Set in every script's environment; inherited by what it starts (see the module comment). */
const RUN_ENV = 'IPVSD_SCRIPT_RUN';

/** Makes this process a child subreaper, once, before its first script (see the module comment). */
function ensureSubreaper(): void {
  if (subreaper !== 'unset') return;
  try {
    const native = loadNative();
    native.setChildSubreaper();
    reapChild = native.reapChild;
    subreaper = 'on';
  } catch {
    subreaper = 'unavailable';
  }
  try {
    ownSession = parseStat(readFileSync('/proc/self/stat', 'latin1'))?.session ?? null;
  } catch {
    ownSession = null;
  }
  // A process that exits without settleChildren() (a crash path) still takes its scripts along.
  process.on('exit', killEverythingNow);
}

/** Runs argv as a bounded child; resolves (never rejects) once it and its leftovers are gone. */
export function runBoundedChild(options: BoundedChildOptions): Promise<ChildOutcome> {
  const startedAt = performance.now();
  const failed = (error: Error): ChildOutcome => ({
    end: 'failed',
    code: null,
    signal: null,
    error,
    stderr: '',
    stdout: '',
    stdoutTruncated: false,
    durationMs: performance.now() - startedAt,
  });
  const [command, ...args] = options.argv;
  if (command === undefined || command === '') return Promise.resolve(failed(new Error('empty command')));
  if (options.signal?.aborted) return Promise.resolve({ ...failed(new Error('stopped')), end: 'aborted' });
  ensureSubreaper();
  const stderrLimit = Math.max(0, options.stderrLimit ?? 0);
  const stdoutLimit = Math.max(0, options.stdoutLimit ?? 0);

  const runId = `${process.pid}.${++runs}`;
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: [
        options.input === undefined ? 'ignore' : 'pipe',
        stdoutLimit > 0 ? 'pipe' : 'ignore',
        stderrLimit > 0 ? 'pipe' : 'ignore',
      ],
      detached: true,
      shell: false,
      cwd: options.cwd ?? '/',
      env: { ...process.env, [RUN_ENV]: runId },
    });
  } catch (error) {
    return Promise.resolve(failed(error as Error));
  }
  const pid = child.pid;
  if (pid === undefined) {
    // spawn() reports ENOENT, EACCES, EMFILE… through 'error' with no pid.
    return new Promise((resolve) => {
      child.once('error', (error) => resolve(failed(error)));
    });
  }
  const proc = child;

  return new Promise((resolve) => {
    let stderr = '';
    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stdoutTruncated = false;
    let killedFor: 'timeout' | 'aborted' | null = null;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let settled = false;
    let killGuard: NodeJS.Timeout | undefined;
    let markEnded: () => void = () => {};
    const ended = new Promise<void>((r) => {
      markEnded = r;
    });

    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killGuard);
      options.signal?.removeEventListener('abort', onAbort);
      proc.stderr?.destroy();
      proc.stdout?.destroy();
      proc.stdin?.destroy();
      running.delete(pid);
      if (exit === null) killGroup(pid);
      const outcome: ChildOutcome = {
        end: killedFor ?? 'exited',
        code: killedFor === null ? (exit?.code ?? null) : null,
        signal: exit?.signal ?? null,
        error: null,
        stderr,
        stdout: Buffer.concat(stdoutChunks).toString('utf8'),
        stdoutTruncated,
        durationMs: performance.now() - startedAt,
      };
      // The outcome waits for the leftovers, so that the next run cannot overlap this one's.
      sweep().then(
        () => {
          markEnded();
          resolve(outcome);
        },
        () => {
          markEnded();
          resolve(outcome);
        },
      );
    };

    const kill = (why: 'timeout' | 'aborted'): void => {
      if (settled || exit !== null || killedFor !== null) return;
      killedFor = why;
      killGroup(pid);
      killGuard = setTimeout(finish, KILL_GRACE_MS);
    };
    const onAbort = (): void => kill('aborted');
    const timer = setTimeout(() => kill('timeout'), options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const entry: Running = { pid, runId, startTicks: 0, kill, ended };
    running.set(pid, entry);
    readStat(pid).then(
      (stat) => {
        if (stat !== null) entry.startTicks = stat.startTicks;
      },
      () => {},
    );

    proc.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < stderrLimit) stderr += chunk.toString('utf8', 0, stderrLimit - stderr.length);
    });
    proc.stderr?.on('error', () => {});
    proc.stdout?.on('data', (chunk: Buffer) => {
      const room = stdoutLimit - stdoutBytes;
      if (chunk.length > room) stdoutTruncated = true;
      if (room <= 0) return;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      stdoutChunks.push(kept);
      stdoutBytes += kept.length;
    });
    proc.stdout?.on('error', () => {});
    // A child that exits without reading its input makes the write fail with EPIPE: the exit says how it ended.
    proc.stdin?.on('error', () => {});
    if (options.input !== undefined) proc.stdin?.end(options.input);
    proc.on('error', () => {
      // After a successful spawn only kill() errors arrive here: the exit still follows.
    });
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      // Right away, while the group id cannot have been reused: the group goes with its leader.
      killGroup(pid);
      // Output still in the pipes arrives after the exit: wait for both streams to close.
      const open = [proc.stdout, proc.stderr].filter(
        (stream) => stream !== null && !stream.readableEnded && !stream.destroyed,
      );
      if (open.length === 0) {
        finish();
        return;
      }
      const grace = setTimeout(finish, STDERR_GRACE_MS);
      let left = open.length;
      for (const stream of open)
        stream?.once('close', () => {
          if (--left > 0) return;
          clearTimeout(grace);
          finish();
        });
    });
  });
}

/**
 * For a stopping process: waits up to `graceMs` for the scripts that run now (a notify script for
 * STOP) to end on their own, then kills them and everything any script left behind. Resolves
 * when they are gone.
 */
export async function settleChildren(graceMs: number): Promise<void> {
  const pending = [...running.values()];
  if (pending.length > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(pending.map((r) => r.ended)),
      new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
  const left = [...running.values()];
  for (const r of left) r.kill('aborted');
  await Promise.all(left.map((r) => r.ended));
  await sweep();
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}

interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  readonly startTicks: number;
}

/** /proc/PID/stat; the command name may hold spaces and parentheses, so split after the last ')'. */
export function parseStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  const f = text.slice(close + 2).split(' ');
  if (f.length < 20 || !Number.isInteger(pid)) return null;
  return {
    pid,
    state: f[0] ?? '',
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    startTicks: Number(f[19]),
  };
}

async function readStat(pid: number): Promise<ProcStat | null> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

async function readRunId(pid: number): Promise<string | null> {
  try {
    return runIdOf(await readFile(`/proc/${pid}/environ`, 'latin1'));
  } catch {
    return null;
  }
}

function readRunIdSync(pid: number): string | null {
  try {
    return runIdOf(readFileSync(`/proc/${pid}/environ`, 'latin1'));
  } catch {
    return null;
  }
}

/** Our children, from /proc/self/task/TID/children (or a scan of /proc where the kernel lacks it). */
async function ourChildren(): Promise<number[]> {
  const pids = new Set<number>();
  try {
    for (const tid of await readdir('/proc/self/task')) {
      const text = await readFile(`/proc/self/task/${tid}/children`, 'latin1');
      for (const word of text.split(' ')) if (word !== '') pids.add(Number(word));
    }
    return [...pids];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return [...pids];
  }
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readStat(Number(name));
    if (stat !== null && stat.ppid === process.pid) pids.add(stat.pid);
  }
  return [...pids];
}

/** The run id in a process's environment (as it was at its exec), null when it has none. */
export function runIdOf(environ: string): string | null {
  const prefix = `${RUN_ENV}=`;
  for (const entry of environ.split('\0')) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return null;
}

/**
 * A leftover of a script: ours now, not started otherwise (our session), and its run has ended —
 * known from its run id, or without one, because no running script may own it.
 */
function isLeftover(stat: ProcStat, runId: string | null): boolean {
  if (running.has(stat.pid)) return false;
  if (ownSession !== null && stat.session === ownSession) return false;
  if (runId !== null) {
    for (const r of running.values()) if (r.runId === runId) return false;
    return true;
  }
  if (running.has(stat.session)) return false;
  for (const r of running.values()) if (r.startTicks <= stat.startTicks) return false;
  return true;
}

let sweeping: Promise<void> | null = null;
let sweepAgain = false;

/** Kills and reaps script leftovers until none is left; concurrent calls share one sweep. */
function sweep(): Promise<void> {
  if (subreaper !== 'on') return Promise.resolve();
  if (sweeping !== null) {
    sweepAgain = true;
    return sweeping;
  }
  sweeping = (async () => {
    try {
      do {
        sweepAgain = false;
        await sweepPasses();
      } while (sweepAgain);
    } finally {
      sweeping = null;
    }
  })();
  return sweeping;
}

async function sweepPasses(): Promise<void> {
  for (let pass = 0; pass < MAX_SWEEPS; pass++) {
    let pending = 0;
    for (const pid of await ourChildren()) {
      const stat = await readStat(pid);
      if (stat === null || stat.ppid !== process.pid) continue;
      if (stat.state === 'Z' || stat.state === 'X') {
        // A dead one a script left: nothing to attribute, only reap (never one libuv waits for).
        if (!running.has(pid) && stat.session !== ownSession) reapChild?.(pid);
        continue;
      }
      if (!isLeftover(stat, await readRunId(pid))) continue;
      pending++;
      // Our child: its pid (and a group it leads) cannot be reused until we reap it.
      if (stat.pgrp === stat.pid) killGroup(stat.pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    if (pending === 0) return;
    await new Promise((r) => setTimeout(r, SWEEP_PAUSE_MS * (pass + 1)));
  }
}

/** process 'exit': synchronous, so only signals: every running script's group and every leftover. */
function killEverythingNow(): void {
  for (const pid of running.keys()) killGroup(pid);
  running.clear();
  if (subreaper !== 'on') return;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      for (const word of readFileSync(`/proc/self/task/${tid}/children`, 'latin1').split(' ')) {
        if (word === '') continue;
        const stat = parseStat(readFileSync(`/proc/${word}/stat`, 'latin1'));
        if (stat === null || !isLeftover(stat, readRunIdSync(stat.pid))) continue;
        if (stat.pgrp === stat.pid) killGroup(stat.pid);
        process.kill(stat.pid, 'SIGKILL');
      }
    }
  } catch {
    // Best effort on the way out; systemd's cgroup kill is the backstop under the unit.
  }
}
