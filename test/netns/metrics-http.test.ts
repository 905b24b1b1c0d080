/**
 * The metrics endpoint over real TCP on loopback: content, gzip, streaming, failures, and bounded
 * clients (a connection cap that leaves connections in the backlog, absolute deadlines that
 * trickling bytes cannot push back, a request size cap). In the netns tier because the listener
 * is the native addon's (src/sys/capped-listener.ts).
 */
import { Agent, request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsServer, type MetricsServer } from '../../src/metrics/http.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { MetricsExposition } from '../../src/metrics/types.js';
import type { ServiceState } from '../../src/model/ipvs.js';
import { deferred, fakeTable, sample, serviceName } from '../support/metrics.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(
  host: string,
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; agent?: Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const started: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function serve(metrics: MetricsExposition, host = '127.0.0.1') {
  const server = createMetricsServer({ host, port: 0, metrics });
  started.push(server);
  const address = await server.start();
  return { server, ...address };
}

function fakeMetrics(dumpIpvs: () => Promise<readonly ServiceState[]> = async () => fakeTable()) {
  return createMetrics({ dumpIpvs, version: '1.2.3', serviceName }, { processMetrics: false });
}

/** Serves `metrics` with a logger that collects its warnings' messages; resolves with the port. */
async function serveLogging(metrics: MetricsExposition, warnings: string[]): Promise<number> {
  const server = createMetricsServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    logger: { info: () => {}, warn: (_o, msg) => warnings.push(msg) },
  });
  started.push(server);
  return (await server.start()).port;
}

