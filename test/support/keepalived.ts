/**
 * keepalived (the Debian package, /usr/sbin/keepalived) as a real VRRP peer inside a test namespace:
 * VRRP subsystem only, in the foreground, logging to the console, with its own config and pid files
 * in the test's directory (never the system's /run/keepalived.pid, which another keepalived may own).
 *
 * Its state is read the way an operator would: an instance's from its log ("(NAME) Entering MASTER
 * STATE", written in order); a notify script (keepalived runs it with TYPE NAME STATE PRIORITY on
 * every transition) appends one line per call with a millisecond timestamp, which gives the
 * groups' state and the timings (forked scripts may finish out of order).
 *
 * keepalived runs as a parent and a VRRP child. A SIGKILL of the parent alone is not a crash (the child
 * notices its parent's death and shuts down gracefully, priority-0 advert included), and a SIGKILL of
 * the child alone is answered by the parent respawning it. So crash() stops the parent first, kills
 * the child, then the parent: nothing gets a chance to say goodbye, as when the box dies.
 */
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetnsLab, ProcessExit, SpawnedProcess } from './netns.js';
import { keepalivedConf, type PeerRouter } from './vrrp-peer-config.js';
import { sleep } from './wait.js';

export const KEEPALIVED = '/usr/sbin/keepalived';

/** keepalived/vrrp/vrrp.c: "(%s) Entering MASTER STATE", "(%s) Entering BACKUP STATE (init)", … */
const INSTANCE_STATE_LOG = /\((\S+)\) Entering (MASTER|BACKUP|FAULT) STATE/g;

export interface KeepalivedNotification {
  /** Date.now() of the script's run. */
  readonly atMs: number;
  readonly kind: string;
  readonly name: string;
  readonly state: string;
  readonly priority: number;
}

export interface Keepalived {
  readonly proc: SpawnedProcess;
  /** Every notify call of this run (an earlier run's lines in the same file are left out). */
  notifications(): Promise<KeepalivedNotification[]>;
  /** The state of this run's latest notify call for `name` (an instance or a group), or null. */
  lastState(name: string): Promise<string | null>;
  /** stdout + stderr of this run. */
  log(): string;
  /** SIGTERM and wait for the exit (keepalived sends priority 0 and removes its VIPs). */
  stop(): Promise<ProcessExit>;
  /**
   * Both processes killed without warning (see the module comment). Resolves, once both are gone,
   * with performance.now() taken right after the SIGKILLs were sent.
   */
  crash(): Promise<number>;
}

export interface KeepalivedFiles {
  readonly dir: string;
  readonly tag: string;
}

/** Writes the config and notify script under dir (once per tag), then starts keepalived in `ns`. */
export async function startKeepalived(
  lab: NetnsLab,
  ns: string,
  files: KeepalivedFiles,
  router: PeerRouter,
): Promise<Keepalived> {
  const base = join(files.dir, `keepalived-${files.tag}`);
  const notifyLog = `${base}.notify`;
  const script = `${base}-notify.sh`;
  const conf = `${base}.conf`;
  const vrrpPidFile = `${base}-vrrp.pid`;
  // keepalived execs the script directly (no shell of its own); the test directory is root-only.
  await writeFile(script, `#!/bin/sh\necho "$(date +%s%3N) $*" >> ${notifyLog}\n`);
  await chmod(script, 0o755);
  await writeFile(conf, keepalivedConf(router, script));
  const startedAt = Date.now();
  const proc = lab.spawn(ns, KEEPALIVED, [
    '--dont-fork',
    '--log-console',
    '--log-detail',
    '--vrrp',
    '--use-file',
    conf,
    '--pid',
    `${base}.pid`,
    '--vrrp_pid',
    vrrpPidFile,
  ]);
  await proc.waitForOutput('Startup complete', 30_000);

  const notifications = async (): Promise<KeepalivedNotification[]> => {
    let text = '';
    try {
      text = await readFile(notifyLog, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length === 5 && Number(f[0]) >= startedAt)
      .map(([at, kind, name, state, priority]) => ({
        atMs: Number(at),
        kind: kind ?? '',
        name: name ?? '',
        state: state ?? '',
        priority: Number(priority),
      }));
  };

  return {
    proc,
    notifications,
    async lastState(name) {
      // An instance's state from keepalived's own log, which it writes in order: its notify
      // scripts are forked one per transition and can finish out of order (seen here: BACKUP's
      // line after MASTER's). Groups (no such log line on every change) by their notify calls.
      const entering = [...(proc.stdout() + proc.stderr()).matchAll(INSTANCE_STATE_LOG)].filter(
        (m) => m[1] === name,
      );
      if (entering.length > 0) return entering.at(-1)?.[2] ?? null;
      const mine = (await notifications()).filter((n) => n.name === name);
      return mine.at(-1)?.state ?? null;
    },
    log: () => proc.stdout() + proc.stderr(),
    stop: () => proc.kill('SIGTERM', 10_000),
    async crash() {
      const child = Number((await readFile(vrrpPidFile, 'utf8')).trim());
      proc.child.kill('SIGSTOP');
      if (Number.isInteger(child) && child > 0) {
        try {
          process.kill(child, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      proc.child.kill('SIGKILL');
      const killedAt = performance.now();
      await proc.exited;
      // The child is reaped by whoever inherits it; wait until it is gone, zombie included.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (await exists(child))) await sleep(20);
      // A crashed box reboots with an empty /run: without this, a pid file naming a zombie (or a
      // recycled pid) makes the next keepalived refuse to start ("daemon is already running").
      await rm(`${base}.pid`, { force: true });
      await rm(vrrpPidFile, { force: true });
      return killedAt;
    },
  };
}

async function exists(pid: number): Promise<boolean> {
  try {
    await stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
