/**
 * The metrics listener: GET /metrics renders one exposition per request and streams it as it is
 * rendered (chunked; gzip when the scraper asks, as Prometheus does), so a scrape of thousands of
 * real servers never holds the whole text in memory. GET / says where the metrics are, anything
 * else is 404 (405 for other methods). A request handler never throws: a rendering that fails
 * before the first byte is a 500 and a log line; one that fails later cuts the response, which the
 * scraper sees as a failed scrape.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { createGzip, gzip as gzipCallback } from 'node:zlib';
import { IpvsdError } from '../errors.js';
import { hostPort } from '../model/ipvs.js';
import type { MetricsExposition, MetricsLogger } from './types.js';

const gzip = promisify(gzipCallback);

export interface MetricsServerOptions {
  /** An IPv4 or IPv6 address (brackets allowed: `[::1]`) or a host name. */
  readonly host: string;
  /** 0 picks a free port (tests); `address()` tells which. */
  readonly port: number;
  readonly metrics: MetricsExposition;
  readonly logger?: MetricsLogger;
}

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
  let server: Server | null = null;

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
    const bound = server?.address();
    if (!bound || typeof bound === 'string') return null;
    return { host: bound.address, port: bound.port };
  }

  return {
    start(): Promise<{ host: string; port: number }> {
      if (server)
        return Promise.reject(new IpvsdError('IPVSD_ERR_INTERNAL', 'metrics server already started'));
      const created = createServer(handle);
      // A scraper that stalls must not hold a socket for Node's default 5 minutes.
      created.headersTimeout = 10_000;
      created.requestTimeout = 30_000;
      server = created;
      return new Promise((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException): void => {
          server = null;
          const code = error.code === 'EACCES' ? 'IPVSD_ERR_PERMISSION' : 'IPVSD_ERR_USAGE';
          reject(
            new IpvsdError(code, `metrics listener on ${hostPort(host, options.port)}: ${error.message}`, {
              cause: error,
            }),
          );
        };
        created.once('error', onError);
        created.listen({ host, port: options.port }, () => {
          created.off('error', onError);
          created.on('error', (error) => logger?.warn({ err: error }, 'metrics listener error'));
          const bound = address() ?? { host, port: options.port };
          logger?.info({ address: hostPort(bound.host, bound.port) }, 'metrics listener started');
          resolve(bound);
        });
      });
    },

    stop(): Promise<void> {
      const current = server;
      server = null;
      if (!current) return Promise.resolve();
      return new Promise((resolve) => {
        current.close(() => resolve());
        current.closeAllConnections();
      });
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
