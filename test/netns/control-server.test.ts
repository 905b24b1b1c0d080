/**
 * The control server and client over a real Unix socket in a temp directory: permissions, stale
 * and live sockets, malformed requests, handler failures, timeouts, and bounded clients (the cap
 * leaves connections in the backlog; trickling clients are cut at an absolute deadline). In the
 * netns tier because the listener is the native addon's (src/sys/capped-listener.ts).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controlRequest } from '../../src/control/client.js';
import type { ControlResponse, DrainResult } from '../../src/control/protocol.js';
import { MAX_REQUEST_BYTES } from '../../src/control/protocol.js';
import { type ControlHandlers, type ControlServer, createControlServer } from '../../src/control/server.js';
import { IpvsdError } from '../../src/errors.js';
import { STATUS } from '../support/status-fixture.js';

let base: string;
const servers: ControlServer[] = [];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'ipvsd-control-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  await rm(base, { recursive: true, force: true });
});

interface FakeHandlers extends ControlHandlers {
  calls: string[];
}

function fakeHandlers(overrides: Partial<ControlHandlers> = {}): FakeHandlers {
  const calls: string[] = [];
  return {
    calls,
    status: async () => {
      calls.push('status');
      return STATUS;
    },
    reload: async () => {
      calls.push('reload');
      return { reloaded: true, errors: [] };
    },
    drain: async (vs, rs) => {
      calls.push(`drain ${vs} ${rs}`);
      if (vs !== 'web') throw new IpvsdError('IPVSD_ERR_NOT_FOUND', `no virtual server "${vs}"`);
      return { vs, rs, drained: true };
    },
    undrain: async (vs, rs) => {
      calls.push(`undrain ${vs} ${rs}`);
      return { vs, rs, drained: false };
    },
    failover: async (name) => {
      calls.push(`failover ${name}`);
      if (name !== 'VG1') throw new IpvsdError('IPVSD_ERR_USAGE', `${name} is BACKUP, not MASTER`);
      return { name, kind: 'sync_group', previous: 'MASTER', state: 'BACKUP' };
    },
    ...overrides,
  };
}

async function started(
  path: string,
  handlers: ControlHandlers = fakeHandlers(),
  extra: Partial<Parameters<typeof createControlServer>[0]> = {},
): Promise<ControlServer> {
  const server = createControlServer({ path, handlers, ...extra });
  await server.start();
  servers.push(server);
  return server;
}

/** Writes raw bytes (optionally half-closing) and returns everything the server sends until it closes. */
function raw(path: string, bytes: string | Buffer, options: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = createConnection({ path }, () => {
      if (options.end) socket.end(bytes);
      else socket.write(bytes);
    });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    // The server may close before reading all of an oversized request: what it said still counts.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (text === '') reject(err);
    });
    socket.on('close', () => resolve(text));
  });
}

function parse(text: string): ControlResponse {
  expect(text.endsWith('\n')).toBe(true);
  expect(text.indexOf('\n')).toBe(text.length - 1);
  return JSON.parse(text) as ControlResponse;
}

/** A socket file nobody listens on: a daemon killed with SIGKILL leaves exactly this. */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  await new Promise((resolve) => child.on('exit', resolve));
  expect((await stat(path)).isSocket()).toBe(true);
}

const mode = async (p: string) => (await stat(p)).mode & 0o7777;

