/**
 * ipvsctl's daemon commands as an operator runs them: the compiled CLI as a separate process against
 * a real control server (here in the test process, with fake handlers standing in for the daemon).
 * Needs root for the permission cases: a client running as `nobody` must be turned away by the
 * file modes. No namespace is needed: a Unix socket lives in the file system.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ControlHandlers, ControlServer } from '../../src/control/server.js';
import { type CommandResult, run } from '../support/netns.js';
import { DIST_DIR, IPVSCTL, PROJECT_ROOT } from '../support/paths.js';
import { STATUS } from '../support/status-fixture.js';

const SERVER_MODULE = resolve(DIST_DIR, 'src/control/server.js');

// The server under test is the compiled one, like the CLI (one build, the one that ships).
const { createControlServer } = (await import(SERVER_MODULE)) as typeof import('../../src/control/server.js');
const { IpvsdError } = (await import(
  resolve(DIST_DIR, 'src/errors.js')
)) as typeof import('../../src/errors.js');

let base: string;
let socket: string;
const servers: ControlServer[] = [];
const children: ChildProcess[] = [];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'ipvsd-ctl-'));
  socket = join(base, 'run', 'ipvsd', 'control.sock');
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(base, { recursive: true, force: true });
});

function handlers(calls: string[] = []): ControlHandlers {
  return {
    status: async () => STATUS,
    reload: async () => {
      calls.push('reload');
      return calls.filter((c) => c === 'reload').length === 1
        ? { reloaded: true, errors: [] }
        : { reloaded: false, errors: ['/etc/ipvsd/ipvsd.yaml:7:15: scheduler "wrrr" is not one of rr, wrr'] };
    },
    drain: async (vs, rs) => {
      calls.push(`drain ${vs} ${rs}`);
      if (vs !== 'web' && vs !== 'tcp/203.0.113.100:80')
        throw new IpvsdError('IPVSD_ERR_NOT_FOUND', `no virtual server "${vs}"`);
      return { vs: 'web', rs, drained: true };
    },
    undrain: async (vs, rs) => {
      calls.push(`undrain ${vs} ${rs}`);
      return { vs, rs, drained: false };
    },
  };
}

async function serve(h: ControlHandlers = handlers()): Promise<ControlServer> {
  const server = createControlServer({ path: socket, handlers: h });
  await server.start();
  servers.push(server);
  return server;
}

function ipvsctl(args: readonly string[]): Promise<CommandResult> {
  return run(process.execPath, [IPVSCTL, ...args], { cwd: PROJECT_ROOT });
}

/** ipvsctl as uid/gid 65534 (nobody): what an unprivileged operator gets. */
function ipvsctlAsNobody(args: readonly string[]): Promise<CommandResult> {
  return run(process.execPath, [IPVSCTL, ...args], { cwd: PROJECT_ROOT, uid: 65534, gid: 65534 });
}

