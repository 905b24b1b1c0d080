/**
 * The real daemon (dist/src/bin/ipvsd.js, the file `ipvsd` runs) inside a test namespace, with its
 * config and control socket in the test's directory, and `ipvsctl status --json` (the compiled CLI,
 * run from the test's namespace: the control socket is a file, not a network address) as the way to
 * read its VRRP state, as an operator would.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { VrrpInstanceStatus, VrrpSpeakerStatus } from '../../src/vrrp/speaker.js';
import { type NetnsLab, type ProcessExit, run, type SpawnedProcess } from './netns.js';
import { DIST_DIR, PROJECT_ROOT } from './paths.js';
import { ipvsdYaml, type PeerRouter } from './vrrp-peer-config.js';

export const IPVSD = resolve(DIST_DIR, 'src/bin/ipvsd.js');
export const IPVSCTL = resolve(DIST_DIR, 'src/bin/ipvsctl.js');

export interface IpvsdStatus {
  readonly vrrp: VrrpSpeakerStatus;
}

export interface IpvsdDaemon {
  readonly proc: SpawnedProcess;
  readonly controlSocket: string;
  /** `ipvsctl --socket … status --json`, parsed; throws when ipvsctl fails. */
  status(): Promise<IpvsdStatus>;
  instance(name: string): Promise<VrrpInstanceStatus>;
  /** The daemon's JSON log lines so far (non-JSON lines skipped). */
  logEntries(): { msg?: string; [key: string]: unknown }[];
  /** SIGTERM and wait for the exit (priority-0 adverts, VIPs removed). */
  stop(): Promise<ProcessExit>;
  /**
   * SIGKILL: no goodbye, the VIPs stay where they are. Resolves after the exit with
   * performance.now() taken right after the signal was sent.
   */
  crash(): Promise<number>;
}

export async function startIpvsd(
  lab: NetnsLab,
  ns: string,
  files: { readonly dir: string; readonly tag: string },
  router: PeerRouter,
): Promise<IpvsdDaemon> {
  const config = join(files.dir, `ipvsd-${files.tag}.yaml`);
  const controlSocket = join(files.dir, `ipvsd-${files.tag}.sock`);
  await writeFile(config, ipvsdYaml(router, controlSocket));
  const proc = lab.spawn(ns, process.execPath, [IPVSD, '--config', config]);
  // Node starts slowly on a loaded machine: be generous.
  await proc.waitForOutput('"msg":"ipvsd started"', 60_000);

  const daemon: IpvsdDaemon = {
    proc,
    controlSocket,
    async status() {
      const r = await run(process.execPath, [IPVSCTL, '--socket', controlSocket, 'status', '--json'], {
        cwd: PROJECT_ROOT,
        timeoutMs: 30_000,
      });
      if (r.code !== 0) throw new Error(`ipvsctl status exited ${r.code}: ${r.stderr}${r.stdout}`);
      return JSON.parse(r.stdout) as IpvsdStatus;
    },
    async instance(name) {
      const found = (await daemon.status()).vrrp.instances.find((i) => i.name === name);
      if (found === undefined) throw new Error(`ipvsctl status shows no VRRP instance ${name}`);
      return found;
    },
    logEntries() {
      return proc
        .stdout()
        .split('\n')
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as { msg?: string }];
          } catch {
            return [];
          }
        });
    },
    stop: () => proc.kill('SIGTERM', 15_000),
    async crash() {
      proc.child.kill('SIGKILL');
      const killedAt = performance.now();
      await proc.exited;
      return killedAt;
    },
  };
  return daemon;
}

/** `ps --ppid`: a daemon's children (`ipvsd: checks`, `ipvsd: vrrp`) as pid → title. */
export async function daemonChildren(parent: number): Promise<Map<number, string>> {
  const r = await run('ps', ['-o', 'pid=,args=', '--ppid', String(parent)]);
  const out = new Map<number, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (m) out.set(Number(m[1]), (m[2] ?? '').trim());
  }
  return out;
}