describe('control server', () => {
  it('answers status, reload, drain, undrain and failover', async () => {
    const path = join(base, 'run', 'control.sock');
    const handlers = fakeHandlers();
    await started(path, handlers);
    expect(await controlRequest(path, { cmd: 'status' })).toEqual({ ok: true, result: STATUS });
    expect(await controlRequest(path, { cmd: 'reload' })).toEqual({
      ok: true,
      result: { reloaded: true, errors: [] },
    });
    const drained: ControlResponse<DrainResult> = await controlRequest(path, {
      cmd: 'drain',
      vs: 'web',
      rs: '[2001:db8::1]:80',
    });
    expect(drained).toEqual({ ok: true, result: { vs: 'web', rs: '[2001:db8::1]:80', drained: true } });
    expect(await controlRequest(path, { cmd: 'undrain', vs: 'web', rs: '198.51.100.11:8080' })).toEqual({
      ok: true,
      result: { vs: 'web', rs: '198.51.100.11:8080', drained: false },
    });
    expect(await controlRequest(path, { cmd: 'failover', name: 'VG1' })).toEqual({
      ok: true,
      result: { name: 'VG1', kind: 'sync_group', previous: 'MASTER', state: 'BACKUP' },
    });
    expect(await controlRequest(path, { cmd: 'failover', name: 'VI_1' })).toEqual({
      ok: false,
      error: { code: 'IPVSD_ERR_USAGE', message: 'VI_1 is BACKUP, not MASTER' },
    });
    expect(handlers.calls).toEqual([
      'status',
      'reload',
      'drain web [2001:db8::1]:80',
      'undrain web 198.51.100.11:8080',
      'failover VG1',
      'failover VI_1',
    ]);
  });

  it('creates the directory 0700 and the socket 0600, whatever the umask', async () => {
    const path = join(base, 'run', 'ipvsd', 'control.sock');
    let previous: number | null = null;
    try {
      previous = process.umask(0);
    } catch {
      // A worker thread cannot set the umask; the modes must hold anyway.
    }
    try {
      await started(path);
    } finally {
      if (previous !== null) process.umask(previous);
    }
    expect(await mode(join(base, 'run', 'ipvsd'))).toBe(0o700);
    expect(await mode(path)).toBe(0o600);
    expect((await stat(path)).isSocket()).toBe(true);
  });

  it('leaves the mode of a directory it did not create', async () => {
    const dir = join(base, 'existing');
    await mkdir(dir, { mode: 0o755 });
    const path = join(dir, 'control.sock');
    await started(path);
    expect(await mode(dir)).toBe(0o755);
    expect(await mode(path)).toBe(0o600);
  });

  it('stop() closes open connections and removes the socket; start() works again', async () => {
    const path = join(base, 'control.sock');
    const server = await started(path);
    // A client that connects and says nothing must not keep stop() waiting.
    const idle = createConnection({ path });
    idle.on('error', () => {});
    await new Promise((resolve) => idle.on('connect', resolve));
    const closed = new Promise((resolve) => idle.on('close', resolve));
    await server.stop();
    await closed;
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await server.stop();
    await server.start();
    expect((await controlRequest(path, { cmd: 'status' })).ok).toBe(true);
  });

  it('replaces a stale socket left by a dead daemon', async () => {
    const path = join(base, 'control.sock');
    await staleSocket(path);
    await expect(controlRequest(path, { cmd: 'status' })).rejects.toThrow('ipvsd is not running');
    await started(path);
    expect(await mode(path)).toBe(0o600);
    expect((await controlRequest(path, { cmd: 'status' })).ok).toBe(true);
  });

  it('refuses to start while another daemon answers on the socket, which keeps serving', async () => {
    const path = join(base, 'control.sock');
    await started(path);
    const second = createControlServer({ path, handlers: fakeHandlers() });
    await expect(second.start()).rejects.toThrow(`another ipvsd is already running (it answers on ${path})`);
    await expect(second.start()).rejects.toMatchObject({ code: 'IPVSD_ERR_CONTROL' });
    expect(await controlRequest(path, { cmd: 'status' })).toEqual({ ok: true, result: STATUS });
    await second.stop();
    expect((await stat(path)).isSocket()).toBe(true);
  });

  it('refuses to replace a file that is not a socket', async () => {
    const path = join(base, 'control.sock');
    await writeFile(path, 'precious');
    const server = createControlServer({ path, handlers: fakeHandlers() });
    await expect(server.start()).rejects.toThrow(
      `${path} exists and is not a socket; refusing to replace it`,
    );
    expect((await stat(path)).isFile()).toBe(true);
  });

  it('answers malformed requests with IPVSD_ERR_USAGE and keeps serving', async () => {
    const path = join(base, 'control.sock');
    const handlers = fakeHandlers();
    await started(path, handlers);
    const cases: [string | Buffer, { end?: boolean }, string | RegExp][] = [
      ['not json\n', {}, /^request is not valid JSON/],
      [
        '{"cmd":"flush"}\n',
        {},
        'unknown command "flush" (known: status, reload, drain, undrain, failover, withdraw, announce)',
      ],
      ['{"cmd":"drain","vs":"web"}\n', {}, '"drain" needs "rs"'],
      ['[1,2]\n', {}, 'request must be a JSON object like {"cmd":"status"}'],
      ['\n', {}, 'empty request: send one JSON object and a newline'],
      [Buffer.from([0xff, 0xfe, 0x0a]), {}, /^request is not valid JSON/],
      // Over the limit, with or without a newline ever coming.
      ['x'.repeat(MAX_REQUEST_BYTES + 1), {}, `request longer than ${MAX_REQUEST_BYTES} bytes`],
      [`${'x'.repeat(MAX_REQUEST_BYTES + 10)}\n`, {}, `request longer than ${MAX_REQUEST_BYTES} bytes`],
      ['{"cmd":"nope"}', { end: true }, /^unknown command "nope"/],
    ];
    for (const [bytes, options, message] of cases) {
      const response = parse(await raw(path, bytes, options));
      expect(response).toMatchObject({ ok: false, error: { code: 'IPVSD_ERR_USAGE' } });
      if (!response.ok) expect(response.error.message).toMatch(message);
    }
    // A request line of exactly the limit is read (and refused only for what it says).
    const padded = `{"cmd":"status","pad":"${'p'.repeat(MAX_REQUEST_BYTES - 25)}"}`;
    expect(Buffer.byteLength(padded)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(parse(await raw(path, `${padded}\n`))).toEqual({ ok: true, result: STATUS });
    // Half-closed without a newline is still a request; bytes after the newline are ignored.
    expect(parse(await raw(path, '{"cmd":"status"}', { end: true }))).toEqual({ ok: true, result: STATUS });
    expect(parse(await raw(path, '{"cmd":"reload"}\n{"cmd":"reload"}\n'))).toMatchObject({ ok: true });
    expect(handlers.calls).toEqual(['status', 'status', 'reload']);
  });

  it('a client that connects and says nothing gets an error after the request timeout', async () => {
    const path = join(base, 'control.sock');
    await started(path, fakeHandlers(), { requestTimeoutMs: 100 });
    expect(parse(await raw(path, ''))).toEqual({
      ok: false,
      error: { code: 'IPVSD_ERR_USAGE', message: 'no request line within 0.1 s' },
    });
    expect(parse(await raw(path, '{"cmd":"sta'))).toMatchObject({
      ok: false,
      error: { code: 'IPVSD_ERR_USAGE' },
    });
  });

  it('maps handler failures: IpvsdError keeps its code, anything else is internal, slow ones time out', async () => {
    const path = join(base, 'control.sock');
    await started(
      path,
      fakeHandlers({
        status: async () => {
          throw new TypeError("Cannot read properties of undefined (reading 'x')");
        },
        reload: () => new Promise(() => {}),
        undrain: () => {
          throw new IpvsdError('IPVSD_ERR_NOT_FOUND', 'no real server 198.51.100.99:80 in web');
        },
      }),
      { handlerTimeoutMs: { reload: 100 } },
    );
    expect(await controlRequest(path, { cmd: 'drain', vs: 'nope', rs: '198.51.100.11:8080' })).toEqual({
      ok: false,
      error: { code: 'IPVSD_ERR_NOT_FOUND', message: 'no virtual server "nope"' },
    });
    expect(await controlRequest(path, { cmd: 'undrain', vs: 'web', rs: '198.51.100.99:80' })).toEqual({
      ok: false,
      error: { code: 'IPVSD_ERR_NOT_FOUND', message: 'no real server 198.51.100.99:80 in web' },
    });
    expect(await controlRequest(path, { cmd: 'status' })).toEqual({
      ok: false,
      error: {
        code: 'IPVSD_ERR_INTERNAL',
        message: "internal error: Cannot read properties of undefined (reading 'x')",
      },
    });
    expect(await controlRequest(path, { cmd: 'reload' })).toEqual({
      ok: false,
      error: { code: 'IPVSD_ERR_CONTROL', message: 'reload did not finish within 0.1 s' },
    });
  });

  it('an error from another copy of errors.ts keeps its code; an errno code is not mistaken for one', async () => {
    const path = join(base, 'control.sock');
    await started(
      path,
      fakeHandlers({
        drain: async () => {
          throw Object.assign(new Error('no virtual server "x"'), { code: 'IPVSD_ERR_NOT_FOUND' });
        },
        undrain: async () => {
          throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
        },
      }),
    );
    expect(await controlRequest(path, { cmd: 'drain', vs: 'x', rs: 'y' })).toEqual({
      ok: false,
      error: { code: 'IPVSD_ERR_NOT_FOUND', message: 'no virtual server "x"' },
    });
    expect(await controlRequest(path, { cmd: 'undrain', vs: 'x', rs: 'y' })).toEqual({
      ok: false,
      error: { code: 'IPVSD_ERR_INTERNAL', message: 'internal error: ENOENT: no such file' },
    });
  });

  it('a result that cannot be serialized is an internal error, not a crash', async () => {
    const path = join(base, 'control.sock');
    await started(
      path,
      fakeHandlers({ status: async () => ({ ...STATUS, config: { file: 1n } }) as unknown as typeof STATUS }),
    );
    expect(await controlRequest(path, { cmd: 'status' })).toMatchObject({
      ok: false,
      error: { code: 'IPVSD_ERR_INTERNAL' },
    });
    expect((await controlRequest(path, { cmd: 'reload' })).ok).toBe(true);
  });

  it('serves many clients at once', async () => {
    const path = join(base, 'control.sock');
    await started(path);
    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        i % 2 === 0
          ? controlRequest(path, { cmd: 'status' })
          : controlRequest(path, { cmd: 'drain', vs: 'web', rs: `198.51.100.${i}:80` }),
      ),
    );
    expect(answers.every((a) => a.ok)).toBe(true);
  });
});

