/**
 * The metrics listener: GET /metrics renders one exposition per request and streams it as it is
 * rendered (chunked; gzip when the scraper asks, as Prometheus does), so a scrape of thousands of
 * real servers never holds the whole text in memory. GET / says where the metrics are, anything
 * else is 404 (405 for other methods). A request handler never throws: a rendering that fails
 * before the first byte is a 500 and a log line; one that fails later cuts the response, which the
 * scraper sees as a failed scrape.
 *
 * Clients are bounded so that none can take what VRRP, the checks and the scripts need (anyone on
 * the host can connect to this port): at most `maxConnections` are served at once and the next
 * ones wait in the kernel's backlog, unaccepted, holding no descriptor of ours
 * (src/sys/capped-listener.ts); each connection carries one request (answered with `Connection:
 * close`), whose head must arrive within `requestTimeoutMs` of the accept and whose answer must be
 * sent within `responseTimeoutMs` of it — absolute deadlines, which trickling bytes cannot push
 * back; a request head over `maxRequestBytes` is refused (431); the body of a request is never
 * read. Node's own http timers are not used: they are checked only every 30 s.
 */
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { createGzip, gzip as gzipCallback } from 'node:zlib';
import { IpvsdError } from '../errors.js';
import { hostPort } from '../model/ipvs.js';
import { type CappedListener, openCappedListener } from '../sys/capped-listener.js';
import type { MetricsExposition, MetricsLogger } from './types.js';

const gzip = promisify(gzipCallback);

export interface MetricsServerOptions {
  /** An IPv4 or IPv6 address (brackets allowed: `[::1]`) or a host name. */
  readonly host: string;
  /** 0 picks a free port (tests); `address()` tells which. */
  readonly port: number;
  readonly metrics: MetricsExposition;
  readonly logger?: MetricsLogger;
  /** Connections served at once; more wait in the kernel's backlog. Default 16. */
  readonly maxConnections?: number;
  /** The kernel's queue of connections not yet accepted. Default 511. */
  readonly backlog?: number;
  /** From the accept to the end of the request head. Default 5 s. */
  readonly requestTimeoutMs?: number;
  /** From the accept to the last byte of the answer. Default 30 s. */
  readonly responseTimeoutMs?: number;
  /** The request line and headers, at most (more: 431). Default 8 KiB. */
  readonly maxRequestBytes?: number;
}

export const DEFAULT_MAX_METRICS_CONNECTIONS = 16;

export interface MetricsServer {
  /** Resolves once listening; rejects (IPVSD_ERR_USAGE, or _PERMISSION) when the address cannot be bound. */
  start(): Promise<{ host: string; port: number }>;
  /** Stops listening and closes open connections. Safe to call when not started. */
  stop(): Promise<void>;
  /** Where it listens, or null when not listening. */
  address(): { host: string; port: number } | null;
}

const INDEX_PAGE = 'ipvsd metrics exporter\n\nMetrics: /metrics\n';

