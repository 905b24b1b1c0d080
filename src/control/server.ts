/**
 * The daemon's control socket: a Unix stream socket, one JSON request line per connection, one JSON
 * response line, then the connection closes. Access control is the file system's: the socket is
 * created 0600 (umask around bind, then chmod before the first accept) inside a directory that is
 * 0700 when we make it, so only root (the daemon's user) can connect. A socket file left by a daemon
 * that died is replaced; one a live daemon answers on is not (two daemons on one kernel table would
 * fight). Nothing a client sends can crash the daemon: every callback here catches, and a handler's
 * failure becomes an error response.
 *
 * Clients are bounded so that none can take what VRRP, the checks and the scripts need: at most
 * `maxConnections` are served at once and the next ones wait in the kernel's backlog (not
 * accepted, so they hold no descriptor of ours: src/sys/capped-listener.ts); a connection has
 * `requestTimeoutMs` from its accept to deliver its request line — an absolute deadline, which
 * trickling bytes cannot push back — then the handler's timeout, then `RESPONSE_DRAIN_MS` to take
 * its answer; the request line is at most MAX_REQUEST_BYTES. So a slot is never held longer than
 * the sum, and a client waiting behind a full house is served within about
 * ceil(waiting ahead / maxConnections) × requestTimeoutMs when the others only trickle.
 */
import { chmodSync } from 'node:fs';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { IpvsdError } from '../errors.js';
import { type CappedListener, openCappedListener } from '../sys/capped-listener.js';
import type {
  AnnounceResult,
  ControlCommand,
  ControlErrorBody,
  ControlRequest,
  ControlResponse,
  DrainResult,
  FailoverResult,
  ReloadResult,
  StatusResult,
} from './protocol.js';
import { MAX_REQUEST_BYTES } from './protocol.js';
import { parseControlRequest } from './request.js';

/** What the daemon does for each command; the server only moves bytes and maps errors. */
export interface ControlHandlers {
  status(): Promise<StatusResult>;
  reload(): Promise<ReloadResult>;
  /** Throws IpvsdError('IPVSD_ERR_NOT_FOUND', …) for a VS or RS the running config does not have. */
  drain(vs: string, rs: string): Promise<DrainResult>;
  undrain(vs: string, rs: string): Promise<DrainResult>;
  /**
   * Hands a MASTER instance or sync group over (priority-0 advert, then BACKUP). Throws
   * IPVSD_ERR_NOT_FOUND for a name the running config does not have, IPVSD_ERR_USAGE when it is
   * not MASTER (nothing to hand over) or the daemon runs no VRRP.
   */
  failover(name: string): Promise<FailoverResult>;
  /**
   * Withdraws one announced VIP (`address`) or the node (null) until `announce`, through reloads and
   * restarts. Throws IPVSD_ERR_NOT_FOUND for an address no announced virtual server has.
   */
  withdraw(address: string | null): Promise<AnnounceResult>;
  announce(address: string | null): Promise<AnnounceResult>;
}

/** The part of a pino logger this module uses. */
export interface ControlLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ControlServerOptions {
  readonly path: string;
  readonly handlers: ControlHandlers;
  readonly logger?: ControlLogger;
  /**
   * How long after its accept a client may take to send its request line: absolute, not reset by
   * each byte. Default 2 s (ipvsctl sends its line at once).
   */
  readonly requestTimeoutMs?: number;
  /** How long a handler may take before the client gets a timeout error. Defaults: reload 30 s, others 10 s. */
  readonly handlerTimeoutMs?: Partial<Record<ControlCommand, number>>;
  /** Connections served at once; more wait in the kernel's backlog until one closes. Default 32. */
  readonly maxConnections?: number;
  /** The kernel's queue of connections not yet accepted (then connect() fails with EAGAIN). Default 511. */
  readonly backlog?: number;
}

export interface ControlServer {
  readonly path: string;
  /** Creates the directory and socket; rejects with IpvsdError('IPVSD_ERR_CONTROL') when it cannot. */
  start(): Promise<void>;
  /** Closes open connections, stops listening and removes the socket file. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_HANDLER_TIMEOUT_MS: Record<ControlCommand, number> = {
  status: 10_000,
  reload: 30_000,
  drain: 10_000,
  undrain: 10_000,
  failover: 10_000,
  withdraw: 10_000,
  announce: 10_000,
};

export const DEFAULT_MAX_CONTROL_CONNECTIONS = 32;
export const DEFAULT_CONTROL_REQUEST_TIMEOUT_MS = 2000;
/** After the answer is written, how long a client has to read it before the connection is cut. */
const RESPONSE_DRAIN_MS = 5000;

/** How long start() waits for an existing socket to answer before calling it dead. */
const PROBE_TIMEOUT_MS = 1000;

const silentLogger: ControlLogger = { debug() {}, info() {}, warn() {}, error() {} };

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Is something accepting connections on `path`? 'dead' means the file is a leftover. */
function probe(path: string): Promise<'live' | 'dead'> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      // Connected-but-silent cannot happen on a Unix socket; a connect that hangs means a daemon
      // too busy to accept, which is still a daemon.
      resolve('live');
    }, PROBE_TIMEOUT_MS);
    socket.on('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('live');
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      const code = errnoOf(err);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve('dead');
      // EAGAIN: the listener's backlog is full, so it is alive.
      else if (code === 'EAGAIN') resolve('live');
      else reject(err);
    });
  });
}

