/**
 * A NAT-mode LVS site in network namespaces, for the daemon tests in the VM (kernel IPVS):
 *
 *   client 203.0.113.2 ──veth── director: out0 203.0.113.1/24 + VIP 203.0.113.100/24
 *                                         br0  198.51.100.1/24 (the real servers' gateway)
 *                                          ├─veth── rs1 198.51.100.11
 *                                          ├─veth── rs2 198.51.100.12
 *                                          ├─veth── rs3 198.51.100.13
 *                                          └─veth── sorry 198.51.100.99
 *
 * Every real server routes by default via 198.51.100.1, so replies go back through the director,
 * where IPVS un-NATs them (ip_forward is the daemon's job, not the topology's). The director has a
 * default route as real ones do. Servers are test/vm/fixtures/real-server.mjs processes; the
 * oracles are curl from the client (what a user sees) and ipvsadm in the director (what the kernel
 * holds). Only RFC 5737 addresses; the lab's cleanup removes every namespace and process.
 */
import { resolve } from 'node:path';
import type { NetnsLab, SpawnedProcess } from '../support/netns.js';
import { PROJECT_ROOT } from '../support/paths.js';
import { waitFor } from '../support/wait.js';

export const VIP = '203.0.113.100';
export const CLIENT_ADDRESS = '203.0.113.2';
export const GATEWAY = '198.51.100.1';
export const REAL_SERVER_SCRIPT = resolve(PROJECT_ROOT, 'test/vm/fixtures/real-server.mjs');
export const LINE_CLIENT_SCRIPT = resolve(PROJECT_ROOT, 'test/vm/fixtures/line-client.mjs');

export interface ServerHost {
  /** "rs1", "rs2", "rs3" or "sorry": also what its HTTP server answers. */
  readonly name: string;
  readonly ns: string;
  readonly address: string;
}

export interface NatTopology {
  readonly client: string;
  readonly director: string;
  readonly realServers: readonly ServerHost[];
  readonly sorry: ServerHost;
}

export async function createNatTopology(lab: NetnsLab): Promise<NatTopology> {
  const client = await lab.namespace('client');
  const director = await lab.namespace('director');
  await lab.veth(
    { ns: client, ifname: 'eth0', cidr: `${CLIENT_ADDRESS}/24` },
    { ns: director, ifname: 'out0', cidr: '203.0.113.1/24' },
  );
  await lab.addAddress(director, 'out0', `${VIP}/24`);
  await lab.addRoute(client, 'default', { via: '203.0.113.1' });
  await lab.addRoute(director, 'default', { via: '203.0.113.254' });

  const hosts: ServerHost[] = [];
  const members: string[] = [];
  for (const [name, address] of [
    ['rs1', '198.51.100.11'],
    ['rs2', '198.51.100.12'],
    ['rs3', '198.51.100.13'],
    ['sorry', '198.51.100.99'],
  ] as const) {
    const ns = await lab.namespace(name);
    await lab.veth({ ns, ifname: 'eth0', cidr: `${address}/24` }, { ns: director, ifname: `p-${name}` });
    await lab.addRoute(ns, 'default', { via: GATEWAY });
    members.push(`p-${name}`);
    hosts.push({ name, ns, address });
  }
  await lab.bridge(director, 'br0', members);
  await lab.addAddress(director, 'br0', `${GATEWAY}/24`);
  const [rs1, rs2, rs3, sorry] = hosts as [ServerHost, ServerHost, ServerHost, ServerHost];
  return { client, director, realServers: [rs1, rs2, rs3], sorry };
}

/** Starts real-server.mjs (`http` or `echo`) on the host's address; resolves once it listens. */
export async function startServer(
  lab: NetnsLab,
  host: ServerHost,
  kind: 'http' | 'echo',
  port: number,
): Promise<SpawnedProcess> {
  const proc = lab.spawn(host.ns, process.execPath, [
    REAL_SERVER_SCRIPT,
    host.name,
    kind,
    `${host.address}:${port}`,
  ]);
  await proc.waitForOutput(`listening ${host.name} ${kind}`, 120_000);
  return proc;
}

export interface RequestTally {
  /** answers by body ("rs1" → 20) */
  readonly counts: Record<string, number>;
  /** one line per failed request: curl's exit code and HTTP status */
  readonly failures: string[];
  readonly total: number;
}

/**
 * `count` sequential GETs from the client, each on a new connection (curl sends Connection: close
 * and the server closes too), so each one is a new IPVS scheduling decision. One curl process for
 * all of them: under TCG a process start costs more than a request.
 */
export async function httpRequests(
  lab: NetnsLab,
  client: string,
  url: string,
  count: number,
): Promise<RequestTally> {
  const args = ['-sS', '--connect-timeout', '5', '--max-time', '10', '-H', 'Connection: close'];
  for (let i = 0; i < count; i++) args.push('-w', ' %{http_code} %{exitcode}\\n', url);
  const r = await lab.exec(client, 'curl', args, { timeoutMs: 600_000 });
  const counts: Record<string, number> = {};
  const failures: string[] = [];
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) {
    const m = /^(\S*) (\d{3}) (\d+)$/.exec(line);
    if (m && m[2] === '200' && m[3] === '0' && m[1] !== '')
      counts[m[1] as string] = (counts[m[1] as string] ?? 0) + 1;
    else failures.push(line);
  }
  if (lines.length !== count)
    failures.push(`expected ${count} answers, curl printed ${lines.length}: ${r.stderr}`);
  return { counts, failures, total: count };
}

/** What `ipvsadm -Ln` shows for one TCP service; null when the kernel has no such service. */
export interface KernelService {
  readonly scheduler: string;
  /** "addr:port" → weight */
  readonly destinations: Map<string, number>;
}

export async function kernelService(
  lab: NetnsLab,
  director: string,
  service: string,
): Promise<KernelService | null> {
  const r = await lab.exec(director, 'ipvsadm', ['-Ln', '-t', service]);
  if (r.code !== 0) return null;
  let scheduler = '';
  const destinations = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const svc = /^TCP\s+\S+\s+(\S+)/.exec(line);
    if (svc) scheduler = svc[1] as string;
    const m = /^\s+->\s+(\d\S+)\s+\S+\s+(\d+)\s/.exec(line);
    if (m) destinations.set(m[1] as string, Number(m[2]));
  }
  return { scheduler, destinations };
}

/** One pino line of the daemon's stdout. */
export interface LogEntry {
  readonly level: number;
  readonly time: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export function logEntries(proc: SpawnedProcess): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of proc.stdout().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      // a line still being written
    }
  }
  return out;
}

/** Waits for the first log entry at index ≥ `after` that matches; returns it with its index. */
export function waitForLog(
  proc: SpawnedProcess,
  match: (e: LogEntry) => boolean,
  options: { after?: number; timeoutMs?: number; what?: string } = {},
): Promise<{ entry: LogEntry; index: number }> {
  return waitFor(
    options.what ?? 'a log line',
    async () => {
      if (proc.exitStatus() !== null)
        throw new Error(
          `ipvsd exited: ${JSON.stringify(proc.exitStatus())}\n${proc.stdout()}\n${proc.stderr()}`,
        );
      const entries = logEntries(proc);
      for (let i = options.after ?? 0; i < entries.length; i++) {
        const entry = entries[i] as LogEntry;
        if (match(entry)) return { entry, index: i };
      }
      return undefined;
    },
    { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nipvsd log:\n${proc.stdout()}\nstderr: ${proc.stderr()}`);
  });
}
