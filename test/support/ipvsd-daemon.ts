/**
 * The real daemon (dist/src/bin/ipvsd.js, the file `ipvsd` runs) inside a test namespace, with its
 * config and control socket in the test's directory, and `ipvsctl status --json` (the compiled CLI,
 * run from the test's namespace: the control socket is a file, not a network address) as the way to
 * read its VRRP state, as an operator would.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { StatusResult } from '../../src/control/protocol.js';
import type { VrrpInstanceStatus, VrrpSpeakerStatus } from '../../src/vrrp/speaker.js';
import { type NetnsLab, type ProcessExit, type RunOptions, run, type SpawnedProcess } from './netns.js';
import { IPVSCTL, IPVSD, PROJECT_ROOT } from './paths.js';
import { ipvsdYaml, type PeerRouter } from './vrrp-peer-config.js';

export { IPVSCTL, IPVSD };

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

/** The pid of a daemon's child with this process title (`ipvsd: checks`, `ipvsd: vrrp`), if any. */
export async function daemonChild(parent: number, title: string): Promise<number | undefined> {
  for (const [pid, t] of await daemonChildren(parent)) if (t === title) return pid;
  return undefined;
}

/**
 * `ipvsctl --socket SOCKET status --json` run in `ns`, parsed. Fails the test when ipvsctl writes
 * to stderr or exits non-zero.
 */
export async function ipvsctlStatus(
  lab: NetnsLab,
  ns: string,
  socket: string,
  options: RunOptions = {},
): Promise<StatusResult> {
  const r = await lab.runNode(ns, IPVSCTL, ['--socket', socket, 'status', '--json'], options);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as StatusResult;
}

/**
 * The value of one series (its name and labels as the daemon prints them) on the metrics endpoint
 * at 127.0.0.1:9469 in `ns`, scraped with curl; undefined when the series is not there. Fails the
 * test when curl does.
 */
export async function scrapedValue(lab: NetnsLab, ns: string, series: string): Promise<number | undefined> {
  const r = await lab.exec(ns, 'curl', ['-sS', '--max-time', '10', 'http://127.0.0.1:9469/metrics']);
  expect(r.code).toBe(0);
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** tcpdump of VRRP (IP protocol 112) on `ifname` in `ns`, with the wire times of what it saw. */
export interface AdvertCapture {
  /** Ends the capture. */
  stop(): Promise<void>;
  /** Epoch seconds of the packets from `source` seen between `fromS` and `toS`. */
  times(source: string, fromS: number, toS: number): number[];
}

export function captureAdverts(lab: NetnsLab, ns: string, ifname: string): AdvertCapture {
  const tcpdump = lab.spawn(ns, 'tcpdump', ['-i', ifname, '-n', '-tt', '-l', '-p', 'ip proto 112']);
  return {
    async stop() {
      await tcpdump.kill('SIGTERM');
    },
    times: (source, fromS, toS) =>
      tcpdump
        .stdout()
        .split('\n')
        .filter((l) => l.includes(`${source} > `))
        .map((l) => Number(l.split(' ')[0]))
        .filter((t) => t >= fromS && t <= toS),
  };
}

/** The gaps between successive times in epoch seconds, in ms. */
export const gapsMs = (timesS: readonly number[]): number[] =>
  timesS.slice(1).map((t, i) => (t - (timesS[i] ?? t)) * 1000);