describe('control server: bounded clients', () => {
  /** A connection that sends one byte of a request line every `everyMs` and never finishes it. */
  function trickler(path: string, everyMs: number): { socket: Socket; closed: Promise<number> } {
    const socket = createConnection({ path });
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      const connectedAt = performance.now();
      timer = setInterval(() => socket.write('{'), everyMs);
      socket.once('close', () => clearInterval(timer));
      socket.emit('connectedAt', connectedAt);
    });
    socket.on('error', () => {});
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
    return { socket, closed };
  }

  it('past the cap, connections wait in the backlog (not accepted and closed) and are served when a slot frees', async () => {
    const path = join(base, 'control.sock');
    const handlers = fakeHandlers();
    await started(path, handlers, { maxConnections: 2, requestTimeoutMs: 30_000 });
    const holders = [createConnection({ path }), createConnection({ path })];
    await Promise.all(holders.map((h) => new Promise((r) => h.once('connect', r))));
    // Give the server time to accept both (it then stops accepting).
    await new Promise((r) => setTimeout(r, 200));

    const waiting = createConnection({ path });
    let answer = '';
    let closedEarly = false;
    waiting.setEncoding('utf8');
    waiting.on('data', (d: string) => {
      answer += d;
    });
    waiting.on('close', () => {
      if (answer === '') closedEarly = true;
    });
    await new Promise((r) => waiting.once('connect', r));
    waiting.write('{"cmd":"status"}\n');
    await new Promise((r) => setTimeout(r, 500));
    // Connected (the kernel queued it), not closed, and not served: the server did not accept it.
    expect(closedEarly).toBe(false);
    expect(answer).toBe('');
    expect(handlers.calls).toEqual([]);

    holders[0]?.destroy();
    const servedAt = performance.now();
    await new Promise((r) => waiting.once('close', r));
    expect(parse(answer)).toMatchObject({ ok: true });
    expect(performance.now() - servedAt).toBeLessThan(2000);
    holders[1]?.destroy();
  });

  it('40 clients trickling a byte every 200 ms (and reconnecting) hold no slot past the deadline: status answers', async () => {
    const path = join(base, 'control.sock');
    const requestTimeoutMs = 1000;
    await started(path, fakeHandlers(), { maxConnections: 32, requestTimeoutMs });
    let running = true;
    const cuts: number[] = [];
    const keep = (): void => {
      if (!running) return;
      const t = trickler(path, 200);
      let connectedAt = 0;
      t.socket.once('connectedAt', (at: number) => {
        connectedAt = at;
      });
      void t.closed.then((at) => {
        if (connectedAt > 0) cuts.push(at - connectedAt);
        keep();
      });
    };
    for (let i = 0; i < 40; i++) keep();
    await new Promise((r) => setTimeout(r, 300));
    try {
      const asked = performance.now();
      const answer = await controlRequest(path, { cmd: 'status' }, { timeoutMs: 10_000 });
      const tookMs = performance.now() - asked;
      expect(answer.ok).toBe(true);
      // The bound: every slot is freed within requestTimeoutMs of its accept, and the reconnecting
      // tricklers queue behind us: two deadlines at worst.
      expect(tookMs).toBeLessThan(2 * requestTimeoutMs + 1000);
    } finally {
      running = false;
    }
    await new Promise((r) => setTimeout(r, requestTimeoutMs + 500));
    // Trickling did not extend the deadline: each trickler was cut about requestTimeoutMs after
    // its accept (measured from the connect, which may precede the accept while it waited).
    expect(cuts.length).toBeGreaterThanOrEqual(32);
    const first32 = cuts.slice(0, 32);
    expect(Math.min(...first32)).toBeGreaterThanOrEqual(requestTimeoutMs - 50);
    expect(Math.max(...first32)).toBeLessThan(requestTimeoutMs + 800);
  });
});

