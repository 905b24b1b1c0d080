/**
 * Network namespaces for tests, built and inspected with iproute2 (`ip`), which serves as the
 * oracle; product code never shells out. A lab names every namespace `ipvsd-t-<pid>-<n>[-tag]`,
 * creates links inside namespaces only (never in the host's), and its cleanup() ends every
 * process it started and every process still inside its namespaces, then deletes the namespaces,
 * which takes their veths and bridges with them. Call cleanup() from afterAll/afterEach: it runs
 * even when the test failed, is idempotent, and throws if something could not be removed.
 *
 * Our own code runs inside a namespace as compiled JavaScript from dist/ (the netns project's
 * globalSetup builds it once per run; no TypeScript loader is installed): either one-shot
 * (`runNode`) or as a long-lived agent (`nodeAgent`) that loads a driver module from
 * test/netns/drivers/ and answers calls over stdin/stdout, errors included with code and errno.
 *
 * Without root these helpers throw: netns tests fail loudly instead of skipping, so a run
 * without privileges can never look green.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { PROJECT_ROOT } from './paths.js';
import { sleep } from './wait.js';

export const NETNS_PREFIX = 'ipvsd-t-';
const AGENT_SCRIPT = resolve(PROJECT_ROOT, 'test/support/node-agent.mjs');
const RPC_PREFIX = '@@ipvsd-rpc ';

// ---------------------------------------------------------------------------------------------
// Guard

/** Throws a clear error unless we are root and `ip netns` works. Call it before any netns work. */
export function assertNetnsCapable(): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(
      `netns tests need root (CAP_SYS_ADMIN and CAP_NET_ADMIN to create network namespaces and links), ` +
        `but this process runs as uid ${uid ?? 'unknown'}. Run them as root: sudo npx vitest run --project netns. ` +
        `They fail instead of skipping on purpose, so an unprivileged run cannot pass silently.`,
    );
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `netns tests need iproute2's \`ip\` with netns support: \`ip netns list\` failed: ${String(err)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

export interface CommandResult {
  readonly command: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
  /** Kill the command (SIGKILL) after this long. Default 30 s. */
  readonly timeoutMs?: number;
  /** Run as this user and group (e.g. 65534, nobody: what an unprivileged operator gets). */
  readonly uid?: number;
  readonly gid?: number;
}

/** Runs a command to completion; never throws for a non-zero exit (see runOk). */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const command = [cmd, ...args].join(' ');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ command, code, signal, stdout, stderr });
    });
    // A command that exits without reading its stdin must not turn into an EPIPE crash here.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a command and returns its stdout; throws with the command line and stderr on failure. */
export async function runOk(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    const how = result.signal === null ? `exit code ${result.code}` : `signal ${result.signal}`;
    throw new Error(`\`${result.command}\` failed (${how}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}

// ---------------------------------------------------------------------------------------------
// Namespace inventory

/** Every network namespace `ip netns list` shows. */
export async function listNamespaces(): Promise<string[]> {
  const out = await runOk('ip', ['-j', 'netns', 'list']);
  if (out.trim() === '') return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

export async function namespaceExists(name: string): Promise<boolean> {
  return (await listNamespaces()).includes(name);
}

/** The pid encoded in a test namespace's name, or null for other names. */
export function creatorPid(name: string): number | null {
  const m = new RegExp(`^${NETNS_PREFIX}(\\d+)-`).exec(name);
  return m?.[1] === undefined ? null : Number(m[1]);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes test namespaces whose creating process is gone (left by a crashed run). Returns their
 * names. Namespaces of live processes are left alone: they belong to a running test.
 */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((name) => {
    const pid = creatorPid(name);
    return pid !== null && !processAlive(pid);
  });
  for (const name of stale) await deleteNamespace(name);
  return stale;
}

/** Ends every process inside `name`, then deletes the namespace. Missing namespaces are fine. */
async function deleteNamespace(name: string): Promise<void> {
  if (!(await namespaceExists(name))) return;
  await killNamespaceProcesses(name);
  const result = await run('ip', ['netns', 'del', name]);
  if (result.code !== 0 && (await namespaceExists(name))) {
    throw new Error(`could not delete network namespace ${name}: ${result.stderr.trim()}`);
  }
}

async function namespacePids(name: string): Promise<number[]> {
  const result = await run('ip', ['netns', 'pids', name]);
  if (result.code !== 0) return [];
  return result.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** SIGTERM, then SIGKILL after a grace period, every process still inside the namespace. */
async function killNamespaceProcesses(name: string, graceMs = 2000): Promise<void> {
  let pids = await namespacePids(name);
  if (pids.length === 0) return;
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(50);
    pids = pids.filter(processAlive);
    if (pids.length === 0) return;
  }
  for (const pid of await namespacePids(name)) signal(pid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (Date.now() < killDeadline && (await namespacePids(name)).length > 0) await sleep(50);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// Processes inside a namespace

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnedProcess {
  readonly ns: string;
  readonly command: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** Null while running. */
  exitStatus(): ProcessExit | null;
  /** Resolves when stdout+stderr match; rejects on timeout or exit, showing the output so far. */
  waitForOutput(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** Sends `sig` (default SIGTERM), then SIGKILL after graceMs; resolves on exit. */
  kill(sig?: NodeJS.Signals, graceMs?: number): Promise<ProcessExit>;
}

function startProcess(ns: string, cmd: string, args: readonly string[], options: RunOptions): SpawnedProcess {
  // `ip netns exec` execs the command in place, so the child's pid is the command's pid.
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const command = `ip netns exec ${ns} ${[cmd, ...args].join(' ')}`;
  let out = '';
  let err = '';
  let status: ProcessExit | null = null;
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const w of watchers) w();
  };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    notify();
  });
  const exited = new Promise<ProcessExit>((r) => {
    child.on('error', (e) => {
      err += `\nspawn failed: ${e.message}`;
      status ??= { code: null, signal: null };
      r(status);
      notify();
    });
    child.on('close', (code, sig) => {
      status = { code, signal: sig };
      r(status);
      notify();
    });
  });
  child.stdin?.on('error', () => {});
  if (options.input !== undefined) child.stdin?.end(options.input);

  const proc: SpawnedProcess = {
    ns,
    command,
    pid: child.pid ?? -1,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    exitStatus: () => status,
    waitForOutput(pattern, timeoutMs = 10_000) {
      const test = (s: string) => (typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s));
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          if (test(out) || test(err)) {
            done();
            resolvePromise();
          } else if (status !== null) {
            done();
            reject(
              new Error(
                `${command} exited (${describeExit(status)}) before printing ${pattern}\n${out}${err}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`${command}: no ${pattern} within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
      });
    },
    async kill(sig = 'SIGTERM', graceMs = 2000) {
      if (status !== null) return status;
      child.kill(sig);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      // 'close' waits for the pipes too, and a descendant that inherited them (keepalived's VRRP
      // and checker children) can outlive the process: once the process itself is gone, stop
      // reading after a grace period, so cleanup() goes on to end what is left in the namespace
      // instead of waiting forever (the takeover benchmark hung here after its last run).
      const unpipe = setInterval(() => {
        if (child.exitCode === null && child.signalCode === null) return;
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, graceMs + 1000);
      const result = await exited;
      clearTimeout(timer);
      clearInterval(unpipe);
      return result;
    },
  };
  return proc;
}

function describeExit(e: ProcessExit): string {
  return e.signal === null ? `exit code ${e.code}` : `signal ${e.signal}`;
}

// ---------------------------------------------------------------------------------------------
// Node agent: our compiled code, running inside a namespace, called from the test

/** An error thrown inside the agent, with the fields our errors carry. */
export class AgentCallError extends Error {
  readonly code: string | undefined;
  readonly errno: number | undefined;
  readonly errnoName: string | undefined;
  readonly remoteStack: string | undefined;

  constructor(e: {
    name?: string;
    message?: string;
    code?: string;
    errno?: number;
    errnoName?: string;
    stack?: string;
  }) {
    super(e.message ?? 'unknown error');
    this.name = e.name ?? 'Error';
    this.code = e.code;
    this.errno = e.errno;
    this.errnoName = e.errnoName;
    this.remoteStack = e.stack;
  }
}

export interface NodeAgent {
  readonly ns: string;
  readonly process: SpawnedProcess;
  /** Calls export `fn` of the driver with JSON arguments; rejects with AgentCallError on a throw. */
  call<T = unknown>(fn: string, ...args: unknown[]): Promise<T>;
  /** The agent's network namespace identity, e.g. `net:[4026532301]`. */
  netnsId(): Promise<string>;
  /** Ends stdin (the driver's close() runs), waits for the exit, kills after a grace period. */
  close(): Promise<ProcessExit>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

async function startAgent(proc: SpawnedProcess, callTimeoutMs: number): Promise<NodeAgent> {
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let buffered = '';
  let ready: () => void = () => {};
  const readyPromise = new Promise<void>((r) => {
    ready = r;
  });
  proc.child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
      if (!line.startsWith(RPC_PREFIX)) continue;
      const msg = JSON.parse(line.slice(RPC_PREFIX.length)) as {
        ready?: boolean;
        id?: number;
        ok?: boolean;
        result?: unknown;
        error?: ConstructorParameters<typeof AgentCallError>[0];
      };
      if (msg.ready === true) {
        ready();
        continue;
      }
      const p = msg.id === undefined ? undefined : pending.get(msg.id);
      if (p === undefined || msg.id === undefined) continue;
      pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok === true) p.resolve(msg.result);
      else p.reject(new AgentCallError(msg.error ?? {}));
    }
  });
  void proc.exited.then((exit) => {
    const why = new Error(
      `node agent in ${proc.ns} exited (${describeExit(exit)}) with calls pending\nstderr: ${proc.stderr()}`,
    );
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(why);
    }
  });

  const started = await Promise.race([
    readyPromise.then(() => true),
    proc.exited.then(() => false),
    sleep(15_000),
  ]);
  if (started !== true) {
    await proc.kill('SIGKILL');
    throw new Error(
      `node agent in ${proc.ns} did not start (${proc.exitStatus() ? describeExit(proc.exitStatus() as ProcessExit) : 'timeout'})\n` +
        `stdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`,
    );
  }

  const agent: NodeAgent = {
    ns: proc.ns,
    process: proc,
    call<T>(fn: string, ...args: unknown[]): Promise<T> {
      if (proc.exitStatus() !== null) {
        return Promise.reject(new Error(`node agent in ${proc.ns} has exited\nstderr: ${proc.stderr()}`));
      }
      const id = nextId++;
      return new Promise<T>((resolvePromise, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`node agent in ${proc.ns}: ${fn}() gave no answer within ${callTimeoutMs} ms`));
        }, callTimeoutMs);
        pending.set(id, { resolve: resolvePromise as (v: unknown) => void, reject, timer });
        proc.child.stdin?.write(`${JSON.stringify({ id, fn, args })}\n`);
      });
    },
    netnsId: () => agent.call<string>('$netns'),
    async close() {
      proc.child.stdin?.end();
      const exit = await Promise.race([proc.exited, sleep(5000).then(() => null)]);
      return exit ?? proc.kill('SIGKILL');
    },
  };
  return agent;
}

// ---------------------------------------------------------------------------------------------
// The lab

export interface VethEnd {
  readonly ns: string;
  readonly ifname: string;
  /** Optional address for this end, e.g. `192.0.2.1/24`. */
  readonly cidr?: string;
}

/** One address as `ip -j addr` reports it. */
export interface IpAddrInfo {
  readonly family: 'inet' | 'inet6';
  readonly local: string;
  readonly prefixlen: number;
  readonly label?: string;
  readonly scope?: string;
  readonly nodad?: boolean;
  readonly tentative?: boolean;
  readonly dadfailed?: boolean;
  readonly broadcast?: string;
  readonly secondary?: boolean;
}

export interface NetnsLab {
  /** Namespaces this lab created and has not yet deleted. */
  readonly namespaces: readonly string[];
  /** Creates a namespace with `lo` up; returns its name. */
  namespace(tag?: string): Promise<string>;
  /** A veth pair, each end in its namespace (the same one is fine), both up. */
  veth(a: VethEnd, b: VethEnd): Promise<void>;
  /** A bridge in `ns` enslaving `members`, all up. */
  bridge(ns: string, name: string, members?: readonly string[]): Promise<void>;
  linkUp(ns: string, ifname: string): Promise<void>;
  /** `ip addr add`; IPv6 gets `nodad` unless told otherwise so it is usable at once. */
  addAddress(ns: string, ifname: string, cidr: string, options?: { nodad?: boolean }): Promise<void>;
  /** `ip route add DEST [via VIA] [dev DEV]`; DEST may be `default`. */
  addRoute(ns: string, dest: string, options: { via?: string; dev?: string; family?: 4 | 6 }): Promise<void>;
  /** `ip -n NS -j ARGS…`, parsed. */
  ipJson<T = unknown>(ns: string, args: readonly string[]): Promise<T>;
  /** The oracle: addresses `ip -j addr show` lists for one interface. */
  ipAddresses(ns: string, ifname: string): Promise<IpAddrInfo[]>;
  /** Runs a command inside `ns` to completion (never throws for a non-zero exit). */
  exec(ns: string, cmd: string, args?: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Like exec, but throws on a non-zero exit; returns stdout. */
  execOk(ns: string, cmd: string, args?: readonly string[], options?: RunOptions): Promise<string>;
  /** Starts a long-running command inside `ns`; cleanup() ends it. */
  spawn(ns: string, cmd: string, args?: readonly string[], options?: RunOptions): SpawnedProcess;
  /** Runs a Node script (absolute or relative to the project root) inside `ns` with this Node. */
  runNode(ns: string, script: string, args?: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * Starts test/support/node-agent.mjs inside `ns` with `driver` (a module path, absolute or relative
   * to the project root, normally test/netns/drivers/*.mjs importing from dist/).
   */
  nodeAgent(ns: string, driver: string, options?: { callTimeoutMs?: number }): Promise<NodeAgent>;
  /** A new directory under the system's temporary one, named PREFIX + random; cleanup() removes it. */
  tempDir(prefix: string): Promise<string>;
  /**
   * Ends processes (ours first, then anything left inside our namespaces), deletes the namespaces
   * and checks they are gone, then removes the temporary directories. Idempotent; throws an
   * AggregateError listing what failed.
   */
  cleanup(): Promise<void>;
}

/**
 * Two new namespaces, TAG-a and TAG-b, joined by a veth named `ifname` at both ends, with
 * `addressA`/24 and `addressB`/24: the frame of the tests that run two daemons side by side.
 */
export async function namespacePair(
  lab: NetnsLab,
  tag: string,
  ifname: string,
  addressA: string,
  addressB: string,
): Promise<[string, string]> {
  const nsA = await lab.namespace(`${tag}-a`);
  const nsB = await lab.namespace(`${tag}-b`);
  await lab.veth({ ns: nsA, ifname, cidr: `${addressA}/24` }, { ns: nsB, ifname, cidr: `${addressB}/24` });
  return [nsA, nsB];
}

let namespaceCounter = 0;

export function createNetnsLab(): NetnsLab {
  assertNetnsCapable();
  const namespaces: string[] = [];
  const processes: SpawnedProcess[] = [];
  const agents: NodeAgent[] = [];
  const tempDirs: string[] = [];

  const ipn = (ns: string, args: readonly string[]) => runOk('ip', ['-n', ns, ...args]);

  function spawnIn(
    ns: string,
    cmd: string,
    args: readonly string[] = [],
    options: RunOptions = {},
  ): SpawnedProcess {
    const proc = startProcess(ns, cmd, args, options);
    processes.push(proc);
    return proc;
  }

  const lab: NetnsLab = {
    get namespaces() {
      return [...namespaces];
    },

    async namespace(tag) {
      const suffix =
        tag === undefined
          ? ''
          : `-${tag
              .toLowerCase()
              .replace(/[^a-z0-9]+/g, '-')
              .slice(0, 16)}`;
      const name = `${NETNS_PREFIX}${process.pid}-${++namespaceCounter}${suffix}`;
      // Registered first, so a half-made namespace is still cleaned up.
      namespaces.push(name);
      await runOk('ip', ['netns', 'add', name]);
      await ipn(name, ['link', 'set', 'dev', 'lo', 'up']);
      return name;
    },

    async veth(a, b) {
      const peer = a.ns === b.ns ? ['peer', 'name', b.ifname] : ['peer', 'name', b.ifname, 'netns', b.ns];
      // Always spell out `name`/`dev`: iproute2 takes a bare `a` or `br` as an abbreviated keyword.
      await ipn(a.ns, ['link', 'add', 'name', a.ifname, 'type', 'veth', ...peer]);
      for (const end of [a, b]) {
        if (end.cidr !== undefined) await lab.addAddress(end.ns, end.ifname, end.cidr);
        await lab.linkUp(end.ns, end.ifname);
      }
    },

    async bridge(ns, name, members = []) {
      await ipn(ns, ['link', 'add', 'name', name, 'type', 'bridge']);
      for (const m of members) {
        await ipn(ns, ['link', 'set', 'dev', m, 'master', name]);
        await lab.linkUp(ns, m);
      }
      await lab.linkUp(ns, name);
    },

    async linkUp(ns, ifname) {
      await ipn(ns, ['link', 'set', 'dev', ifname, 'up']);
    },

    async addAddress(ns, ifname, cidr, options = {}) {
      const nodad = (options.nodad ?? true) && cidr.includes(':') ? ['nodad'] : [];
      await ipn(ns, ['addr', 'add', cidr, 'dev', ifname, ...nodad]);
    },

    async addRoute(ns, dest, options) {
      const args = options.family === undefined ? [] : [`-${options.family}`];
      args.push('route', 'add', dest);
      if (options.via !== undefined) args.push('via', options.via);
      if (options.dev !== undefined) args.push('dev', options.dev);
      await ipn(ns, args);
    },

    async ipJson<T>(ns: string, args: readonly string[]) {
      const out = await ipn(ns, ['-j', ...args]);
      return (out.trim() === '' ? [] : JSON.parse(out)) as T;
    },

    async ipAddresses(ns, ifname) {
      const links = await lab.ipJson<{ addr_info?: IpAddrInfo[] }[]>(ns, ['addr', 'show', 'dev', ifname]);
      return links.flatMap((l) => l.addr_info ?? []);
    },

    exec(ns, cmd, args = [], options = {}) {
      return run('ip', ['netns', 'exec', ns, cmd, ...args], options);
    },

    execOk(ns, cmd, args = [], options = {}) {
      return runOk('ip', ['netns', 'exec', ns, cmd, ...args], options);
    },

    spawn: spawnIn,

    runNode(ns, script, args = [], options = {}) {
      return lab.exec(ns, process.execPath, [absolute(script), ...args], options);
    },

    async nodeAgent(ns, driver, options = {}) {
      const proc = spawnIn(ns, process.execPath, [AGENT_SCRIPT, absolute(driver)]);
      const agent = await startAgent(proc, options.callTimeoutMs ?? 20_000);
      agents.push(agent);
      return agent;
    },

    async tempDir(prefix) {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      tempDirs.push(dir);
      return dir;
    },

    async cleanup() {
      const failures: unknown[] = [];
      for (const agent of agents.splice(0)) {
        await agent.close().catch((e: unknown) => failures.push(e));
      }
      for (const proc of processes.splice(0)) {
        await proc.kill('SIGTERM', 2000).catch((e: unknown) => failures.push(e));
      }
      for (const name of namespaces.splice(0)) {
        try {
          await deleteNamespace(name);
          if (await namespaceExists(name))
            throw new Error(`network namespace ${name} still exists after deletion`);
        } catch (e) {
          failures.push(e);
        }
      }
      for (const dir of tempDirs.splice(0)) {
        await rm(dir, { recursive: true, force: true }).catch((e: unknown) => failures.push(e));
      }
      if (failures.length > 0)
        throw new AggregateError(failures, `netns cleanup failed: ${failures.map(String).join('; ')}`);
    },
  };
  return lab;
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(PROJECT_ROOT, path);
}

/** The calling process's own network namespace identity, e.g. `net:[4026531840]`. */
export function ownNetnsId(): string {
  return readlinkSync('/proc/self/ns/net');
}
