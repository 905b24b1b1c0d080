import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsServer, type MetricsServer } from '../../../src/metrics/http.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import type { MetricsExposition } from '../../../src/metrics/types.js';
import type { ServiceState } from '../../../src/model/ipvs.js';
import { deferred, fakeTable, sample, serviceName } from '../../support/metrics.js';

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