export function createMetricsServer(options: MetricsServerOptions): MetricsServer {
  const host = options.host.replace(/^\[(.*)\]$/, '$1');
  const { metrics, logger } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  const responseTimeoutMs = options.responseTimeoutMs ?? 30_000;
  let listener: CappedListener | null = null;
  let starting = false;
  /** Each connection's request-head deadline, cleared when its request arrives. */
  const headDeadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const http = createServer({ maxHeaderSize: options.maxRequestBytes ?? 8192 }, handle);
  // One request per connection: pipelined ones get a 503 and the connection closes.
  http.maxRequestsPerSocket = 1;
  http.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && error.code === 'HPE_HEADER_OVERFLOW')
      socket.end(
        'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
    else if (socket.writable && error.code !== 'ECONNRESET')
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  function onConnection(socket: Socket): void {
    socket.on('error', () => {});
    const head = setTimeout(() => socket.destroy(), requestTimeoutMs);
    const whole = setTimeout(() => socket.destroy(), responseTimeoutMs);
    headDeadlines.set(socket, head);
    socket.once('close', () => {
      clearTimeout(head);
      clearTimeout(whole);
    });
    http.emit('connection', socket);
  }

  async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const acceptsGzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (req.method === 'HEAD') {
      await serveHead(res, acceptsGzip);
      return;
    }
    const chunks = metrics.expositionChunks()[Symbol.asyncIterator]();
    let next: IteratorResult<string>;
    try {
      next = await chunks.next();
    } catch (error) {
      renderingFailed(res, error, false);
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', metrics.contentType);
    let out: Writable = res;
    if (acceptsGzip) {
      setGzipHeaders(res);
      const gzipped = createGzip();
      gzipped.pipe(res);
      out = gzipped;
    }
    try {
      while (!next.done) {
        // Backpressure: a slow scraper holds the rendering, not megabytes of queued text.
        if (!out.write(next.value) && !(await drained(out, res))) {
          if (out !== res) out.destroy();
          await chunks.return?.();
          return;
        }
        next = await chunks.next();
      }
      out.end();
    } catch (error) {
      logger?.warn({ err: error }, 'metrics rendering failed');
      if (out !== res) out.destroy();
      res.destroy();
    }
  }

  /** A 500 for a scrape whose rendering failed before anything was sent (logged). */
  function renderingFailed(res: ServerResponse, error: unknown, headOnly: boolean): void {
    logger?.warn({ err: error }, 'metrics rendering failed');
    send(res, 500, 'text/plain; charset=utf-8', 'metrics rendering failed\n', headOnly);
  }

  /** HEAD: the headers a GET would get, with its length (rendered whole: scrapers do not HEAD). */
  async function serveHead(res: ServerResponse, acceptsGzip: boolean): Promise<void> {
    let body: string;
    try {
      body = await metrics.exposition();
    } catch (error) {
      renderingFailed(res, error, true);
      return;
    }
    if (acceptsGzip) {
      setGzipHeaders(res);
      send(res, 200, metrics.contentType, await gzip(body), true);
    } else {
      send(res, 200, metrics.contentType, body, true);
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    clearTimeout(headDeadlines.get(req.socket));
    res.setHeader('Connection', 'close');
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' && path !== '/') {
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics\n', req.method === 'HEAD');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false);
      return;
    }
    if (path === '/') {
      send(res, 200, 'text/plain; charset=utf-8', INDEX_PAGE, req.method === 'HEAD');
      return;
    }
    serveMetrics(req, res).catch((error: unknown) => {
      logger?.warn({ err: error }, 'metrics request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', false);
      else res.destroy();
    });
  }

  function address(): { host: string; port: number } | null {
    return listener?.address ?? null;
  }

  function bindError(error: unknown): IpvsdError {
    if (error instanceof IpvsdError) return error;
    const code =
      (error as NodeJS.ErrnoException).code === 'EACCES' ? 'IPVSD_ERR_PERMISSION' : 'IPVSD_ERR_USAGE';
    return new IpvsdError(
      code,
      `metrics listener on ${hostPort(host, options.port)}: ${(error as Error).message}`,
      { cause: error },
    );
  }

  return {
    async start(): Promise<{ host: string; port: number }> {
      if (listener !== null || starting)
        throw new IpvsdError('IPVSD_ERR_INTERNAL', 'metrics server already started');
      starting = true;
      try {
        let numeric: string;
        try {
          numeric = isIP(host) !== 0 ? host : (await lookup(host)).address;
        } catch (error) {
          throw bindError(error);
        }
        try {
          listener = openCappedListener({
            endpoint: { address: numeric, port: options.port },
            maxConnections: options.maxConnections ?? DEFAULT_MAX_METRICS_CONNECTIONS,
            backlog: options.backlog,
            onConnection,
            onError: (error) => logger?.warn({ err: error }, 'metrics listener error'),
          });
        } catch (error) {
          throw bindError(error);
        }
      } finally {
        starting = false;
      }
      const bound = address() ?? { host, port: options.port };
      logger?.info({ address: hostPort(bound.host, bound.port) }, 'metrics listener started');
      return bound;
    },

    async stop(): Promise<void> {
      const current = listener;
      listener = null;
      current?.close();
    },

    address,
  };
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headOnly: boolean,
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
  res.end(headOnly ? undefined : body);
}

function setGzipHeaders(res: ServerResponse): void {
  res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Vary', 'Accept-Encoding');
}

/** Waits until `out` takes more; false when the connection went away first. */
async function drained(out: Writable, res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return false;
  // The listener that loses the race is removed (abort), so long scrapes do not pile listeners up.
  const done = new AbortController();
  try {
    return await Promise.race([
      once(out, 'drain', { signal: done.signal }).then(() => true),
      once(res, 'close', { signal: done.signal }).then(() => false),
    ]);
  } finally {
    done.abort();
  }
}
