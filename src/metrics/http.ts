/**
 * The metrics listener: GET /metrics renders one exposition per request (gzip when the scraper asks,
 * as Prometheus does), GET / says where the metrics are, anything else is 404 (405 for other methods).
 * A request handler never throws: a failed rendering is a 500 and a log line.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
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
    let body: string;
    try {
      body = await metrics.exposition();
    } catch (error) {
      logger?.warn({ err: error }, 'metrics rendering failed');
      send(res, 500, 'text/plain; charset=utf-8', 'metrics rendering failed\n', req.method === 'HEAD');
      return;
    }
    const acceptsGzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (acceptsGzip) {
      const compressed = await gzip(body);
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Vary', 'Accept-Encoding');
      send(res, 200, metrics.contentType, compressed, req.method === 'HEAD');
    } else {
      send(res, 200, metrics.contentType, body, req.method === 'HEAD');
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