/** Another ipvsd (its control server, compiled) in its own process; resolves once it listens. */
async function otherDaemon(path: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { createControlServer } = await import(${JSON.stringify(SERVER_MODULE)});
       const s = createControlServer({ path: ${JSON.stringify(path)}, handlers: {
         status: async () => ({ other: true }), reload: async () => ({ reloaded: true, errors: [] }),
         drain: async () => ({}), undrain: async () => ({}) } });
       await s.start();
       console.log('listening');`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  await new Promise<void>((resolvePromise, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('listening')) resolvePromise();
    });
    child.on('exit', (code) => reject(new Error(`the other daemon exited with ${code}`)));
  });
  return child;
}

describe('ipvsctl status', () => {
  it('--json prints the status the daemon sent, exactly', async () => {
    await serve();
    const r = await ipvsctl(['--socket', socket, 'status', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify(STATUS)}\n`);
    expect(JSON.parse(r.stdout)).toEqual(STATUS);
  });

  it('--config takes the socket from director.control_socket; --socket still wins', async () => {
    await serve();
    const config = join(dirname(socket), 'ipvsd.yaml');
    writeFileSync(config, `director:\n  control_socket: ${socket}\n`);
    let r = await ipvsctl(['--config', config, 'status', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(STATUS);
    r = await ipvsctl(['status', '--config', config, '--socket', `${socket}.nope`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${socket}.nope`);
  });

  it('text, with --socket after the subcommand too', async () => {
    await serve();
    const r = await ipvsctl(['status', '--socket', socket]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'virtual server web (tcp/203.0.113.100:80)  scheduler wrr  quorum 2, live weight 3\n',
    );
    expect(r.stdout).toMatch(
      / {2}198\.51\.100\.13:8080 +down +2 +- +no +failed 1000 ms: timed out after 1 s\n/,
    );
    expect(r.stdout).toContain('VI_client  MASTER  150');
  });

  it('no daemon: exit 2 with what to do, for a missing socket and for a stale one', async () => {
    let r = await ipvsctl(['--socket', socket, 'status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`ipvsctl: ipvsd is not running (no control socket at ${socket})\n`);
    expect(r.stdout).toBe('');
    const daemon = await otherDaemon(socket);
    daemon.kill('SIGKILL');
    await new Promise((resolvePromise) => daemon.on('exit', resolvePromise));
    expect((await stat(socket)).isSocket()).toBe(true);
    r = await ipvsctl(['--socket', socket, 'status', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`ipvsctl: ipvsd is not running (no control socket at ${socket})\n`);
  });
});

describe('ipvsctl reload, drain, undrain', () => {
  it('exit codes: 0 done, 1 refused by the daemon, 2 usage', async () => {
    const calls: string[] = [];
    await serve(handlers(calls));
    const S = ['--socket', socket];

    let r = await ipvsctl([...S, 'reload']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'reloaded\n', '']);
    r = await ipvsctl([...S, 'reload']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'ipvsctl: reload refused; the running config stays:\n/etc/ipvsd/ipvsd.yaml:7:15: scheduler "wrrr" is not one of rr, wrr\n',
    );

    r = await ipvsctl([...S, 'drain', 'tcp/203.0.113.100:80', '198.51.100.11:8080']);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      0,
      'drained 198.51.100.11:8080 in web (weight 0 until undrain)\n',
      '',
    ]);
    r = await ipvsctl([...S, 'drain', 'fwmark/9', '198.51.100.11:8080']);
    expect([r.code, r.stdout, r.stderr]).toEqual([1, '', 'ipvsctl: no virtual server "fwmark/9"\n']);
    r = await ipvsctl([...S, 'undrain', 'web', '[2001:db8::1]:80']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'undrained [2001:db8::1]:80 in web\n', '']);

    r = await ipvsctl([...S, 'drain', 'web']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'rs'");

    // The CLI passes VS and RS through untouched: the daemon resolves them.
    expect(calls).toEqual([
      'reload',
      'reload',
      'drain tcp/203.0.113.100:80 198.51.100.11:8080',
      'drain fwmark/9 198.51.100.11:8080',
      'undrain web [2001:db8::1]:80',
    ]);
  });

  it('without a daemon every command exits 2', async () => {
    for (const args of [
      ['reload'],
      ['drain', 'web', '198.51.100.11:8080'],
      ['undrain', 'web', '198.51.100.11:8080'],
    ]) {
      const r = await ipvsctl(['--socket', socket, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`ipvsctl: ipvsd is not running (no control socket at ${socket})\n`);
    }
  });
});

describe('the socket belongs to root', () => {
  it('directory 0700, socket 0600: nobody is turned away with a clear message', async () => {
    await serve();
    expect((await stat(join(base, 'run', 'ipvsd'))).mode & 0o7777).toBe(0o700);
    expect((await stat(socket)).mode & 0o7777).toBe(0o600);
    // Let nobody reach the directory, so the socket's own mode is what refuses.
    await chmod(base, 0o755);
    await chmod(join(base, 'run'), 0o755);
    const r = await ipvsctlAsNobody(['--socket', socket, 'status']);
    expect(r.stderr).toBe(`ipvsctl: permission denied on ${socket}: run as root\n`);
    expect(r.code).toBe(2);
  });

  it('a socket in a world-readable directory it did not create is still 0600', async () => {
    const dir = join(base, 'shared');
    await mkdir(dir, { mode: 0o755 });
    await chmod(base, 0o755);
    socket = join(dir, 'control.sock');
    await serve();
    expect((await stat(dir)).mode & 0o7777).toBe(0o755);
    expect((await stat(socket)).mode & 0o7777).toBe(0o600);
    const r = await ipvsctlAsNobody(['--socket', socket, 'status', '--json']);
    expect(r.stderr).toBe(`ipvsctl: permission denied on ${socket}: run as root\n`);
    expect(r.code).toBe(2);
  });
});

describe('one daemon per socket', () => {
  it('a live daemon in another process keeps its socket; once it is killed the socket is taken over', async () => {
    const daemon = await otherDaemon(socket);
    const server = createControlServer({ path: socket, handlers: handlers() });
    await expect(server.start()).rejects.toThrow(
      `another ipvsd is already running (it answers on ${socket})`,
    );
    let r = await ipvsctl(['--socket', socket, 'status', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ other: true });

    daemon.kill('SIGKILL');
    await new Promise((resolvePromise) => daemon.on('exit', resolvePromise));
    await server.start();
    servers.push(server);
    r = await ipvsctl(['--socket', socket, 'status', '--json']);
    expect(JSON.parse(r.stdout)).toEqual(STATUS);
  });

  it('malformed requests do not disturb the daemon', async () => {
    await serve();
    const garbage = await run(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').connect(${JSON.stringify(socket)});
         s.end('{"cmd":"rm -rf"}'); s.pipe(process.stdout);`,
      ],
      { cwd: PROJECT_ROOT },
    );
    expect(JSON.parse(garbage.stdout)).toEqual({
      ok: false,
      error: {
        code: 'IPVSD_ERR_USAGE',
        message:
          'unknown command "rm -rf" (known: status, reload, drain, undrain, failover, withdraw, announce)',
      },
    });
    const r = await ipvsctl(['--socket', socket, 'status', '--json']);
    expect(r.code).toBe(0);
  });
});