describe('control client', () => {
  it('no socket, or a stale one: ipvsd is not running', async () => {
    const path = join(base, 'control.sock');
    const message = `ipvsd is not running (no control socket at ${path})`;
    await expect(controlRequest(path, { cmd: 'status' })).rejects.toThrow(message);
    await expect(controlRequest(join(base, 'missing', 'x.sock'), { cmd: 'status' })).rejects.toMatchObject({
      code: 'IPVSD_ERR_CONTROL',
    });
    await staleSocket(path);
    await expect(controlRequest(path, { cmd: 'status' })).rejects.toThrow(message);
    await writeFile(join(base, 'file'), '');
    await expect(controlRequest(join(base, 'file'), { cmd: 'status' })).rejects.toThrow(
      'ipvsd is not running',
    );
  });

  it('a daemon that does not answer in time', async () => {
    const path = join(base, 'control.sock');
    await started(path, fakeHandlers({ status: () => new Promise(() => {}) }));
    await expect(controlRequest(path, { cmd: 'status' }, { timeoutMs: 100 })).rejects.toThrow(
      `ipvsd did not answer on ${path} within 0.1 s`,
    );
  });

  describe('against something that is not ipvsd', () => {
    let other: Server;
    afterEach(() => new Promise<void>((resolve) => other.close(() => resolve())));

    async function listen(path: string, reply: (socket: import('node:net').Socket) => void): Promise<void> {
      other = createServer((socket) => {
        socket.once('data', () => reply(socket));
        socket.on('error', () => {});
      });
      await new Promise<void>((resolve) => other.listen(path, resolve));
    }

    it.each([
      [
        'garbage',
        (s: import('node:net').Socket) => s.end('hello\n'),
        'malformed response from ipvsd on PATH: not JSON',
      ],
      [
        'a wrong envelope',
        (s: import('node:net').Socket) => s.end('{"ok":"yes"}\n'),
        'malformed response from ipvsd on PATH',
      ],
      [
        'silence and close',
        (s: import('node:net').Socket) => s.end(),
        'ipvsd closed the connection on PATH without answering',
      ],
    ])('%s', async (_name, reply, message) => {
      const path = join(base, 'other.sock');
      await listen(path, reply);
      await expect(controlRequest(path, { cmd: 'status' })).rejects.toThrow(message.replace('PATH', path));
    });

    it('a response without its newline is accepted at the close', async () => {
      const path = join(base, 'other.sock');
      await listen(path, (s) => s.end('{"ok":true,"result":{"reloaded":true,"errors":[]}}'));
      expect(await controlRequest(path, { cmd: 'reload' })).toEqual({
        ok: true,
        result: { reloaded: true, errors: [] },
      });
    });
  });
});