/**
 * An IpvsdError, also one from a second copy of errors.ts (two builds loaded in one process): the
 * stable `code` is the contract, not the class identity.
 */
function isIpvsdError(err: unknown): err is Error & { code: string } {
  if (err instanceof IpvsdError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && /^IPVSD_ERR_[A-Z_]+$/.test(code);
}

function errorBody(err: unknown): ControlErrorBody {
  if (isIpvsdError(err)) return { code: err.code, message: err.message };
  return { code: 'IPVSD_ERR_INTERNAL', message: `internal error: ${(err as Error)?.message ?? String(err)}` };
}

export function createControlServer(options: ControlServerOptions): ControlServer {
  const { path, handlers } = options;
  const log = options.logger ?? silentLogger;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_CONTROL_REQUEST_TIMEOUT_MS;
  const handlerTimeoutMs = { ...DEFAULT_HANDLER_TIMEOUT_MS, ...options.handlerTimeoutMs };
  let server: CappedListener | null = null;
  let starting = false;
  /** The inode we bound, so stop() never unlinks a socket some other process put there since. */
  let boundIno: number | null = null;

  async function prepareDirectory(): Promise<void> {
    const dir = dirname(path);
    let created: string | undefined;
    try {
      created = await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new IpvsdError(
        'IPVSD_ERR_CONTROL',
        `cannot create the control socket directory ${dir}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (created !== undefined) {
      // mkdir's mode passes through the umask; make it exactly 0700.
      await chmod(dir, 0o700);
      log.info({ dir }, 'control socket directory created');
      return;
    }
    const st = await lstat(dir);
    if (!st.isDirectory())
      throw new IpvsdError('IPVSD_ERR_CONTROL', `cannot use ${dir} for the control socket: not a directory`);
    if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0)
      log.warn({ dir, mode: (st.mode & 0o7777).toString(8) }, 'control socket directory is world-writable');
  }

  async function removeStaleSocket(): Promise<void> {
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(path);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw new IpvsdError('IPVSD_ERR_CONTROL', `cannot inspect ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!st.isSocket())
      throw new IpvsdError('IPVSD_ERR_CONTROL', `${path} exists and is not a socket; refusing to replace it`);
    let state: 'live' | 'dead';
    try {
      state = await probe(path);
    } catch (err) {
      throw new IpvsdError(
        'IPVSD_ERR_CONTROL',
        `cannot check the existing socket ${path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (state === 'live')
      throw new IpvsdError('IPVSD_ERR_CONTROL', `another ipvsd is already running (it answers on ${path})`);
    try {
      await unlink(path);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT')
        throw new IpvsdError(
          'IPVSD_ERR_CONTROL',
          `cannot remove the stale socket ${path}: ${(err as Error).message}`,
          { cause: err },
        );
    }
    log.info({ path }, 'stale control socket removed');
  }

  /** Binds and listens (0600 from birth where the umask can be set, chmod'ed before any accept). */
  function listen(): CappedListener {
    // The bind happens inside openCappedListener: with umask 0177 the socket file is born 0600.
    // process.umask() cannot be set in a worker thread; the chmod below (and the 0700 directory)
    // then carry the protection alone.
    let previous: number | null = null;
    try {
      previous = process.umask(0o177);
    } catch {
      previous = null;
    }
    let listener: CappedListener;
    try {
      listener = openCappedListener({
        endpoint: { path },
        maxConnections: options.maxConnections ?? DEFAULT_MAX_CONTROL_CONNECTIONS,
        backlog: options.backlog,
        allowHalfOpen: true,
        onConnection,
        onError: (err) => log.error({ err: err.message }, 'control server error'),
      });
    } catch (err) {
      const message =
        errnoOf(err) === 'EADDRINUSE'
          ? `another ipvsd is already running (it took ${path} while this one started)`
          : `cannot listen on ${path}: ${(err as Error).message}`;
      throw new IpvsdError('IPVSD_ERR_CONTROL', message, { cause: err });
    } finally {
      if (previous !== null) process.umask(previous);
    }
    try {
      // Synchronous, before the event loop polls the listener: before the first accept.
      chmodSync(path, 0o600);
    } catch (err) {
      listener.close();
      throw new IpvsdError('IPVSD_ERR_CONTROL', `cannot chmod ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return listener;
  }

  function respond(socket: Socket, response: ControlResponse): void {
    if (socket.destroyed || !socket.writable) return;
    let line: string;
    try {
      line = `${JSON.stringify(response)}\n`;
    } catch (err) {
      log.error({ err }, 'control response not serializable');
      line = `${JSON.stringify({ ok: false, error: errorBody(err) })}\n`;
    }
    // AF_UNIX delivers what was written before the close, so the client reads the whole line. A
    // client that does not read it loses the connection (and its slot) after RESPONSE_DRAIN_MS.
    socket.end(line, () => socket.destroy());
    setTimeout(() => socket.destroy(), RESPONSE_DRAIN_MS).unref();
  }

  async function dispatch(request: ControlRequest): Promise<unknown> {
    switch (request.cmd) {
      case 'status':
        return handlers.status();
      case 'reload':
        return handlers.reload();
      case 'drain':
        return handlers.drain(request.vs, request.rs);
      case 'undrain':
        return handlers.undrain(request.vs, request.rs);
      case 'failover':
        return handlers.failover(request.name);
      case 'withdraw':
        return handlers.withdraw(request.address ?? null);
      case 'announce':
        return handlers.announce(request.address ?? null);
    }
  }

  async function serve(socket: Socket, line: string): Promise<void> {
    const parsed = parseControlRequest(line);
    if (!parsed.ok) {
      log.warn({ reason: parsed.message }, 'control request refused');
      respond(socket, { ok: false, error: { code: 'IPVSD_ERR_USAGE', message: parsed.message } });
      return;
    }
    const request = parsed.request;
    const limitMs = handlerTimeoutMs[request.cmd];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new IpvsdError('IPVSD_ERR_CONTROL', `${request.cmd} did not finish within ${limitMs / 1000} s`),
          ),
        limitMs,
      );
    });
    try {
      const result = await Promise.race([dispatch(request), timeout]);
      respond(socket, { ok: true, result });
      log.debug({ cmd: request.cmd }, 'control request served');
    } catch (err) {
      if (!isIpvsdError(err)) log.error({ err, cmd: request.cmd }, 'control handler failed');
      else log.info({ cmd: request.cmd, code: err.code, reason: err.message }, 'control request failed');
      respond(socket, { ok: false, error: errorBody(err) });
    } finally {
      clearTimeout(timer);
    }
  }

  function onConnection(socket: Socket): void {
    socket.on('error', (err) => log.debug({ err: err.message }, 'control connection error'));
    const chunks: Buffer[] = [];
    let size = 0;
    let received = false;

    const refuse = (message: string) => {
      received = true;
      clearTimeout(deadline);
      log.warn({ reason: message }, 'control request refused');
      respond(socket, { ok: false, error: { code: 'IPVSD_ERR_USAGE', message } });
    };
    const accept = (line: string) => {
      received = true;
      clearTimeout(deadline);
      socket.pause();
      serve(socket, line).catch((err: unknown) => {
        log.error({ err }, 'control request crashed');
        socket.destroy();
      });
    };

    // From the accept, whatever arrives meanwhile: a trickling client cannot hold its slot longer.
    const deadline = setTimeout(() => {
      if (!received) refuse(`no request line within ${requestTimeoutMs / 1000} s`);
    }, requestTimeoutMs);
    socket.once('close', () => clearTimeout(deadline));
    socket.on('data', (chunk: Buffer) => {
      if (received) return;
      const nl = chunk.indexOf(0x0a);
      const part = nl === -1 ? chunk : chunk.subarray(0, nl);
      size += part.length;
      if (size > MAX_REQUEST_BYTES) {
        refuse(`request longer than ${MAX_REQUEST_BYTES} bytes`);
        return;
      }
      chunks.push(part);
      if (nl !== -1) accept(Buffer.concat(chunks).toString('utf8'));
    });
    // A client that half-closes without a newline (`printf … | socat`) still gets its answer.
    // A connection closed without a byte is a liveness probe (another ipvsd starting): no answer.
    socket.on('end', () => {
      if (received) return;
      if (size === 0) {
        received = true;
        clearTimeout(deadline);
        socket.destroy();
      } else accept(Buffer.concat(chunks).toString('utf8'));
    });
  }

  async function startListening(): Promise<void> {
    await prepareDirectory();
    await removeStaleSocket();
    const listener = listen();
    try {
      boundIno = (await lstat(path)).ino;
    } catch {
      boundIno = null;
    }
    server = listener;
    log.info({ path }, 'control socket listening');
  }

  return {
    path,
    async start() {
      if (server !== null || starting)
        throw new IpvsdError('IPVSD_ERR_CONTROL', `control server on ${path} already started`);
      starting = true;
      try {
        await startListening();
      } finally {
        starting = false;
      }
    },
    async stop() {
      const srv = server;
      if (srv === null) return;
      server = null;
      srv.close();
      // The listener was not bound by libuv, so closing it leaves the file: remove it if it is ours.
      try {
        const st = await lstat(path);
        if (boundIno !== null && st.ino === boundIno) await unlink(path);
      } catch {
        // Gone already: the normal case.
      }
      boundIno = null;
      log.info({ path }, 'control socket closed');
    },
  };
}