describe('metrics HTTP endpoint', () => {
  it('serves /metrics with the registry content type', async () => {
    const metrics = fakeMetrics();
    const { port } = await serve(metrics);
    const reply = await get('127.0.0.1', port, '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(metrics.contentType);
    const text = reply.body.toString('utf8');
    expect(sample(text, 'ipvsd_ipvs_service_connections_total', { virtual_server: 'web' })).toBe(100);
    expect(sample(text, 'ipvsd_build_info')).toBe(1);
  });

  it('ignores a query string', async () => {
    const { port } = await serve(fakeMetrics());
    expect((await get('127.0.0.1', port, '/metrics?name[]=up')).status).toBe(200);
  });

  it('gzips when asked, as Prometheus asks', async () => {
    const { port } = await serve(fakeMetrics());
    const reply = await get('127.0.0.1', port, '/metrics', { headers: { 'accept-encoding': 'gzip' } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(reply.body).toString('utf8')).toContain('# TYPE ipvsd_build_info gauge');
  });

  it('has a small index page, 404 elsewhere and 405 for other methods', async () => {
    const { port } = await serve(fakeMetrics());
    const index = await get('127.0.0.1', port, '/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toContain('/metrics');
    expect((await get('127.0.0.1', port, '/nope')).status).toBe(404);
    const post = await get('127.0.0.1', port, '/metrics', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await get('127.0.0.1', port, '/metrics', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
  });

  it('listens on IPv6, with or without brackets', async () => {
    for (const host of ['::1', '[::1]']) {
      const { port, host: bound } = await serve(fakeMetrics(), host);
      expect(bound).toBe('::1');
      const reply = await get('::1', port, '/metrics');
      expect(reply.status).toBe(200);
    }
  });

  it('answers concurrent scrapes from one kernel dump', async () => {
    const pending = deferred<readonly ServiceState[]>();
    let calls = 0;
    const { port } = await serve(
      fakeMetrics(() => {
        calls += 1;
        return pending.promise;
      }),
    );
    const replies = Promise.all([1, 2, 3].map(() => get('127.0.0.1', port, '/metrics')));
    await new Promise((resolve) => setTimeout(resolve, 50));
    pending.resolve(fakeTable());
    for (const reply of await replies) {
      expect(reply.status).toBe(200);
      expect(
        sample(reply.body.toString(), 'ipvsd_ipvs_service_connections_total', { virtual_server: 'web' }),
      ).toBe(100);
    }
    expect(calls).toBe(1);
  });

  it('still answers 200 when the dump fails', async () => {
    const { port } = await serve(
      fakeMetrics(async () => {
        throw new Error('EPERM');
      }),
    );
    const reply = await get('127.0.0.1', port, '/metrics');
    expect(reply.status).toBe(200);
    expect(sample(reply.body.toString(), 'ipvsd_ipvs_scrape_errors_total')).toBe(1);
  });

  it('answers 500 (and keeps serving) when rendering throws', async () => {
    const warnings: string[] = [];
    let broken = true;
    const metrics: MetricsExposition = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      exposition: async () => {
        if (broken) throw new Error('boom');
        return 'up 1\n';
      },
      async *expositionChunks() {
        if (broken) throw new Error('boom');
        yield 'up 1\n';
      },
    };
    const port = await serveLogging(metrics, warnings);
    expect((await get('127.0.0.1', port, '/metrics')).status).toBe(500);
    expect(warnings).toEqual(['metrics rendering failed']);
    broken = false;
    expect((await get('127.0.0.1', port, '/metrics')).body.toString()).toBe('up 1\n');
  });

  it('streams a big exposition in pieces (chunked, no Content-Length), equal to the whole text', async () => {
    // 3,000 real servers: megabytes of text, sent as it is rendered rather than as one string.
    const services: ServiceState[] = [];
    for (let v = 0; v < 30; v++) {
      const [service] = fakeTable();
      if (!service) throw new Error('no fake service');
      services.push({
        ...service,
        key: { ...service.key, port: 1000 + v },
        destinations: Array.from({ length: 100 }, (_, i) => ({
          ...(service.destinations[0] as ServiceState['destinations'][number]),
          address: `198.51.100.${1 + (i % 200)}`,
          port: 2000 + i,
        })),
      });
    }
    const metrics = fakeMetrics(async () => services);
    const { port } = await serve(metrics);
    const plain = await get('127.0.0.1', port, '/metrics');
    expect(plain.status).toBe(200);
    expect(plain.headers['transfer-encoding']).toBe('chunked');
    expect(plain.headers['content-length']).toBeUndefined();
    const whole = await metrics.exposition();
    expect(whole.length).toBeGreaterThan(1_000_000);
    expect(plain.body.toString('utf8')).toBe(whole);
    const gzipped = await get('127.0.0.1', port, '/metrics', { headers: { 'accept-encoding': 'gzip' } });
    expect(gunzipSync(gzipped.body).toString('utf8')).toBe(whole);
    let pieces = 0;
    for await (const _ of metrics.expositionChunks()) pieces++;
    expect(pieces).toBeGreaterThan(10);
  });

  it('cuts the response (and keeps serving) when rendering fails after the first piece', async () => {
    const warnings: string[] = [];
    let broken = true;
    const metrics: MetricsExposition = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      exposition: async () => 'up 1\n',
      async *expositionChunks() {
        yield 'up 1\n';
        if (broken) throw new Error('boom');
        yield 'down 0\n';
      },
    };
    const port = await serveLogging(metrics, warnings);
    await expect(get('127.0.0.1', port, '/metrics')).rejects.toThrow();
    expect(warnings).toEqual(['metrics rendering failed']);
    broken = false;
    expect((await get('127.0.0.1', port, '/metrics')).body.toString()).toBe('up 1\ndown 0\n');
  });

  it('refuses an address in use with a clear error', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const server = createMetricsServer({ host: '127.0.0.1', port, metrics: fakeMetrics() });
      await expect(server.start()).rejects.toMatchObject({
        code: 'IPVSD_ERR_USAGE',
        message: expect.stringContaining(`127.0.0.1:${port}`),
      });
      expect(server.address()).toBeNull();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('stops, closing keep-alive connections, and can stop twice', async () => {
    const { server, port } = await serve(fakeMetrics());
    expect(server.address()).toEqual({ host: '127.0.0.1', port });
    const agent = new Agent({ keepAlive: true });
    await get('127.0.0.1', port, '/metrics', { agent });
    const begun = Date.now();
    await server.stop(); // does not wait for the idle keep-alive connection to time out
    expect(Date.now() - begun).toBeLessThan(1000);
    agent.destroy();
    await server.stop();
    expect(server.address()).toBeNull();
    await expect(get('127.0.0.1', port, '/metrics')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('metrics HTTP endpoint: bounded clients', () => {
  function open(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
      socket.on('error', reject);
    });
  }

  /** Everything the server sends on `socket` until it closes, and when it closed. */
  function collect(socket: Socket): Promise<{ text: string; closedAt: number; reset: boolean }> {
    return new Promise((resolve) => {
      let text = '';
      let reset = false;
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => {
        text += d;
      });
      socket.on('error', () => {
        reset = true;
      });
      socket.once('close', () => resolve({ text, closedAt: performance.now(), reset }));
    });
  }

  async function serveBounded(extra: Record<string, number>) {
    const server = createMetricsServer({ host: '127.0.0.1', port: 0, metrics: fakeMetrics(), ...extra });
    started.push(server);
    return (await server.start()).port;
  }

  it('past the cap, connections wait in the backlog and are served once others close', async () => {
    const port = await serveBounded({ maxConnections: 3, requestTimeoutMs: 30_000 });
    const holders = await Promise.all([open(port), open(port), open(port)]);
    await new Promise((r) => setTimeout(r, 200));
    const waiting = await open(port);
    const result = collect(waiting);
    waiting.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    const early = await Promise.race([result, new Promise((r) => setTimeout(() => r('pending'), 500))]);
    // Connected (the kernel completed the handshake into the backlog), neither served nor reset.
    expect(early).toBe('pending');
    holders[0]?.destroy();
    const { text, reset } = await result;
    expect(reset).toBe(false);
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('ipvsd_build_info');
    for (const h of holders) h.destroy();
  });

  it('a client trickling one byte every 200 ms is cut at the absolute deadline; a scrape then works', async () => {
    const requestTimeoutMs = 1000;
    const port = await serveBounded({ requestTimeoutMs });
    const socket = await open(port);
    const openedAt = performance.now();
    const result = collect(socket);
    const request = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}`;
    let i = 0;
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(request[i++ % request.length] ?? 'a');
    }, 200);
    const { text, closedAt } = await result;
    clearInterval(timer);
    expect(text).toBe('');
    expect(closedAt - openedAt).toBeGreaterThanOrEqual(requestTimeoutMs - 50);
    expect(closedAt - openedAt).toBeLessThan(requestTimeoutMs + 500);
    expect((await get('127.0.0.1', port, '/metrics')).status).toBe(200);
  });

  it('a request head over the size cap is refused with 431; a scrape then works', async () => {
    const port = await serveBounded({ maxRequestBytes: 4096 });
    const socket = await open(port);
    const result = collect(socket);
    socket.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(6000)}\r\n\r\n`);
    const { text } = await result;
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    expect((await get('127.0.0.1', port, '/metrics')).status).toBe(200);
  });
});
